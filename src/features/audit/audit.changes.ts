/**
 * What a mutation changed, computed once where the change is made. A service records each change
 * on the transaction it was given (`recordChange(trx, …)`); the transaction's owner (`transact` for
 * a request, `auditedTransaction` for the CLI) opened the log with `trackChanges` and writes the
 * events from it in the same transaction. Recording on a transaction nobody tracks throws: a
 * change without its event cannot happen quietly.
 */
import { createHmac } from 'node:crypto';
import type { Change, FieldChanges } from './audit.types.js';

const logs = new WeakMap<object, Change[]>();

/** Starts collecting the changes made in `trx`; returns the list they are added to. */
export function trackChanges(trx: object): Change[] {
  const list: Change[] = [];
  logs.set(trx, list);
  return list;
}

/** Records a change made in `trx` (a service calls this beside its write). */
export function recordChange(trx: object, change: Change): void {
  const list = logs.get(trx);
  if (!list) throw new Error(`unaudited change to ${change.resource} ${change.id}: the transaction was not opened for auditing`);
  list.push(change);
}

/** Fields never written to an event, in any form. */
const SECRET_FIELDS = new Set(['digest', 'token', 'verify_code', 'password', 'password_hash', 'secret', 'totp_secret', 'recovery_codes']);
/** Personal data: stored as a keyed digest, so an auditor holding the value can still find its events. */
const PERSONAL_FIELDS = new Set(['email', 'phone_number', 'slack_webhook_url']);
/** Bookkeeping that every update changes; it says nothing an event's `at` does not. */
const NOISE_FIELDS = new Set(['updated_at']);

/** The digest an event holds in place of a personal value: `hmac-sha256:<hex>` under the pepper. */
export function personalDigest(pepper: Buffer, value: string): string {
  return `hmac-sha256:${createHmac('sha256', pepper).update('audit\0', 'utf8').update(value, 'utf8').digest('hex')}`;
}

function redact(pepper: Buffer, field: string, value: unknown): unknown {
  if (PERSONAL_FIELDS.has(field) && typeof value === 'string') return personalDigest(pepper, value);
  return value;
}

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** `[before, after]` per changed field, redacted; every field of a created or deleted record. */
export function fieldChanges(pepper: Buffer, before: object | null, after: object | null): FieldChanges {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  const changes: FieldChanges = {};
  for (const field of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (SECRET_FIELDS.has(field) || NOISE_FIELDS.has(field)) continue;
    const was = before === null ? null : (b[field] ?? null);
    const now = after === null ? null : (a[field] ?? null);
    if (!same(was, now)) changes[field] = [redact(pepper, field, was), redact(pepper, field, now)];
  }
  return changes;
}

/** The action a change stands for: its own, or create/update/delete from what existed before and after. */
export function changeAction(change: Change): string {
  if (change.action) return change.action;
  return `${change.resource}.${change.before === null ? 'create' : change.after === null ? 'delete' : 'update'}`;
}

/** Records that `row` was created in `trx` and returns it. */
export function created<T extends { id: number }>(trx: object, resource: string, row: T): T {
  recordChange(trx, { resource, id: row.id, before: null, after: row });
  return row;
}

/** Records that a record changed from `before` to `after` in `trx` and returns the pair. */
export function updated<T extends { id: number }>(trx: object, resource: string, pair: { before: T; after: T }): { before: T; after: T } {
  recordChange(trx, { resource, id: pair.after.id, before: pair.before, after: pair.after });
  return pair;
}

/** Records that `row` was deleted in `trx` and returns it. */
export function removed<T extends { id: number }>(trx: object, resource: string, row: T): T {
  recordChange(trx, { resource, id: row.id, before: row, after: null });
  return row;
}
