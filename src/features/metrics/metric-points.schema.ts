/** Metric point request and response schemas (Cachet 2.4 wire format). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { Timestamp } from '../../http/schemas.js';
import { metricValue } from './metrics.schema.js';

/** The last 30-second mark of year 9999: later instants do not fit the stored `YYYY-…` text form, even after rounding. */
export const MAX_UNIX_SECONDS = 253_402_300_770;

const timestamp = Type.Number({
  minimum: 0,
  maximum: MAX_UNIX_SECONDS,
  description: 'Unix seconds (an instant; the Time-Zone header does not change it). Rounded to the nearest 30 s. Default: now.',
});

/** `{metric}` and `{metric}/points/{point}` params; checked by `parseId` so a non-number is a 404. */
export const MetricParams = Type.Object({ metric: Type.String({ description: 'Numeric metric id.' }) });
export const MetricPointParams = Type.Object({
  metric: Type.String({ description: 'Numeric metric id.' }),
  point: Type.String({ description: 'Numeric point id (of that metric).' }),
});

export const MetricPointSchema = Type.Object({
  id: Type.Integer(),
  metric_id: Type.Integer(),
  value: Type.Number(),
  counter: Type.Integer({ description: 'How many times this value was reported within the metric threshold window.' }),
  calculated_value: Type.Number({ description: 'value × counter.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type MetricPoint = Static<typeof MetricPointSchema>;

export const CreateMetricPointBody = Type.Object({
  value: metricValue(),
  timestamp: Type.Optional(timestamp),
});
export type CreateMetricPointInput = Static<typeof CreateMetricPointBody>;

export const UpdateMetricPointBody = Type.Object({
  value: Type.Optional(metricValue()),
  timestamp: Type.Optional(timestamp),
});
export type UpdateMetricPointInput = Static<typeof UpdateMetricPointBody>;

// Points have no sort: they are always newest first, as in Cachet.
export const MetricPointListQuery = Type.Object({ per_page: listQueryProperties.per_page, page: listQueryProperties.page });
