/** `GET /api/v1/audit` (scope `audit.read`) and `GET /api/v1/keys/{id}/usage` (scope `keys.read`). */
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { found, validationError } from '../../http/errors.js';
import { itemEnvelope, listEnvelope, listParams, listQueryProperties, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { withErrors } from '../../http/responses.js';
import type { Clock } from '../../infra/clock.js';
import { parseCachetTime } from '../../infra/time.js';
import { eventOfRow } from './audit.chain.js';
import type { AuditFilters, AuditRepo } from './audit.repo.js';

const tags = ['Audit'];
const Text = (description: string) => Type.Optional(Type.String({ maxLength: 200, description }));
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const AuditQuery = Type.Object({
  ...listQueryProperties,
  key_id: Type.Optional(Type.Integer({ minimum: 1, description: 'Events of this key.' })),
  action: Text('`<resource>.<verb>`, e.g. `components.update`.'),
  resource_type: Text('e.g. `components`.'),
  resource_id: Text('The id of the resource acted on.'),
  outcome: Type.Optional(Type.Union([Type.Literal('allowed'), Type.Literal('denied'), Type.Literal('failed')])),
  reason: Text('Refusal code, e.g. `scope_missing`.'),
  request_id: Text('The `X-Request-Id` of a response.'),
  since: Text('Events at or after this time (ISO 8601 or `Y-m-d H:i:s` in the request time zone).'),
  until: Text('Events before this time.'),
});

const AuditEventSchema = Type.Object({
  seq: Type.Integer(),
  id: Type.String(),
  at: Type.String({ description: 'ISO 8601 UTC.' }),
  request_id: Nullable(Type.String()),
  actor_type: Type.String(),
  key_id: Type.Union([Type.Integer(), Type.Null()]),
  key_prefix: Nullable(Type.String()),
  user_id: Type.Union([Type.Integer(), Type.Null()]),
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  method: Nullable(Type.String()),
  path: Nullable(Type.String()),
  action: Type.String(),
  resource_type: Nullable(Type.String()),
  resource_id: Nullable(Type.String()),
  outcome: Type.String(),
  status: Type.Union([Type.Integer(), Type.Null()]),
  reason: Nullable(Type.String()),
  changes: Type.Union([Type.Record(Type.String(), Type.Array(Type.Unknown())), Type.Null()]),
  prev_hash: Type.String(),
  hash: Type.String(),
});

const UsageQuery = Type.Object({ since: Text('Start of the window (default: 30 days ago).'), until: Text('End of the window (default: now).') });

const UsageSchema = Type.Object({
  key_id: Type.Integer(),
  since: Type.String(),
  until: Type.String(),
  total: Type.Integer(),
  first_use: Nullable(Type.String()),
  last_use: Nullable(Type.String()),
  actions: Type.Array(Type.Object({ action: Type.String(), outcome: Type.String(), count: Type.Integer() })),
  addresses: Type.Array(Type.Object({ ip: Type.String(), count: Type.Integer(), first_use: Type.String(), last_use: Type.String() })),
});

export interface AuditRoutesDeps {
  db: Kysely<DB>;
  repo: AuditRepo;
  clock: Clock;
  perPageMax: number;
}

/** A time filter in stored form, or a 400 naming the field. */
function timeFilter(query: Record<string, unknown>, field: 'since' | 'until', zone: string): string | undefined {
  const text = query[field];
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  const parsed = parseCachetTime(text, zone);
  if (parsed === null) throw validationError([`The ${field} is not a valid date.`]);
  return parsed;
}

export function auditRoutes(app: ApiApp, { db, repo, clock, perPageMax }: AuditRoutesDeps): void {
  app.get(
    '/api/v1/audit',
    {
      schema: { tags, operationId: 'listAuditEvents', summary: 'List audit events, newest first', querystring: AuditQuery, response: withErrors(200, listEnvelope(AuditEventSchema)) },
      config: { access: { scope: 'audit.read', action: 'audit.list' } },
    },
    async (request) => {
      const query = request.query as Record<string, unknown>;
      const params = listParams(query, [], perPageMax);
      const filters: AuditFilters = {};
      for (const field of ['action', 'resource_type', 'resource_id', 'outcome', 'reason', 'request_id'] as const) {
        if (typeof query[field] === 'string') filters[field] = query[field];
      }
      if (typeof query.key_id === 'number') filters.key_id = query.key_id;
      filters.since = timeFilter(query, 'since', request.timeZone);
      filters.until = timeFilter(query, 'until', request.timeZone);
      const { total, rows } = await repo.query(db, filters, { limit: params.perPage, offset: (params.page - 1) * params.perPage });
      return paginated(request, params, total, rows.map(eventOfRow));
    },
  );

  app.get(
    '/api/v1/keys/:id/usage',
    {
      schema: { tags, operationId: 'getKeyUsage', summary: "A key's use over a window", params: IdParams, querystring: UsageQuery, response: withErrors(200, itemEnvelope(UsageSchema)) },
      config: { access: { scope: 'keys.read', action: 'keys.show' } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      found(await db.selectFrom('api_keys').select('id').where('id', '=', id).executeTakeFirst());
      const query = request.query as Record<string, unknown>;
      const now = clock.now();
      const until = timeFilter(query, 'until', request.timeZone) ?? new Date(now.getTime() + 1).toISOString();
      const since = timeFilter(query, 'since', request.timeZone) ?? new Date(now.getTime() - 30 * 86_400_000).toISOString();
      const usage = await repo.usage(db, id, since, until);
      return {
        data: {
          key_id: id,
          since,
          until,
          total: usage.counts.reduce((sum, c) => sum + Number(c.count), 0),
          first_use: usage.first,
          last_use: usage.last,
          actions: usage.counts.map((c) => ({ action: c.action, outcome: c.outcome, count: Number(c.count) })),
          addresses: usage.addresses.map((a) => ({ ip: a.ip!, count: Number(a.count), first_use: a.first, last_use: a.last })),
        },
      };
    },
  );
}
