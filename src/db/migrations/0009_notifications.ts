/**
 * Notifications: a durable job queue (leases, retries, held batches), outbound webhooks with their
 * signing secrets and delivery log.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { withId } from './helpers.js';

export function notifications(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await withId(db.schema.createTable('jobs'), dialect)
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        // Enqueueing the same unit of work twice (a retried fan-out) adds nothing.
        .addColumn('dedupe', 'text', (c) => c.unique())
        // ready | held (by the amplification guard) | done | dead (out of attempts) | dropped
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('run_at', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('locked_by', 'text')
        .addColumn('locked_until', 'text')
        .addColumn('last_error', 'text')
        // The key whose write caused the job (the amplification guard counts them per key).
        .addColumn('key_id', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('done_at', 'text')
        .execute();
      await db.schema.createIndex('jobs_ready').on('jobs').columns(['status', 'run_at']).execute();
      await db.schema.createIndex('jobs_key').on('jobs').columns(['key_id', 'kind', 'created_at']).execute();
      await withId(db.schema.createTable('webhooks'), dialect)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        // JSON list of event types, or ["*"].
        .addColumn('events', 'text', (c) => c.notNull())
        // JSON list of signing secrets, newest first: `{secret: "whsec_…", created_at, expires_at|null}`; each
        // delivery is signed with every one not yet expired (several during a secret rotation's grace).
        .addColumn('secrets', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('disabled_at', 'text')
        .addColumn('disabled_reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await withId(db.schema.createTable('webhook_deliveries'), dialect)
        .addColumn('webhook_id', 'integer', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('error', 'text')
        // The start of the response body (at most 1,000 characters).
        .addColumn('response', 'text')
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('webhook_deliveries_webhook').on('webhook_deliveries').columns(['webhook_id', 'id']).execute();
    },
  };
}
