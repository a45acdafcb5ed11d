/** Key lifecycle: rotation links (which key replaced which, and when) and the first use of a key (proof of pickup). */
import type { Kysely } from 'kysely';

export function keyLifecycle() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('api_keys').addColumn('replaces_id', 'integer').execute();
      await db.schema.alterTable('api_keys').addColumn('replaced_by_id', 'integer').execute();
      await db.schema.alterTable('api_keys').addColumn('rotated_at', 'text').execute();
      await db.schema.alterTable('api_keys').addColumn('first_used_at', 'text').execute();
    },
  };
}
