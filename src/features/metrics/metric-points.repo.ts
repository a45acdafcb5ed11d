/** Storage of metric points; every read and write is scoped to the point's metric. */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { MetricPointTable } from '../../db/schema.js';

export type MetricPointRow = Selectable<MetricPointTable>;

/** Creates the metric points repository. */
export function createMetricPointsRepo() {
  return {
    /** One page of a metric's points, newest `created_at` first. */
    async list(db: Executor, metricId: number, page: PageRequest) {
      const query = db.selectFrom('metric_points').selectAll('metric_points').where('metric_points.metric_id', '=', metricId);
      return fetchPage(query, 'metric_points', page, { column: 'created_at', direction: 'desc' });
    },

    /** A point of `metricId`; a point of another metric is not found. */
    async find(db: Executor, metricId: number, id: number): Promise<MetricPointRow | undefined> {
      return db.selectFrom('metric_points').selectAll().where('id', '=', id).where('metric_id', '=', metricId).executeTakeFirst();
    },

    /** The newest point of `metricId` with exactly `value` whose `created_at` lies in [from, to]. */
    async findSameValue(db: Executor, metricId: number, value: number, from: string, to: string): Promise<MetricPointRow | undefined> {
      return db
        .selectFrom('metric_points')
        .selectAll()
        .where('metric_id', '=', metricId)
        .where('value', '=', value)
        .where('created_at', '>=', from)
        .where('created_at', '<=', to)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
    },

    async insert(db: Executor, row: Insertable<MetricPointTable>): Promise<MetricPointRow> {
      return db.insertInto('metric_points').values(row).returningAll().executeTakeFirstOrThrow();
    },

    /** Counts one more occurrence of a point's value, in SQL so that no increment is lost. */
    async increment(db: Executor, id: number, at: string): Promise<MetricPointRow> {
      return db
        .updateTable('metric_points')
        .set((eb) => ({ counter: eb('counter', '+', 1), updated_at: at }))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<MetricPointTable>): Promise<MetricPointRow> {
      return db.updateTable('metric_points').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async delete(db: Executor, id: number): Promise<void> {
      await db.deleteFrom('metric_points').where('id', '=', id).execute();
    },

    async deleteOfMetric(db: Executor, metricId: number): Promise<void> {
      await db.deleteFrom('metric_points').where('metric_id', '=', metricId).execute();
    },
  };
}

export type MetricPointsRepo = ReturnType<typeof createMetricPointsRepo>;
