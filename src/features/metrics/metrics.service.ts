/** Metric rules: defaults, the divides-60 threshold rule, guest visibility and the Cachet 2.4 response shape. */
import type { Executor } from '../../db/database.js';
import { created, removed, updated } from '../audit/audit.changes.js';
import type { PageRequest } from '../../db/paging.js';
import { validationError } from '../../http/errors.js';
import type { Clock } from '../../infra/clock.js';
import { formatCachetTime, toStoredTime } from '../../infra/time.js';
import type { MetricPointsRepo } from './metric-points.repo.js';
import { METRIC_VISIBLE_TO_GUESTS, type MetricRow, type MetricsRepo } from './metrics.repo.js';
import { DEFAULT_VIEW_NAMES, THRESHOLDS, type CreateMetricInput, type Metric, type UpdateMetricInput } from './metrics.schema.js';

/** A stored metric in Cachet's response shape, times in `zone`. */
export function presentMetric(row: MetricRow, zone: string): Metric {
  return {
    id: row.id,
    name: row.name,
    suffix: row.suffix,
    description: row.description,
    default_value: row.default_value,
    calc_type: row.calc_type,
    display_chart: row.display_chart === 1,
    places: row.places,
    default_view: row.default_view,
    threshold: row.threshold,
    order: row.order,
    visible: row.visible,
    created_at: formatCachetTime(row.created_at, zone)!,
    updated_at: formatCachetTime(row.updated_at, zone)!,
    default_view_name: DEFAULT_VIEW_NAMES[row.default_view] ?? DEFAULT_VIEW_NAMES[1],
  };
}

/** True when a guest may see the metric (and so its points). */
export function visibleToGuests(row: MetricRow): boolean {
  return row.visible === METRIC_VISIBLE_TO_GUESTS;
}

/** Refuses a threshold that does not split an hour evenly (Cachet's model rule), naming the rule. */
function checkThreshold(threshold: number | undefined): void {
  if (threshold !== undefined && !(THRESHOLDS as readonly number[]).includes(threshold)) {
    throw validationError([`The threshold must divide 60 minutes evenly: one of ${THRESHOLDS.join(', ')}.`]);
  }
}

export interface MetricsServiceDeps {
  repo: MetricsRepo;
  pointsRepo: MetricPointsRepo;
  clock: Clock;
}

/** Creates the metrics service. */
export function createMetricsService({ repo, pointsRepo, clock }: MetricsServiceDeps) {
  return {
    /** One page of metrics; guests (`includeHidden` false) see `visible = 1` ones only. */
    async list(db: Executor, page: PageRequest, includeHidden: boolean, zone: string) {
      const { total, rows } = await repo.list(db, !includeHidden, page);
      return { total, items: rows.map((row) => presentMetric(row, zone)) };
    },

    /** A metric, or null when it does not exist or the caller may not see it. */
    async show(db: Executor, id: number, includeHidden: boolean, zone: string): Promise<Metric | null> {
      const row = await repo.find(db, id);
      if (!row || (!includeHidden && !visibleToGuests(row))) return null;
      return presentMetric(row, zone);
    },

    async create(trx: Executor, input: CreateMetricInput): Promise<MetricRow> {
      checkThreshold(input.threshold);
      const at = toStoredTime(clock.now());
      return created(trx, 'metrics', await repo.insert(trx, {
        name: input.name,
        suffix: input.suffix,
        description: input.description ?? '',
        default_value: input.default_value,
        calc_type: input.calc_type ?? 0,
        display_chart: input.display_chart === false ? 0 : 1,
        places: input.places ?? 2,
        default_view: input.default_view ?? input.view ?? 1,
        threshold: input.threshold ?? 5,
        order: input.order ?? 0,
        visible: input.visible ?? METRIC_VISIBLE_TO_GUESTS,
        created_at: at,
        updated_at: at,
      }));
    },

    /** Changes only the fields given. Null when missing. */
    async update(trx: Executor, id: number, input: UpdateMetricInput): Promise<{ before: MetricRow; after: MetricRow } | null> {
      checkThreshold(input.threshold);
      const before = await repo.find(trx, id);
      if (!before) return null;
      const defaultView = input.default_view ?? input.view;
      const after = await repo.update(trx, id, {
        ...(input.name !== undefined && { name: input.name }),
        ...(input.suffix !== undefined && { suffix: input.suffix }),
        ...(input.description !== undefined && { description: input.description }),
        ...(input.default_value !== undefined && { default_value: input.default_value }),
        ...(input.calc_type !== undefined && { calc_type: input.calc_type }),
        ...(input.display_chart !== undefined && { display_chart: input.display_chart ? 1 : 0 }),
        ...(input.places !== undefined && { places: input.places }),
        ...(defaultView !== undefined && { default_view: defaultView }),
        ...(input.threshold !== undefined && { threshold: input.threshold }),
        ...(input.order !== undefined && { order: input.order }),
        ...(input.visible !== undefined && { visible: input.visible }),
        updated_at: toStoredTime(clock.now()),
      });
      return updated(trx, 'metrics', { before, after });
    },

    /** Deletes a metric and all its points (call inside one transaction). Null when missing. */
    async remove(trx: Executor, id: number): Promise<MetricRow | null> {
      // Locking first means a point being added concurrently either lands before the purge or sees a 404.
      const row = await repo.lock(trx, id);
      if (!row) return null;
      await pointsRepo.deleteOfMetric(trx, id);
      await repo.delete(trx, id);
      return removed(trx, 'metrics', row);
    },
  };
}

export type MetricsService = ReturnType<typeof createMetricsService>;
