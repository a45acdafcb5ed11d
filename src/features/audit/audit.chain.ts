/**
 * The hash chain: `hash = SHA-256(prev_hash ‖ canonical JSON of the event)`, canonical JSON per
 * RFC 8785 (the `canonicalize` package), over every field but `hash` and `prev_hash`.
 * Exported NDJSON lines carry the same fields, so anyone can recompute the chain from an export.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditEventRow } from './audit.repo.js';
import type { AuditEvent, FieldChanges } from './audit.types.js';

export { GENESIS_HASH } from '../../db/migrations/0003_audit.js';

/** The fields an event's hash covers, in a stored or exported event. */
export function hashedContent(event: Omit<AuditEvent, 'hash' | 'prev_hash'> & { hash?: string; prev_hash?: string }): Record<string, unknown> {
  const { hash: _hash, prev_hash: _prev, ...content } = event;
  return content;
}

/** The event's hash given the previous event's hash. */
export function eventHash(prevHash: string, content: Record<string, unknown>): string {
  const json = canonicalize(content);
  if (json === undefined) throw new Error('audit event cannot be serialised');
  return createHash('sha256').update(prevHash, 'utf8').update(json, 'utf8').digest('hex');
}

/** A stored row in its exported form (`changes` parsed). */
export function eventOfRow(row: AuditEventRow): AuditEvent {
  return { ...row, changes: row.changes === null ? null : (JSON.parse(row.changes) as FieldChanges) };
}

/** Canonical JSON bytes of a checkpoint, which its Ed25519 signature covers. */
export function checkpointMessage(checkpoint: { seq: number; hash: string; at: string }): Buffer {
  return Buffer.from(canonicalize({ seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at })!, 'utf8');
}
