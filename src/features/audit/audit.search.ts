/** Finds a key's events by its token: every event it made, its lifecycle, and refused presentations of its prefix. */
import type { Executor } from '../../db/database.js';
import { keyDigest } from '../../infra/crypto.js';
import type { AuditEventRow } from './audit.repo.js';

/** Why an event belongs to the key: it acted with it, the key itself changed, or a token with its prefix was refused. */
export type KeyEventMatch = 'key' | 'lifecycle' | 'prefix';

/** The key a token belongs to (revoked and expired keys included), or undefined. Only the digest is looked up. */
export async function keyOfToken(db: Executor, pepper: Buffer, token: string) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'prefix', 'revoked_at', 'expires_at'])
    .where('digest', '=', keyDigest(pepper, token))
    .executeTakeFirst();
}

/** How an event matched `key`. */
export function matchOf(row: AuditEventRow, key: { id: number }): KeyEventMatch {
  if (row.key_id === key.id) return 'key';
  if (row.resource_type === 'keys' && row.resource_id === String(key.id)) return 'lifecycle';
  return 'prefix';
}

/** The key's events after `afterSeq`, in chain order, at most `limit`. */
export function keyEvents(db: Executor, key: { id: number; prefix: string }, afterSeq: number, limit: number): Promise<AuditEventRow[]> {
  return db
    .selectFrom('audit_events')
    .selectAll()
    .where('seq', '>', afterSeq)
    .where((eb) =>
      eb.or([
        eb('key_id', '=', key.id),
        eb.and([eb('resource_type', '=', 'keys'), eb('resource_id', '=', String(key.id))]),
        eb.and([eb('key_id', 'is', null), eb('key_prefix', '=', key.prefix)]),
      ]),
    )
    .orderBy('seq')
    .limit(limit)
    .execute();
}
