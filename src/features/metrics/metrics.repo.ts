/** Storage of metrics. Metrics are deleted outright, as in Cachet 2.4 (their points go with them). */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { MetricTable } from '../../db/schema.js';

export type MetricRow = Selectable<MetricTable>;

/** Value of `visible` that lets guests see a metric. */
export const METRIC_VISIBLE_TO_GUESTS = 1;

/** Creates the metrics repository. */
export function createMetricsRepo() {
  return {
    /** One page of metrics; `guestsOnly` keeps those guests may see. */
    async list(db: Executor, guestsOnly: boolean, page: PageRequest) {
      let query = db.selectFrom('metrics').selectAll('metrics');
      if (guestsOnly) query = query.where('metrics.visible', '=', METRIC_VISIBLE_TO_GUESTS);
      return fetchPage(query, 'metrics', page);
    },

    async find(db: Executor, id: number): Promise<MetricRow | undefined> {
      return db.selectFrom('metrics').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /**
     * Reads a metric and holds its row lock until the transaction ends (a no-op update, which both
     * dialects lock), so concurrent writes of points to one metric aggregate instead of racing.
     */
    async lock(trx: Executor, id: number): Promise<MetricRow | undefined> {
      return trx
        .updateTable('metrics')
        .set((eb) => ({ threshold: eb.ref('threshold') }))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    },

    async insert(db: Executor, row: Insertable<MetricTable>): Promise<MetricRow> {
      return db.insertInto('metrics').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<MetricTable>): Promise<MetricRow> {
      return db.updateTable('metrics').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async delete(db: Executor, id: number): Promise<void> {
      await db.deleteFrom('metrics').where('id', '=', id).execute();
    },
  };
}

export type MetricsRepo = ReturnType<typeof createMetricsRepo>;
