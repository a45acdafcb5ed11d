/** `/api/v1/metrics` (Cachet 2.4 rows 26–30). */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { callerHolds } from '../../http/auth.js';
import { found } from '../../http/errors.js';
import { allowedIds } from '../../http/limits.js';
import { itemEnvelope, listEnvelope, listParams, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import { CreateMetricBody, METRIC_SORTABLE, MetricListQuery, MetricSchema, UpdateMetricBody } from './metrics.schema.js';
import { presentMetric, type MetricsService } from './metrics.service.js';

export interface MetricsRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  metrics: MetricsService;
  perPageMax: number;
}

const tags = ['Metrics'];

/** Registers the metric routes. */
export function metricsRoutes(app: ApiApp, { db, transact, metrics, perPageMax }: MetricsRoutesDeps): void {
  app.get(
    '/api/v1/metrics',
    {
      schema: {
        tags,
        summary: 'List metrics (guests see public ones only)',
        querystring: MetricListQuery,
        response: withErrors(200, listEnvelope(MetricSchema)),
      },
      config: { access: { scope: 'metrics.read', guest: true, action: 'metrics.list', limit: { resource: 'metrics', lists: true } } },
    },
    async (request) => {
      const params = { ...listParams(request.query, METRIC_SORTABLE, perPageMax), onlyIds: allowedIds(request) };
      const { total, items } = await metrics.list(db, params, callerHolds(request, 'metrics.read'), request.timeZone);
      return paginated(request, params, total, items);
    },
  );

  app.get(
    '/api/v1/metrics/:id',
    {
      schema: { tags, summary: 'Get a metric', params: IdParams, response: withErrors(200, itemEnvelope(MetricSchema)) },
      config: { access: { scope: 'metrics.read', guest: true, action: 'metrics.show', limit: { resource: 'metrics', param: 'id' } } },
    },
    async (request) => ({
      data: found(await metrics.show(db, parseId(request.params.id), callerHolds(request, 'metrics.read'), request.timeZone)),
    }),
  );

  app.post(
    '/api/v1/metrics',
    {
      schema: { tags, summary: 'Create a metric', body: CreateMetricBody, response: withErrors(200, itemEnvelope(MetricSchema)) },
      config: { access: { scope: 'metrics.manage', action: 'metrics.create', limit: { resource: 'metrics', creates: true } } },
    },
    async (request) => {
      const row = await transact(request, (trx) => metrics.create(trx, request.body));
      return { data: presentMetric(row, request.timeZone) };
    },
  );

  app.put(
    '/api/v1/metrics/:id',
    {
      schema: { tags, summary: 'Update a metric', params: IdParams, body: UpdateMetricBody, response: withErrors(200, itemEnvelope(MetricSchema)) },
      config: { access: { scope: 'metrics.manage', action: 'metrics.update', limit: { resource: 'metrics', param: 'id' } } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const changed = await transact(request, async (trx) => found(await metrics.update(trx, id, request.body)));
      return { data: presentMetric(changed.after, request.timeZone) };
    },
  );

  app.delete(
    '/api/v1/metrics/:id',
    {
      schema: { tags, summary: 'Delete a metric and its points', params: IdParams, response: noContentWithErrors() },
      config: { access: { scope: 'metrics.delete', action: 'metrics.delete', limit: { resource: 'metrics', param: 'id' } } },
    },
    async (request, reply) => {
      const id = parseId(request.params.id);
      await transact(request, async (trx) => found(await metrics.remove(trx, id)));
      return reply.code(204).send();
    },
  );
}
