/** The audit trail's vocabulary (DESIGN.md §4); nothing here knows of HTTP. */
import type { AuditEventTable } from '../../db/schema.js';

/** Who acted: a key, a dashboard user, the system (CLI, background jobs) or nobody identified. */
export interface Actor {
  type: 'key' | 'user' | 'system' | 'anonymous';
  keyId?: number | null;
  keyPrefix?: string | null;
  userId?: number | null;
}

/** Where an action came from: built by the HTTP pipeline for a request, by the CLI for a command. */
export interface AuditContext {
  actor: Actor;
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  method: string | null;
  path: string | null;
}

export type Outcome = 'allowed' | 'denied' | 'failed';

/** Field → [before, after]; secrets dropped, personal data replaced by a keyed digest. */
export type FieldChanges = Record<string, [unknown, unknown]>;

/** What one event says happened. */
export interface AuditFact {
  /** `<resource>.<verb>`, e.g. `components.update`. */
  action: string;
  resourceType: string | null;
  resourceId: string | number | null;
  outcome: Outcome;
  status: number | null;
  reason: string | null;
  changes: FieldChanges | null;
}

/** A change a service made: the resource, its id and its state before and after (null when absent). */
export interface Change {
  resource: string;
  id: number | string;
  before: object | null;
  after: object | null;
  /** The action, when not implied (`<resource>.create|update|delete` from before/after). */
  action?: string;
}

/** An event as exported: the stored row (the table's type is the one definition) with `changes` parsed. */
export type AuditEvent = Omit<AuditEventTable, 'changes'> & { changes: FieldChanges | null };

/** The system actor with the command that acted as its user agent (`cachet keys revoke`). */
export function systemContext(command: string): AuditContext {
  return { actor: { type: 'system' }, requestId: null, ip: null, userAgent: command, method: null, path: null };
}
