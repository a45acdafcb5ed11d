/** Rotation policies: a key's schedule and delivery target, its delivery state, and the lease that lets one instance rotate at a time. */
import type { Kysely } from 'kysely';

/** Adds the policy and delivery-state columns to `api_keys`, and the `leases` table. */
export function rotationPolicies() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const columns: [string, 'text' | 'integer'][] = [
        ['rotation', 'text'],
        ['rotation_secret', 'text'],
        ['rotation_pending_id', 'integer'],
        ['delivery_attempted_at', 'text'],
        ['delivery_error', 'text'],
        ['delivery_next_at', 'text'],
        ['delivered_at', 'text'],
      ];
      // One statement per column: SQLite's ALTER TABLE adds one at a time.
      for (const [name, type] of columns) await db.schema.alterTable('api_keys').addColumn(name, type).execute();
      await db.schema.alterTable('api_keys').addColumn('delivery_failures', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema
        .createTable('leases')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
