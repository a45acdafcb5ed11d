/** `/api/v1/schedules` (Cachet 2.4 rows 35–39). */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { found } from '../../http/errors.js';
import { allowedIds } from '../../http/limits.js';
import { itemEnvelope, listEnvelope, listParams, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import { CreateScheduleBody, SCHEDULE_SORTABLE, ScheduleListQuery, ScheduleSchema, UpdateScheduleBody } from './schedules.schema.js';
import { presentSchedule, type SchedulesService } from './schedules.service.js';

export interface SchedulesRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  schedules: SchedulesService;
  perPageMax: number;
}

const tags = ['Schedules'];

/** Registers the schedule routes. */
export function schedulesRoutes(app: ApiApp, { db, transact, schedules, perPageMax }: SchedulesRoutesDeps): void {
  app.get(
    '/api/v1/schedules',
    {
      schema: { tags, summary: 'List schedules', querystring: ScheduleListQuery, response: withErrors(200, listEnvelope(ScheduleSchema)) },
      config: { access: { scope: 'schedules.read', guest: true, action: 'schedules.list', limit: { resource: 'schedules', lists: true } } },
    },
    async (request) => {
      const params = { ...listParams(request.query, SCHEDULE_SORTABLE, perPageMax), onlyIds: allowedIds(request) };
      const { total, items } = await schedules.list(db, params, request.timeZone);
      return paginated(request, params, total, items);
    },
  );

  app.get(
    '/api/v1/schedules/:id',
    {
      schema: { tags, summary: 'Get a schedule', params: IdParams, response: withErrors(200, itemEnvelope(ScheduleSchema)) },
      config: { access: { scope: 'schedules.read', guest: true, action: 'schedules.show', limit: { resource: 'schedules', param: 'id' } } },
    },
    async (request) => ({ data: found(await schedules.show(db, parseId(request.params.id), request.timeZone)) }),
  );

  app.post(
    '/api/v1/schedules',
    {
      schema: { tags, summary: 'Create a schedule', body: CreateScheduleBody, response: withErrors(200, itemEnvelope(ScheduleSchema)) },
      config: { access: { scope: 'schedules.manage', action: 'schedules.create', limit: { resource: 'schedules', creates: true } } },
    },
    async (request) => {
      const row = await transact(request, (trx) => schedules.create(trx, request.body, request.timeZone));
      return { data: presentSchedule(row, request.timeZone) };
    },
  );

  app.put(
    '/api/v1/schedules/:id',
    {
      schema: { tags, summary: 'Update a schedule', params: IdParams, body: UpdateScheduleBody, response: withErrors(200, itemEnvelope(ScheduleSchema)) },
      config: { access: { scope: 'schedules.manage', action: 'schedules.update', limit: { resource: 'schedules', param: 'id' } } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const changed = await transact(request, async (trx) => found(await schedules.update(trx, id, request.body, request.timeZone)));
      return { data: presentSchedule(changed.after, request.timeZone) };
    },
  );

  app.delete(
    '/api/v1/schedules/:id',
    {
      schema: { tags, summary: 'Delete a schedule (soft delete)', params: IdParams, response: noContentWithErrors() },
      config: { access: { scope: 'schedules.delete', action: 'schedules.delete', limit: { resource: 'schedules', param: 'id' } } },
    },
    async (request, reply) => {
      const id = parseId(request.params.id);
      await transact(request, async (trx) => found(await schedules.remove(trx, id)));
      return reply.code(204).send();
    },
  );
}
