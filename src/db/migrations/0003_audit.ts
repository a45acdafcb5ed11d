/**
 * The audit trail (DESIGN.md §4): events in one hash chain, the chain's head (also the lock that
 * serialises appends across instances), signed checkpoints, and the shipping cursors of the sinks.
 */
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

export function audit(dialect: Dialect) {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', bigint, (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('actor_type', 'text', (c) => c.notNull())
        .addColumn('key_id', 'integer')
        .addColumn('key_prefix', 'text')
        .addColumn('user_id', 'integer')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('method', 'text')
        .addColumn('path', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('resource_type', 'text')
        .addColumn('resource_id', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('reason', 'text')
        .addColumn('changes', 'text')
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_key_id').on('audit_events').columns(['key_id', 'seq']).execute();
      await db.schema.createIndex('audit_events_resource').on('audit_events').columns(['resource_type', 'resource_id', 'seq']).execute();
      await db.schema.createIndex('audit_events_action').on('audit_events').columns(['action', 'seq']).execute();
      await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
      await db.schema.createIndex('audit_events_request_id').on('audit_events').column('request_id').execute();

      // One row: the chain's head and, after a prune, the anchor the remaining events chain from.
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seq', bigint, (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('anchor_seq', bigint, (c) => c.notNull())
        .addColumn('anchor_hash', 'text', (c) => c.notNull())
        .execute();
      await sql`insert into audit_head (id, seq, hash, anchor_seq, anchor_hash) values (1, 0, ${GENESIS_HASH}, 0, ${GENESIS_HASH})`.execute(db);

      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('seq', bigint, (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('audit_cursors')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('seq', bigint, (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

/** The `prev_hash` of the first event: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);
