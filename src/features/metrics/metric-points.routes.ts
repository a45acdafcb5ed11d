/** `/api/v1/metrics/{metric}/points` (Cachet 2.4 rows 31–34); a point is only reachable under its own metric. */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { callerHolds } from '../../http/auth.js';
import { found } from '../../http/errors.js';
import { itemEnvelope, listEnvelope, listParams, paginated } from '../../http/list.js';
import { parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import {
  CreateMetricPointBody,
  MetricParams,
  MetricPointListQuery,
  MetricPointParams,
  MetricPointSchema,
  UpdateMetricPointBody,
} from './metric-points.schema.js';
import { presentMetricPoint, type MetricPointsService } from './metric-points.service.js';

export interface MetricPointsRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  metricPoints: MetricPointsService;
  perPageMax: number;
}

const tags = ['Metric points'];

/** Registers the metric point routes. */
export function metricPointsRoutes(app: ApiApp, { db, transact, metricPoints, perPageMax }: MetricPointsRoutesDeps): void {
  app.get(
    '/api/v1/metrics/:metric/points',
    {
      schema: {
        tags,
        summary: "List a metric's points, newest first (guests: public metrics only)",
        params: MetricParams,
        querystring: MetricPointListQuery,
        response: withErrors(200, listEnvelope(MetricPointSchema)),
      },
      config: { access: { scope: 'metric-points.read', guest: true, action: 'metric-points.list', limit: { resource: 'metrics', param: 'metric' } } },
    },
    async (request) => {
      const metricId = parseId(request.params.metric);
      const params = listParams(request.query, [], perPageMax);
      const page = found(await metricPoints.list(db, metricId, params, callerHolds(request, 'metric-points.read'), request.timeZone));
      return paginated(request, params, page.total, page.items);
    },
  );

  app.post(
    '/api/v1/metrics/:metric/points',
    {
      schema: {
        tags,
        summary: 'Add a point (same value within the threshold window increments the existing point)',
        params: MetricParams,
        body: CreateMetricPointBody,
        response: withErrors(200, itemEnvelope(MetricPointSchema)),
      },
      config: { access: { scope: 'metric-points.manage', action: 'metric-points.create', limit: { resource: 'metrics', param: 'metric' } } },
    },
    async (request) => {
      const metricId = parseId(request.params.metric);
      const row = await transact(request, async (trx) => found(await metricPoints.create(trx, metricId, request.body)));
      return { data: presentMetricPoint(row, request.timeZone) };
    },
  );

  app.put(
    '/api/v1/metrics/:metric/points/:point',
    {
      schema: {
        tags,
        summary: 'Update a point',
        params: MetricPointParams,
        body: UpdateMetricPointBody,
        response: withErrors(200, itemEnvelope(MetricPointSchema)),
      },
      config: { access: { scope: 'metric-points.manage', action: 'metric-points.update', limit: { resource: 'metrics', param: 'metric' } } },
    },
    async (request) => {
      const metricId = parseId(request.params.metric);
      const id = parseId(request.params.point);
      const changed = await transact(request, async (trx) => found(await metricPoints.update(trx, metricId, id, request.body)));
      return { data: presentMetricPoint(changed.after, request.timeZone) };
    },
  );

  app.delete(
    '/api/v1/metrics/:metric/points/:point',
    {
      schema: { tags, summary: 'Delete a point', params: MetricPointParams, response: noContentWithErrors() },
      config: { access: { scope: 'metric-points.delete', action: 'metric-points.delete', limit: { resource: 'metrics', param: 'metric' } } },
    },
    async (request, reply) => {
      const metricId = parseId(request.params.metric);
      const id = parseId(request.params.point);
      await transact(request, async (trx) => found(await metricPoints.remove(trx, metricId, id)));
      return reply.code(204).send();
    },
  );
}
