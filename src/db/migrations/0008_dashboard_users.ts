/**
 * The dashboard: users (scrypt password hashes, role, optional TOTP with recovery codes), their
 * sessions (stored by a keyed digest of the session id, never the id), and who owns each key.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { withId } from './helpers.js';

export function dashboardUsers(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await withId(db.schema.createTable('users'), dialect)
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        // AES-256-GCM under a key derived from the pepper: the server must read it to check a code.
        .addColumn('totp_secret', 'text')
        .addColumn('totp_enabled_at', 'text')
        // The last time step a code was accepted for: a code is never accepted twice.
        .addColumn('totp_last_step', 'bigint')
        // JSON list of keyed digests of the unused recovery codes.
        .addColumn('recovery_codes', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('password_changed_at', 'text', (c) => c.notNull())
        .addColumn('last_sign_in_at', 'text')
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'integer', (c) => c.notNull())
        // `password`: the password was right and a TOTP code is awaited; `full`: signed in.
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .execute();
      await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
      await db.schema.alterTable('api_keys').addColumn('owner_user_id', 'integer').execute();
      await db.schema.createIndex('api_keys_owner').on('api_keys').column('owner_user_id').execute();
    },
  };
}
