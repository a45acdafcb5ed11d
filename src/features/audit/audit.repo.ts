/** Audit storage: append under the head's lock, read in chain order, query for the API. */
import { sql, type Selectable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { AuditEventTable } from '../../db/schema.js';

export type AuditEventRow = Selectable<AuditEventTable>;

export interface AuditFilters {
  key_id?: number;
  action?: string;
  resource_type?: string;
  resource_id?: string;
  outcome?: string;
  reason?: string;
  request_id?: string;
  since?: string;
  until?: string;
}

export function createAuditRepo() {
  return {
    /**
     * Reserves `count` positions in the chain and returns the first one and the hash it links to.
     * The update takes the head row's write lock (PostgreSQL: row lock; SQLite: the database's
     * write lock), so appends from every instance are serialised until their transaction ends.
     */
    async reserve(trx: Executor, count: number): Promise<{ first: number; prevHash: string }> {
      const head = await trx
        .updateTable('audit_head')
        .set({ seq: sql<number>`seq + ${count}` })
        .where('id', '=', 1)
        .returning(['seq', 'hash'])
        .executeTakeFirstOrThrow();
      return { first: Number(head.seq) - count + 1, prevHash: head.hash };
    },

    async insert(trx: Executor, rows: AuditEventRow[]): Promise<void> {
      // Bounded statement size: SQLite allows 32,766 parameters, 21 columns per row.
      for (let i = 0; i < rows.length; i += 500) await trx.insertInto('audit_events').values(rows.slice(i, i + 500)).execute();
    },

    async setHeadHash(trx: Executor, hash: string): Promise<void> {
      await trx.updateTable('audit_head').set({ hash }).where('id', '=', 1).execute();
    },

    head(db: Executor) {
      return db.selectFrom('audit_head').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
    },

    /** Events after `afterSeq` in chain order, at most `limit`; with `window`, only those at or after `since` and before `until`. */
    after(db: Executor, afterSeq: number, limit: number, window: { since?: string; until?: string } = {}): Promise<AuditEventRow[]> {
      let q = db.selectFrom('audit_events').selectAll().where('seq', '>', afterSeq);
      if (window.since !== undefined) q = q.where('at', '>=', window.since);
      if (window.until !== undefined) q = q.where('at', '<', window.until);
      return q.orderBy('seq').limit(limit).execute();
    },

    /** Newest first, filtered; `total` counts every match. */
    async query(db: Executor, filters: AuditFilters, page: { limit: number; offset: number }) {
      let q = db.selectFrom('audit_events');
      for (const column of ['key_id', 'action', 'resource_type', 'resource_id', 'outcome', 'reason', 'request_id'] as const) {
        const value = filters[column];
        if (value !== undefined) q = q.where(column, '=', value);
      }
      if (filters.since !== undefined) q = q.where('at', '>=', filters.since);
      if (filters.until !== undefined) q = q.where('at', '<', filters.until);
      const [{ total }, rows] = await Promise.all([
        q.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
        q.selectAll().orderBy('seq', 'desc').limit(page.limit).offset(page.offset).execute(),
      ]);
      return { total: Number(total), rows };
    },

    /** A key's use in [since, until): counts by action and outcome, addresses, first and last use. */
    async usage(db: Executor, keyId: number, since: string, until: string) {
      const window = db.selectFrom('audit_events').where('key_id', '=', keyId).where('at', '>=', since).where('at', '<', until);
      const [counts, addresses, span] = await Promise.all([
        window.select(['action', 'outcome', (eb) => eb.fn.countAll<number>().as('count')]).groupBy(['action', 'outcome']).orderBy('action').orderBy('outcome').execute(),
        window
          .select(['ip', (eb) => eb.fn.countAll<number>().as('count'), (eb) => eb.fn.min('at').as('first'), (eb) => eb.fn.max('at').as('last')])
          .where('ip', 'is not', null)
          .groupBy('ip')
          .orderBy('count', 'desc')
          .limit(100)
          .execute(),
        window.select([(eb) => eb.fn.min('at').as('first'), (eb) => eb.fn.max('at').as('last')]).executeTakeFirst(),
      ]);
      return { counts, addresses, first: span?.first ?? null, last: span?.last ?? null };
    },
  };
}

export type AuditRepo = ReturnType<typeof createAuditRepo>;
