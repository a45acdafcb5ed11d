/** Storage of API keys. Holds digests and display prefixes only: nothing that can recover a token. */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { ApiKeyTable } from '../../db/schema.js';

export type ApiKeyRow = Selectable<ApiKeyTable>;

/** Longest textual IP address (`0000:0000:0000:0000:0000:ffff:255.255.255.255`). */
const MAX_ADDRESS_LENGTH = 45;

export function createKeysRepo() {
  return {
    async findByDigest(db: Executor, digest: string): Promise<ApiKeyRow | undefined> {
      return db.selectFrom('api_keys').selectAll().where('digest', '=', digest).executeTakeFirst();
    },

    async findById(db: Executor, id: number): Promise<ApiKeyRow | undefined> {
      return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async list(db: Executor): Promise<ApiKeyRow[]> {
      return db.selectFrom('api_keys').selectAll().orderBy('id', 'asc').execute();
    },

    /**
     * Marks live keys whose expiry falls in `(now, until]` and that were never warned about, and
     * returns them. One conditional update: with several instances each key is returned to one.
     */
    async markExpiryWarned(db: Executor, now: string, until: string): Promise<ApiKeyRow[]> {
      return db
        .updateTable('api_keys')
        .set({ expiry_warned_at: now })
        .where('expiry_warned_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('replaced_by_id', 'is', null)
        .where('expires_at', 'is not', null)
        .where('expires_at', '>', now)
        .where('expires_at', '<=', until)
        .returningAll()
        .execute();
    },

    /** Marks unrevoked keys past their expiry whose expiry was never recorded, and returns them (once each, across instances). */
    async markExpiryRecorded(db: Executor, now: string): Promise<ApiKeyRow[]> {
      return db
        .updateTable('api_keys')
        .set({ expired_recorded_at: now })
        .where('expired_recorded_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', 'is not', null)
        .where('expires_at', '<=', now)
        .returningAll()
        .execute();
    },

    async count(db: Executor): Promise<number> {
      const row = await db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async insert(db: Executor, row: Insertable<ApiKeyTable>): Promise<ApiKeyRow> {
      return db.insertInto('api_keys').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<ApiKeyTable>): Promise<ApiKeyRow> {
      return db.updateTable('api_keys').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async markRevoked(db: Executor, id: number, at: string): Promise<ApiKeyRow | undefined> {
      return db
        .updateTable('api_keys')
        .set({ revoked_at: at, updated_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
    },

    /** Records last use in one statement per key; called in batches, off the request path. */
    async recordUse(db: Executor, id: number, at: string, ip: string, firstAt: string = at): Promise<void> {
      // The longest textual IP address is 45 characters; nothing longer is ever stored.
      await db
        .updateTable('api_keys')
        .set((eb) => ({ last_used_at: at, last_used_ip: ip.slice(0, MAX_ADDRESS_LENGTH), first_used_at: eb.fn.coalesce('first_used_at', eb.val(firstAt)) }))
        .where('id', '=', id)
        .execute();
    },

    /** Bumped in the transaction of every change that alters what a key may do, so every instance drops its cache. */
    async bumpRevision(db: Executor): Promise<void> {
      await db.updateTable('key_revision').set((eb) => ({ revision: eb('revision', '+', 1) })).where('id', '=', 1).execute();
    },

    async revision(db: Executor): Promise<number> {
      const row = await db.selectFrom('key_revision').select('revision').where('id', '=', 1).executeTakeFirst();
      return row?.revision ?? 0;
    },

    /**
     * Serialises bootstrap across instances: the upsert takes a row lock (PostgreSQL) or the write
     * lock (SQLite) that the second starter waits on, so it then sees the first one's key.
     */
    async lockBootstrap(db: Executor, at: string): Promise<void> {
      await db
        .insertInto('settings')
        .values({ name: 'bootstrap_lock', value: at })
        .onConflict((oc) => oc.column('name').doUpdateSet({ value: at }))
        .execute();
    },
  };
}

export type KeysRepo = ReturnType<typeof createKeysRepo>;
