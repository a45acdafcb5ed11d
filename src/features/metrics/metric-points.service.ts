/** Metric point rules: 30-second rounding, same-value aggregation within the metric's threshold, metric scoping. */
import type { Executor } from '../../db/database.js';
import { created, removed, updated } from '../audit/audit.changes.js';
import type { PageRequest } from '../../db/paging.js';
import type { Clock } from '../../infra/clock.js';
import { formatCachetTime, toStoredTime } from '../../infra/time.js';
import type { MetricPointRow, MetricPointsRepo } from './metric-points.repo.js';
import type { CreateMetricPointInput, MetricPoint, UpdateMetricPointInput } from './metric-points.schema.js';
import type { MetricsRepo } from './metrics.repo.js';
import { visibleToGuests } from './metrics.service.js';

const MINUTE_MS = 60_000;
const ROUNDING_MS = 30_000;

/** An instant rounded to the nearest 30 seconds (halves up), as Cachet stores point times. */
export function roundToHalfMinute(ms: number): Date {
  return new Date(Math.round(ms / ROUNDING_MS) * ROUNDING_MS);
}

/**
 * Start of the aggregation window for a point at `ms`: `threshold − 1` minutes earlier, at the
 * start of that minute (Cachet's `now()->subMinutes(threshold - 1)->startOfMinute()`).
 */
export function aggregationWindowStart(ms: number, thresholdMinutes: number): Date {
  const start = ms - (thresholdMinutes - 1) * MINUTE_MS;
  return new Date(Math.floor(start / MINUTE_MS) * MINUTE_MS);
}

/** A stored point in Cachet's response shape, times in `zone`. */
export function presentMetricPoint(row: MetricPointRow, zone: string): MetricPoint {
  return {
    id: row.id,
    metric_id: row.metric_id,
    value: row.value,
    counter: row.counter,
    calculated_value: row.value * row.counter,
    created_at: formatCachetTime(row.created_at, zone)!,
    updated_at: formatCachetTime(row.updated_at, zone)!,
  };
}

export interface MetricPointsServiceDeps {
  repo: MetricPointsRepo;
  metricsRepo: MetricsRepo;
  clock: Clock;
}

/** Creates the metric points service. */
export function createMetricPointsService({ repo, metricsRepo, clock }: MetricPointsServiceDeps) {
  /** When a point reported at `timestamp` (unix seconds; default now) happened, in ms. */
  function pointTime(timestamp: number | undefined): number {
    return timestamp === undefined ? clock.now().getTime() : timestamp * 1000;
  }

  return {
    /**
     * One page of a metric's points, newest first; null when the metric does not exist or the
     * caller may not see it (`includeHidden` false: only metrics shown to guests).
     */
    async list(db: Executor, metricId: number, page: PageRequest, includeHidden: boolean, zone: string) {
      const metric = await metricsRepo.find(db, metricId);
      if (!metric || (!includeHidden && !visibleToGuests(metric))) return null;
      const { total, rows } = await repo.list(db, metricId, page);
      return { total, items: rows.map((row) => presentMetricPoint(row, zone)) };
    },

    /**
     * Records a value. A point of the same metric with the same value whose time lies between the
     * window start and this point's (rounded) time absorbs it (`counter + 1`); otherwise a new point
     * is stored. Null when the metric does not exist.
     */
    async create(trx: Executor, metricId: number, input: CreateMetricPointInput): Promise<MetricPointRow | null> {
      const metric = await metricsRepo.lock(trx, metricId);
      if (!metric) return null;
      const at = pointTime(input.timestamp);
      const createdAt = toStoredTime(roundToHalfMinute(at));
      const now = toStoredTime(clock.now());
      const windowStart = toStoredTime(aggregationWindowStart(at, metric.threshold));
      const existing = await repo.findSameValue(trx, metricId, input.value, windowStart, createdAt);
      if (existing) return updated(trx, 'metric-points', { before: existing, after: await repo.increment(trx, existing.id, now) }).after;
      return created(trx, 'metric-points', await repo.insert(trx, { metric_id: metricId, value: input.value, counter: 1, created_at: createdAt, updated_at: now }));
    },

    /** Changes a point's value and/or time (rounded to 30 s). Null when it is not a point of `metricId`. */
    async update(
      trx: Executor,
      metricId: number,
      id: number,
      input: UpdateMetricPointInput,
    ): Promise<{ before: MetricPointRow; after: MetricPointRow } | null> {
      const before = await repo.find(trx, metricId, id);
      if (!before) return null;
      const after = await repo.update(trx, id, {
        ...(input.value !== undefined && { value: input.value }),
        ...(input.timestamp !== undefined && { created_at: toStoredTime(roundToHalfMinute(pointTime(input.timestamp))) }),
        updated_at: toStoredTime(clock.now()),
      });
      return updated(trx, 'metric-points', { before, after });
    },

    /** Deletes a point of `metricId`. Null when it is not one. */
    async remove(trx: Executor, metricId: number, id: number): Promise<MetricPointRow | null> {
      const row = await repo.find(trx, metricId, id);
      if (!row) return null;
      await repo.delete(trx, id);
      return removed(trx, 'metric-points', row);
    },
  };
}

export type MetricPointsService = ReturnType<typeof createMetricPointsService>;
