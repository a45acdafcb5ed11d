/**
 * Turns the changes a transaction made into notification events, and enqueues each event's
 * fan-out in that same transaction: a committed change never loses its notifications, a rolled
 * back one sends none, and the request does no delivery work (a fan-out to 10,000 subscribers
 * costs it one row). The amplification guard lives here too: a key past its budget of notifying
 * writes per hour still makes its change, but the fan-out is held for an operator.
 */
import type { FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../../db/schema.js';
import type { TransactionJoiner } from '../../http/transact.js';
import type { Clock } from '../../infra/clock.js';
import { enqueue } from '../../infra/queue.js';
import { toStoredTime } from '../../infra/time.js';
import { uuidv7 } from '../../infra/uuid.js';
import { auditContextOf } from '../../http/audit-stage.js';
import type { Change } from '../audit/audit.types.js';
import type { AuditWriter } from '../audit/audit.writer.js';
import { COMPONENT_STATUS_NAMES } from '../components/components.schema.js';
import { INCIDENT_STATUS_NAMES } from '../incidents/incidents.schema.js';
import { SCHEDULE_STATUS_NAMES } from '../schedules/schedules.schema.js';
import type { EventType, NotificationEvent } from './notifications.events.js';

/** The job that expands one event into its mails and webhook deliveries. */
export const FANOUT = 'fanout';

type Row = Record<string, unknown>;

export interface JoinerDeps {
  clock: Clock;
  publicUrl: string;
  /** Notifying writes one key may make per hour before its notifications are held. */
  budgetPerHour: number;
  writer: AuditWriter;
  logger: Logger;
  /** Called after enqueueing, so a worker in this process starts at once (after the commit). */
  wake?: () => void;
}

const num = (value: unknown): number => Number(value ?? 0);
const text = (value: unknown): string => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '');
const name = (names: readonly string[], status: unknown) => names[num(status)] ?? 'Unknown';

/** Whether the request asked for no notifications: Cachet's `notify: false` or a component's `silent: true`. */
function quiet(request: FastifyRequest): boolean {
  const body = request.body as Row | undefined;
  if (!body || typeof body !== 'object') return false;
  const off = (value: unknown) => value === false || value === 'false' || value === '0' || value === 0;
  const on = (value: unknown) => value === true || value === 'true' || value === '1' || value === 1;
  return off(body.notify) || on(body.silent);
}

function incidentOf(publicUrl: string, row: Row) {
  return {
    id: num(row.id),
    name: text(row.name),
    status: num(row.status),
    status_name: name(INCIDENT_STATUS_NAMES, row.status),
    message: text(row.message),
    component_id: num(row.component_id),
    visible: num(row.visible) === 1,
    occurred_at: text(row.occurred_at),
    permalink: `${publicUrl}/incidents/${num(row.id)}`,
  };
}

function scheduleOf(publicUrl: string, row: Row) {
  return {
    id: num(row.id),
    name: text(row.name),
    message: text(row.message),
    status: num(row.status),
    status_name: name(SCHEDULE_STATUS_NAMES, row.status),
    scheduled_at: text(row.scheduled_at),
    completed_at: row.completed_at ? text(row.completed_at) : null,
    permalink: `${publicUrl}/schedules/${num(row.id)}`,
  };
}

