/** Key limits and expiry bookkeeping: a start time (`not_before`), and when the expiry warning and the expiry event were written. */
import type { Kysely } from 'kysely';

export function keyLimits() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('api_keys').addColumn('not_before', 'text').execute();
      await db.schema.alterTable('api_keys').addColumn('expiry_warned_at', 'text').execute();
      await db.schema.alterTable('api_keys').addColumn('expired_recorded_at', 'text').execute();
    },
  };
}
