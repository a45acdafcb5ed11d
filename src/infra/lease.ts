/** A named lease in the database: at most one holder at a time across instances, taken over once it expires. */
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import type { Clock } from './clock.js';
import { toStoredTime } from './time.js';

/** A lease that `holder` takes, renews and releases. */
export interface Lease {
  /** True when this holder now holds the lease until `now + ttlMs` (taken fresh, renewed, or taken over after expiry). */
  acquire(): Promise<boolean>;
  /** Gives the lease up at once if this holder has it. */
  release(): Promise<void>;
}

/**
 * The lease `name` for `holder`. Taking it is one conditional UPDATE (holder is me, or it has
 * expired): PostgreSQL re-checks the condition on the locked row and SQLite runs writes one at a
 * time, so two instances asking at once never both get it.
 */
export function databaseLease(db: Kysely<DB>, options: { name: string; holder: string; ttlMs: number; clock: Clock }): Lease {
  const { name, holder, ttlMs, clock } = options;
  return {
    async acquire() {
      const now = clock.now();
      const at = toStoredTime(now);
      await db.insertInto('leases').values({ name, holder: '', expires_at: at }).onConflict((oc) => oc.column('name').doNothing()).execute();
      const taken = await db
        .updateTable('leases')
        .set({ holder, expires_at: toStoredTime(new Date(now.getTime() + ttlMs)) })
        .where('name', '=', name)
        .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<=', at)]))
        .executeTakeFirst();
      return Number(taken.numUpdatedRows) === 1;
    },
    async release() {
      await db.updateTable('leases').set({ holder: '', expires_at: toStoredTime(new Date(0)) }).where('name', '=', name).where('holder', '=', holder).execute();
    },
  };
}
