/** The audit trail's vocabulary (DESIGN.md §4); nothing here knows of HTTP. */

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

/** An event as stored and exported. */
export interface AuditEvent {
  seq: number;
  id: string;
  at: string;
  request_id: string | null;
  actor_type: Actor['type'];
  key_id: number | null;
  key_prefix: string | null;
  user_id: number | null;
  ip: string | null;
  user_agent: string | null;
  method: string | null;
  path: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  outcome: Outcome;
  status: number | null;
  reason: string | null;
  changes: FieldChanges | null;
  prev_hash: string;
  hash: string;
}

/** The system actor with the command that acted as its user agent (`cachet keys revoke`). */
export function systemContext(command: string): AuditContext {
  return { actor: { type: 'system' }, requestId: null, ip: null, userAgent: command, method: null, path: null };
}
