/** Metric request and response schemas (Cachet 2.4 wire format). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { Timestamp, int } from '../../http/schemas.js';

export const DEFAULT_VIEW_NAMES = ['Last Hour', 'Last 12 Hours', 'Week', 'Month'] as const;

/** Thresholds (minutes) that split an hour evenly, so aggregation buckets line up with the clock. */
export const THRESHOLDS = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60] as const;

/**
 * Largest magnitude accepted for a metric value: far beyond Cachet's decimal(15,3) column, yet
 * small enough that `value × counter` stays finite and integers stay exact.
 */
export const METRIC_VALUE_LIMIT = 1e15;

/** A finite metric value; the bounds also turn a coerced `"1e999"` (Infinity) into a 400. */
export function metricValue(description?: string) {
  return Type.Number({ minimum: -METRIC_VALUE_LIMIT, maximum: METRIC_VALUE_LIMIT, ...(description ? { description } : {}) });
}

const name = Type.String({ minLength: 1, maxLength: 255 });
const suffix = Type.String({ minLength: 1, maxLength: 255, description: 'Unit shown after the value, e.g. `ms`.' });
const description = Type.String({ maxLength: 65_535 });
const calcType = Type.Integer({ minimum: 0, maximum: 1, description: '0 sum, 1 average.' });
const places = Type.Integer({ minimum: 0, maximum: 4, description: 'Decimal places shown.' });
const defaultView = (description = '0 last hour, 1 last 12 hours, 2 week, 3 month.') => Type.Integer({ minimum: 0, maximum: 3, description });
// Integer only here: the divides-60 rule is checked by the service so its message can name the rule.
const threshold = Type.Integer({ description: `Aggregation window in minutes; must divide 60 (${THRESHOLDS.join(', ')}).` });
const visible = Type.Integer({ minimum: 0, maximum: 2, description: '0 key holders only, 1 everyone, 2 hidden (key holders only).' });

export const MetricSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  suffix: Type.String(),
  description: Type.String(),
  default_value: Type.Number(),
  calc_type: Type.Integer(),
  display_chart: Type.Boolean(),
  places: Type.Integer(),
  default_view: Type.Integer(),
  threshold: Type.Integer(),
  order: Type.Integer(),
  visible: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
  default_view_name: Type.String(),
});
export type Metric = Static<typeof MetricSchema>;

export const CreateMetricBody = Type.Object({
  name,
  suffix,
  description: Type.Optional(description),
  default_value: metricValue('Value shown when there are no points.'),
  calc_type: Type.Optional(calcType),
  display_chart: Type.Optional(Type.Boolean()),
  places: Type.Optional(places),
  default_view: Type.Optional(defaultView()),
  view: Type.Optional(defaultView('Alias of `default_view` (Cachet 2.x clients); `default_view` wins.')),
  threshold: Type.Optional(threshold),
  order: Type.Optional(int()),
  visible: Type.Optional(visible),
});
export type CreateMetricInput = Static<typeof CreateMetricBody>;

/** Every create field, optional: a PUT changes only what it names. */
export const UpdateMetricBody = Type.Partial(CreateMetricBody);
export type UpdateMetricInput = Static<typeof UpdateMetricBody>;

export const MetricListQuery = Type.Object({ ...listQueryProperties });

export const METRIC_SORTABLE = ['id', 'name', 'display_chart', 'default_value', 'calc_type', 'order', 'visible'] as const;
