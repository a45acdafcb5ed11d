/** Storage of the status page's settings: `page.*` rows of the `settings` table (name → text value), which holds other rows too. */
import type { Executor } from '../../db/database.js';

/** The row taken (upserted) first by every update, so concurrent updates run one after the other. */
const LOCK_ROW = 'page.lock';

export function createPageSettingsRepo() {
  return {
    /** The stored values of `names` (those present), by name. */
    async read(db: Executor, names: readonly string[]): Promise<Map<string, string>> {
      const rows = await db.selectFrom('settings').select(['name', 'value']).where('name', 'in', [...names]).execute();
      return new Map(rows.map((r) => [r.name, r.value]));
    },

    /** Stores `value` under `name`, replacing what was there (an upsert, on SQLite and PostgreSQL alike). */
    async write(db: Executor, name: string, value: string): Promise<void> {
      await db
        .insertInto('settings')
        .values({ name, value })
        .onConflict((oc) => oc.column('name').doUpdateSet({ value }))
        .execute();
    },

    /**
     * Serialises page-settings updates: the upsert takes a row lock (PostgreSQL) or the write lock
     * (SQLite) held until the transaction ends, so a second update reads the first one's result as
     * its "before" (as keys.repo's `lockBootstrap`).
     */
    async lock(db: Executor): Promise<void> {
      await db
        .insertInto('settings')
        .values({ name: LOCK_ROW, value: '' })
        .onConflict((oc) => oc.column('name').doUpdateSet({ value: '' }))
        .execute();
    },
  };
}

export type PageSettingsRepo = ReturnType<typeof createPageSettingsRepo>;
