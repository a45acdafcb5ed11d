/**
 * The dashboard's metrics: the list, create, edit, delete, and adding a point (the metric's page
 * shows its latest points). Every change goes through the metrics and metric-points services,
 * checked against the API's body schemas.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CreateMetricPointBody } from '../metrics/metric-points.schema.js';
import type { MetricPointsService } from '../metrics/metric-points.service.js';
import { CreateMetricBody, DEFAULT_VIEW_NAMES, THRESHOLDS, UpdateMetricBody, type Metric } from '../metrics/metrics.schema.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import {
  DASHBOARD_ZONE,
  bodyChecker,
  form,
  notFound,
  pageOf,
  pagerOf,
  sentValues,
  submit,
  unixSeconds,
  type Checked,
  type FormValues,
  type Input,
} from './dashboard.content-forms.js';
import { field, idParam, type Kit } from './dashboard.kit.js';

export interface MetricPagesDeps {
  metrics: MetricsService;
  metricPoints: MetricPointsService;
}

const checkMetric = bodyChecker(CreateMetricBody);
const checkMetricChange = bodyChecker(UpdateMetricBody);
const checkPoint = bodyChecker(CreateMetricPointBody);

const METRIC_FIELDS = ['name', 'suffix', 'description', 'default_value', 'calc_type', 'display_chart', 'places', 'default_view', 'threshold', 'order', 'visible'] as const;
const POINT_FIELDS = ['value', 'at'] as const;
/** Points shown on a metric's page. */
const RECENT_POINTS = 20;

/** Who sees a metric (its `visible` values). */
export const METRIC_VISIBILITY = [
  { value: 1, label: 'Everyone' },
  { value: 0, label: 'Signed-in users and API keys' },
  { value: 2, label: 'Hidden (signed-in users and API keys)' },
] as const;
const CALC_TYPES = [
  { value: 0, label: 'added up (sum)' },
  { value: 1, label: 'averaged' },
] as const;

function metricInput(body: unknown): Input {
  return {
    name: form.text(body, 'name'),
    suffix: form.text(body, 'suffix'),
    description: form.multiline(body, 'description'),
    default_value: form.number(body, 'default_value'),
    calc_type: form.integer(body, 'calc_type'),
    display_chart: form.checked(body, 'display_chart'),
    places: form.integer(body, 'places'),
    default_view: form.integer(body, 'default_view'),
    threshold: form.integer(body, 'threshold'),
    order: form.integer(body, 'order') ?? 0,
    visible: form.integer(body, 'visible'),
  };
}

function metricValues(m: Metric): FormValues {
  return {
    name: m.name,
    suffix: m.suffix,
    description: m.description,
    default_value: String(m.default_value),
    calc_type: String(m.calc_type),
    display_chart: m.display_chart ? '1' : '',
    places: String(m.places),
    default_view: String(m.default_view),
    threshold: String(m.threshold),
    order: String(m.order),
    visible: String(m.visible),
  };
}

/** A point as the form sends it: a value and, optionally, when (UTC), as the API's unix seconds. */
function pointInput(body: unknown): Checked<Input> {
  const timestamp = unixSeconds(field(body, 'at'));
  if (timestamp === null) return { ok: false, errors: ['The time is not a valid date and time.'] };
  return { ok: true, value: { value: form.number(body, 'value'), timestamp } };
}

