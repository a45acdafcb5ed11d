/** Key review: a narrowing tried in report-only mode (`shadow`), and how the last one ended. */
import type { Kysely } from 'kysely';

export function keyReview() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // JSON {scopes, allowed_ips, resources, started_at, until, on_quiet}: the narrower key the
      // pipeline checks each request against, auditing what it would refuse.
      await db.schema.alterTable('api_keys').addColumn('shadow', 'text').execute();
      // JSON {ended_at, outcome: applied|proposed|cancelled, denials, narrowing}.
      await db.schema.alterTable('api_keys').addColumn('shadow_result', 'text').execute();
    },
  };
}