/** The events a transaction's changes stand for (incident rows are read in `trx` for an update's incident). */
export async function eventsOf(trx: Transaction<DB>, changes: readonly Change[], at: Date, publicUrl: string): Promise<NotificationEvent[]> {
  const events: NotificationEvent[] = [];
  const make = (type: EventType, componentId: number | null, data: Omit<NotificationEvent, 'id' | 'type' | 'at' | 'component_id'>) =>
    events.push({ id: uuidv7(), type, at: toStoredTime(at), component_id: componentId && componentId > 0 ? componentId : null, ...data });
  let aboutIncident = false;
  for (const change of changes) {
    const before = change.before as Row | null;
    const after = change.after as Row | null;
    if (change.resource === 'incidents' && after) {
      // Hidden incidents are not public; `notify: false` is stored as `notifications` 0.
      if (num(after.visible) !== 1 || num(after.notifications) !== 1) continue;
      const changed = before === null || before.status !== after.status || before.message !== after.message || before.name !== after.name;
      if (!changed) continue;
      aboutIncident = true;
      make(before === null ? 'incident.created' : 'incident.updated', num(after.component_id), { incident: incidentOf(publicUrl, after) });
    } else if (change.resource === 'incident-updates' && before === null && after) {
      const incident = await trx.selectFrom('incidents').selectAll().where('id', '=', num(after.incident_id)).executeTakeFirst();
      if (!incident || incident.visible !== 1 || incident.notifications !== 1 || incident.deleted_at !== null) continue;
      aboutIncident = true;
      make('incident.updated', incident.component_id, {
        incident: incidentOf(publicUrl, incident),
        update: { id: num(after.id), status: num(after.status), status_name: name(INCIDENT_STATUS_NAMES, after.status), message: text(after.message), created_at: text(after.created_at) },
      });
    } else if (change.resource === 'schedules' && after) {
      if (before === null) make('schedule.created', null, { schedule: scheduleOf(publicUrl, after) });
      else if (before.status !== after.status && num(after.status) === 1) make('schedule.started', null, { schedule: scheduleOf(publicUrl, after) });
      else if (before.status !== after.status && num(after.status) === 2) make('schedule.completed', null, { schedule: scheduleOf(publicUrl, after) });
    }
  }
  // A status change that came with an incident is told by the incident's own message, not twice.
  if (!aboutIncident) {
    for (const change of changes) {
      const before = change.before as Row | null;
      const after = change.after as Row | null;
      if (change.resource !== 'components' || !before || !after || before.status === after.status || num(after.enabled) !== 1) continue;
      make('component.status_changed', num(after.id), {
        component: {
          id: num(after.id),
          name: text(after.name),
          status: num(after.status),
          status_name: name(COMPONENT_STATUS_NAMES, after.status),
          previous_status: num(before.status),
          previous_status_name: name(COMPONENT_STATUS_NAMES, before.status),
        },
      });
    }
  }
  return events;
}

export function createNotificationJoiner(deps: JoinerDeps): TransactionJoiner {
  const { clock, writer } = deps;
  return async (request, trx, changes) => {
    if (changes.length === 0 || quiet(request)) return;
    const now = clock.now();
    const events = await eventsOf(trx, changes, now, deps.publicUrl);
    if (events.length === 0) return;
    const principal = request.principal;
    const keyId = principal?.type === 'key' ? principal.key.id : null;
    let held = false;
    if (keyId !== null) {
      // Counted in the database, so the budget holds across instances and restarts.
      const since = toStoredTime(new Date(now.getTime() - 3_600_000));
      const used = await trx
        .selectFrom('jobs')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('key_id', '=', keyId)
        .where('kind', '=', FANOUT)
        .where('created_at', '>', since)
        .executeTakeFirstOrThrow();
      held = Number(used.n) >= deps.budgetPerHour;
    }
    await enqueue(
      trx,
      clock,
      events.map((event) => ({ kind: FANOUT, payload: { event }, dedupe: `fanout:${event.id}`, status: held ? ('held' as const) : ('ready' as const), keyId })),
    );
    if (held) {
      const ids = await trx.selectFrom('jobs').select('id').where('dedupe', 'in', events.map((e) => `fanout:${e.id}`)).orderBy('id').execute();
      // Only a key's writes are held, and keys write through the API: its audit context.
      const context = auditContextOf(request);
      await writer.append(
        trx,
        ids.map((row, i) => ({
          context,
          fact: {
            action: 'notifications.hold',
            resourceType: 'notifications',
            resourceId: row.id,
            outcome: 'denied' as const,
            status: null,
            reason: 'notify_budget_exceeded',
            changes: { event_type: [null, events[i]!.type] },
          },
        })),
      );
      // The operator's alert, to webhooks (a fan-out that is never held).
      const alert: NotificationEvent = {
        id: uuidv7(),
        type: 'notifications.held',
        at: toStoredTime(now),
        component_id: null,
        held: { jobs: ids.map((r) => r.id), key_id: keyId!, key_prefix: principal?.type === 'key' ? principal.key.prefix : null, event_types: events.map((e) => e.type), budget_per_hour: deps.budgetPerHour },
      };
      await enqueue(trx, clock, [{ kind: FANOUT, payload: { event: alert }, dedupe: `fanout:${alert.id}` }]);
      deps.logger.warn(
        { keyId, keyPrefix: principal?.type === 'key' ? principal.key.prefix : null, jobs: ids.map((r) => r.id), budgetPerHour: deps.budgetPerHour },
        `notifications held: key ${keyId} made more than ${deps.budgetPerHour} notifying writes in an hour; release or drop them with \`cachet notifications release|drop ID\` or in the dashboard`,
      );
    }
    deps.wake?.();
  };
}