/** The metrics page group (section `metrics`). */
export function metricPages({ metrics, metricPoints }: MetricPagesDeps) {
  return (app: FastifyInstance, kit: Kit): void => {
    const { db } = kit;
    const choices = {
      visibility: METRIC_VISIBILITY,
      calcTypes: CALC_TYPES,
      views: DEFAULT_VIEW_NAMES.map((label, value) => ({ value, label })),
      thresholds: THRESHOLDS,
    };

    const metricForm = (request: FastifyRequest, reply: FastifyReply, values: FormValues, errors: string[] = [], status = 200) =>
      kit.html(request, reply, 'metric-form', { title: 'New metric', section: 'metrics', values, errors, ...choices }, status);

    /** The metric's page: its edit form, its latest points and the form adding one. */
    async function metricPage(
      request: FastifyRequest,
      reply: FastifyReply,
      metric: Metric,
      forms: { values?: FormValues; errors?: string[]; point?: FormValues; pointErrors?: string[] } = {},
      status = 200,
    ) {
      const points = await metricPoints.list(db, metric.id, { page: 1, perPage: RECENT_POINTS, sort: null, direction: 'desc' }, true, DASHBOARD_ZONE);
      return kit.html(request, reply, 'metric', {
        title: 'Edit metric',
        section: 'metrics',
        metric,
        points: points?.items ?? [],
        values: forms.values ?? metricValues(metric),
        errors: forms.errors ?? [],
        point: forms.point ?? { value: '', at: '' },
        pointErrors: forms.pointErrors ?? [],
        ...choices,
      }, status);
    }

    app.get('/dashboard/metrics', { schema: { hide: true } }, async (request, reply) => {
      const page = pageOf(request, 'order', 'asc');
      const list = await metrics.list(db, page, true, DASHBOARD_ZONE);
      const shownTo = new Map<number, string>(METRIC_VISIBILITY.map((v) => [v.value, v.label]));
      return kit.html(request, reply, 'metrics', {
        title: 'Metrics',
        section: 'metrics',
        metrics: list.items.map((m) => ({ ...m, shownTo: shownTo.get(m.visible) ?? String(m.visible) })),
        pager: pagerOf(page, list.total, '/dashboard/metrics'),
      });
    });

    app.get('/dashboard/metrics/new', { schema: { hide: true } }, async (request, reply) =>
      metricForm(request, reply, {
        name: '',
        suffix: '',
        description: '',
        default_value: '0',
        calc_type: '0',
        display_chart: '1',
        places: '2',
        default_view: '1',
        threshold: '5',
        order: '0',
        visible: '1',
      }),
    );

    app.post('/dashboard/metrics', { schema: { hide: true } }, async (request, reply) => {
      const result = await submit(checkMetric(metricInput(request.body)), (input) => kit.act(request, (trx) => metrics.create(trx, input)));
      if (!result.ok) return metricForm(request, reply, sentValues(request.body, METRIC_FIELDS), result.errors, 400);
      return kit.done(reply, `/dashboard/metrics/${result.value.id}`, { kind: 'ok', text: `Metric “${result.value.name}” created.` });
    });

    app.get('/dashboard/metrics/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const metric = id === null ? null : await metrics.show(db, id, true, DASHBOARD_ZONE);
      if (!metric) return notFound(kit, request, reply, 'metrics.show', 'metrics', id);
      return metricPage(request, reply, metric);
    });

    app.post('/dashboard/metrics/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const current = id === null ? null : await metrics.show(db, id, true, DASHBOARD_ZONE);
      if (id === null || !current) return notFound(kit, request, reply, 'metrics.update', 'metrics', id);
      const result = await submit(checkMetricChange(metricInput(request.body)), (input) => kit.act(request, (trx) => metrics.update(trx, id, input)));
      if (!result.ok) return metricPage(request, reply, current, { values: sentValues(request.body, METRIC_FIELDS), errors: result.errors }, 400);
      if (!result.value) return notFound(kit, request, reply, 'metrics.update', 'metrics', id);
      return kit.done(reply, `/dashboard/metrics/${id}`, { kind: 'ok', text: `Metric “${result.value.after.name}” saved.` });
    });

    app.post('/dashboard/metrics/:id/delete', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const removed = id === null ? null : await kit.act(request, (trx) => metrics.remove(trx, id));
      if (!removed) return notFound(kit, request, reply, 'metrics.delete', 'metrics', id);
      return kit.done(reply, '/dashboard/metrics', { kind: 'ok', text: `Metric “${removed.name}” and its points deleted.` });
    });

    app.post('/dashboard/metrics/:id/points', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const current = id === null ? null : await metrics.show(db, id, true, DASHBOARD_ZONE);
      if (id === null || !current) return notFound(kit, request, reply, 'metric-points.create', 'metrics', id);
      const input = pointInput(request.body);
      const result = await submit(input.ok ? checkPoint(input.value) : input, (value) => kit.act(request, (trx) => metricPoints.create(trx, id, value)));
      if (!result.ok) return metricPage(request, reply, current, { point: sentValues(request.body, POINT_FIELDS), pointErrors: result.errors }, 400);
      if (!result.value) return notFound(kit, request, reply, 'metric-points.create', 'metrics', id);
      return kit.done(reply, `/dashboard/metrics/${id}#points`, { kind: 'ok', text: `Point ${result.value.value} ${current.suffix} added.` });
    });
  };
}
