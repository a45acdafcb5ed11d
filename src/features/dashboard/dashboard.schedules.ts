/**
 * The dashboard's planned maintenance (schedules): the list, create, edit, marking one started or
 * complete, delete. Every change goes through the schedules service, checked against the API's
 * body schemas; times are entered and shown in UTC.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatCachetTime, toStoredTime } from '../../infra/time.js';
import { CreateScheduleBody, SCHEDULE_STATUS_NAMES, UpdateScheduleBody } from '../schedules/schedules.schema.js';
import type { SchedulesService } from '../schedules/schedules.service.js';
import { DASHBOARD_ZONE, bodyChecker, form, localInput, notFound, pageOf, pagerOf, sentValues, submit, type FormValues, type Input } from './dashboard.content-forms.js';
import { field, idParam, type Kit } from './dashboard.kit.js';

export interface SchedulePagesDeps {
  schedules: SchedulesService;
}

const checkSchedule = bodyChecker(CreateScheduleBody);
const checkScheduleChange = bodyChecker(UpdateScheduleBody);

const SCHEDULE_FIELDS = ['name', 'message', 'status', 'scheduled_at', 'completed_at'] as const;
const COMPLETE = 2;

/** The whole schedule as the form sends it; on an edit a blank completion time clears it. */
function scheduleInput(body: unknown, editing: boolean): Input {
  return {
    name: form.text(body, 'name'),
    message: form.multiline(body, 'message'),
    status: form.integer(body, 'status'),
    scheduled_at: form.text(body, 'scheduled_at'),
    completed_at: editing ? form.text(body, 'completed_at') : form.optional(body, 'completed_at'),
  };
}

/** The maintenance page group (section `schedules`). */
export function schedulePages({ schedules }: SchedulePagesDeps) {
  return (app: FastifyInstance, kit: Kit): void => {
    const { db } = kit;
    const statuses = SCHEDULE_STATUS_NAMES.map((label, value) => ({ value, label }));

    const scheduleForm = (request: FastifyRequest, reply: FastifyReply, id: number | null, values: FormValues, errors: string[] = [], status = 200) =>
      kit.html(request, reply, 'schedule-form', { title: id === null ? 'Schedule maintenance' : 'Edit maintenance', section: 'schedules', id, values, errors, statuses }, status);

    app.get('/dashboard/schedules', { schema: { hide: true } }, async (request, reply) => {
      const page = pageOf(request, 'scheduled_at', 'desc');
      const list = await schedules.list(db, page, DASHBOARD_ZONE);
      return kit.html(request, reply, 'schedules', { title: 'Maintenance', section: 'schedules', schedules: list.items, pager: pagerOf(page, list.total, '/dashboard/schedules') });
    });

    app.get('/dashboard/schedules/new', { schema: { hide: true } }, async (request, reply) =>
      scheduleForm(request, reply, null, { name: '', message: '', status: '0', scheduled_at: '', completed_at: '' }),
    );

    app.post('/dashboard/schedules', { schema: { hide: true } }, async (request, reply) => {
      const result = await submit(checkSchedule(scheduleInput(request.body, false)), (input) => kit.act(request, (trx) => schedules.create(trx, input, DASHBOARD_ZONE)));
      if (!result.ok) return scheduleForm(request, reply, null, sentValues(request.body, SCHEDULE_FIELDS), result.errors, 400);
      return kit.done(reply, '/dashboard/schedules', { kind: 'ok', text: `Maintenance “${result.value.name}” scheduled.` });
    });

    app.get('/dashboard/schedules/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const schedule = id === null ? null : await schedules.show(db, id, DASHBOARD_ZONE);
      if (!schedule) return notFound(kit, request, reply, 'schedules.show', 'schedules', id);
      return scheduleForm(request, reply, schedule.id, {
        name: schedule.name,
        message: schedule.message,
        status: String(schedule.status),
        scheduled_at: localInput(schedule.scheduled_at),
        completed_at: localInput(schedule.completed_at),
      });
    });

    app.post('/dashboard/schedules/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      if (id === null) return notFound(kit, request, reply, 'schedules.update', 'schedules', null);
      const result = await submit(checkScheduleChange(scheduleInput(request.body, true)), (input) => kit.act(request, (trx) => schedules.update(trx, id, input, DASHBOARD_ZONE)));
      if (!result.ok) return scheduleForm(request, reply, id, sentValues(request.body, SCHEDULE_FIELDS), result.errors, 400);
      if (!result.value) return notFound(kit, request, reply, 'schedules.update', 'schedules', id);
      return kit.done(reply, '/dashboard/schedules', { kind: 'ok', text: `Maintenance “${result.value.after.name}” saved.` });
    });

    // Marks a schedule upcoming, in progress or complete; completing one without a completion time stamps it now.
    app.post('/dashboard/schedules/:id/status', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const current = id === null ? null : await schedules.show(db, id, DASHBOARD_ZONE);
      if (id === null || !current) return notFound(kit, request, reply, 'schedules.update', 'schedules', id);
      const status = form.integer(request.body, 'status');
      const completedAt = status === COMPLETE && current.completed_at === null ? formatCachetTime(toStoredTime(kit.clock.now()), DASHBOARD_ZONE)! : undefined;
      const result = await submit(checkScheduleChange({ status, completed_at: completedAt }), (input) => kit.act(request, (trx) => schedules.update(trx, id, input, DASHBOARD_ZONE)));
      if (!result.ok) return kit.done(reply, '/dashboard/schedules', { kind: 'error', text: result.errors.join(' ') });
      if (!result.value) return notFound(kit, request, reply, 'schedules.update', 'schedules', id);
      const label = SCHEDULE_STATUS_NAMES[result.value.after.status] ?? field(request.body, 'status');
      return kit.done(reply, '/dashboard/schedules', { kind: 'ok', text: `Maintenance “${result.value.after.name}” is now ${label.toLowerCase()}.` });
    });

    app.post('/dashboard/schedules/:id/delete', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const removed = id === null ? null : await kit.act(request, (trx) => schedules.remove(trx, id));
      if (!removed) return notFound(kit, request, reply, 'schedules.delete', 'schedules', id);
      return kit.done(reply, '/dashboard/schedules', { kind: 'ok', text: `Maintenance “${removed.name}” deleted.` });
    });
  };
}
