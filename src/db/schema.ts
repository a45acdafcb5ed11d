/** Table types: one interface per table, shared by both dialects (times are ISO-8601 UTC text, booleans 0/1, JSON as text). */
import type { Generated } from 'kysely';

export interface ApiKeyTable {
  id: Generated<number>;
  name: string;
  prefix: string;
  /** HMAC-SHA-256(pepper, token), hex. Unique. */
  digest: string;
  /** JSON list of scope strings. */
  scopes: string;
  purpose: string | null;
  /** JSON list of CIDRs, or null for any address. */
  allowed_ips: string | null;
  /** JSON object resource → list of ids, or null for no resource limit. */
  resources: string | null;
  rate_limit: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  /** Who made the key: `cli`, `bootstrap`, `key:<id>`, `rotation` (scheduled rotation). */
  created_by: string;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
  last_used_ip: string | null;
  /** The key this one replaced by rotation. */
  replaces_id: Generated<number | null>;
  /** The key that replaced this one by rotation. */
  replaced_by_id: Generated<number | null>;
  /** When this key was rotated (its successor made); it then works until `expires_at`, the end of the grace. */
  rotated_at: Generated<string | null>;
  /** First accepted use: for a successor, the proof that its consumer picked it up. */
  first_used_at: Generated<string | null>;
  /** JSON rotation policy (`every`, `grace`, `deliver`, `retire_after_pickup`), or null. */
  rotation: Generated<string | null>;
  /** The webhook target's signing secret (`whsec_…`): it must sign, so it is stored as it is; never shown after it is set. */
  rotation_secret: Generated<string | null>;
  /** A successor made by scheduled rotation whose delivery has not finished yet. */
  rotation_pending_id: Generated<number | null>;
  delivery_attempted_at: Generated<string | null>;
  /** Why the last delivery failed (never a token); null after a success. */
  delivery_error: Generated<string | null>;
  /** When a failed delivery is tried again. */
  delivery_next_at: Generated<string | null>;
  delivered_at: Generated<string | null>;
  /** Failed deliveries since the last success (drives the backoff). */
  delivery_failures: Generated<number>;
  /** The key is refused before this time; null when valid from creation. */
  not_before: Generated<string | null>;
  /** When the server logged that the key entered the expiry warning window (once per key, across instances). */
  expiry_warned_at: Generated<string | null>;
  /** When the key's expiry was written to the audit trail (`keys.expire`, once). */
  expired_recorded_at: Generated<string | null>;
  /** The dashboard user who made the key (or who made the key it replaced); null for CLI, bootstrap and key-made keys. */
  owner_user_id: Generated<number | null>;
  /** JSON: a narrowing tried in report-only mode ({scopes, allowed_ips, resources, started_at, until, on_quiet}), or null. */
  shadow: Generated<string | null>;
  /** JSON: how the last report-only narrowing ended ({ended_at, outcome, denials, narrowing}), or null. */
  shadow_result: Generated<string | null>;
}

/** A unit of background work (a notification's fan-out, one mail, one webhook delivery). */
export interface JobTable {
  id: Generated<number>;
  kind: string;
  /** JSON. */
  payload: string;
  /** Unique when set: the same unit of work is enqueued once. */
  dedupe: string | null;
  status: 'ready' | 'held' | 'done' | 'dead' | 'dropped';
  run_at: string;
  attempts: Generated<number>;
  /** The instance working on it, until `locked_until` (then anyone may take it again). */
  locked_by: Generated<string | null>;
  locked_until: Generated<string | null>;
  last_error: Generated<string | null>;
  /** The key whose write caused it. */
  key_id: number | null;
  created_at: string;
  updated_at: string;
  done_at: Generated<string | null>;
}

/** An outbound webhook target. */
export interface WebhookTable {
  id: Generated<number>;
  name: string;
  url: string;
  /** JSON list of event types, or `["*"]`. */
  events: string;
  /**
   * JSON list of signing secrets, newest first: `{secret: "whsec_…", created_at, expires_at|null}` (ISO times;
   * `expires_at` set by a rotation, after which the secret stops signing). They must sign, so they are
   * stored as they are, and never shown after they are made.
   */
  secrets: string;
  enabled: number;
  /** Failed deliveries in a row. */
  failures: Generated<number>;
  disabled_at: Generated<string | null>;
  disabled_reason: Generated<string | null>;
  created_at: string;
  updated_at: string;
}

/** One attempt to deliver one event to one webhook. */
export interface WebhookDeliveryTable {
  id: Generated<number>;
  webhook_id: number;
  event_id: string;
  event_type: string;
  attempt: number;
  status: number | null;
  error: string | null;
  response: string | null;
  duration_ms: number;
  at: string;
}

/** A dashboard user. */
export interface UserTable {
  id: Generated<number>;
  /** Lower-cased. */
  email: string;
  /** `scrypt$N$r$p$salt$hash` (base64). */
  password_hash: string;
  role: 'admin' | 'user';
  /** AES-256-GCM ciphertext of the TOTP secret under a pepper-derived key; null without two-factor sign-in. */
  totp_secret: Generated<string | null>;
  totp_enabled_at: Generated<string | null>;
  /** The last TOTP time step accepted (a code is never accepted twice). */
  totp_last_step: Generated<number | string | null>;
  /** JSON list of keyed digests of the unused recovery codes. */
  recovery_codes: Generated<string | null>;
  created_at: string;
  updated_at: string;
  password_changed_at: string;
  last_sign_in_at: Generated<string | null>;
}

/** A dashboard session, found by the keyed digest of its id (the id itself lives only in the cookie). */
export interface SessionTable {
  digest: string;
  user_id: number;
  /** `password`: awaiting the TOTP code; `full`: signed in. */
  stage: 'password' | 'full';
  created_at: string;
  last_seen_at: string;
  /** The absolute end of the session. */
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
}

export interface LeaseTable {
  name: string;
  /** The instance holding the lease (a random id per process). */
  holder: string;
  expires_at: string;
}

export interface KeyRevisionTable {
  id: number;
  revision: number;
}

export interface SettingTable {
  name: string;
  value: string;
}

export interface ComponentTable {
  id: Generated<number>;
  name: string;
  description: string;
  link: string;
  status: number;
  order: number;
  group_id: number;
  enabled: number;
  meta: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

/** A status a component entered, and when (every change, whoever made it). */
export interface ComponentStatusHistoryTable {
  id: Generated<number>;
  component_id: number;
  status: number;
  at: string;
}

export interface ComponentTagTable {
  component_id: number;
  slug: string;
  name: string;
}

export interface ComponentGroupTable {
  id: Generated<number>;
  name: string;
  order: number;
  collapsed: number;
  visible: number;
  created_at: string;
  updated_at: string;
}

export interface IncidentTable {
  id: Generated<number>;
  /** 0 when the incident names no component. */
  component_id: number;
  name: string;
  status: number;
  visible: number;
  stickied: number;
  notifications: number;
  message: string;
  /** Cachet's author field; API-key callers are not users, so it stays null (the audit trail names the key). */
  user_id: number | null;
  occurred_at: string;
  /** JSON object, or null. */
  meta: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface IncidentUpdateTable {
  id: Generated<number>;
  incident_id: number;
  status: number;
  message: string;
  user_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface IncidentTemplateTable {
  id: Generated<number>;
  name: string;
  slug: string;
  template: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface MetricTable {
  id: Generated<number>;
  name: string;
  suffix: string;
  description: string;
  default_value: number;
  calc_type: number;
  display_chart: number;
  places: number;
  default_view: number;
  threshold: number;
  order: number;
  visible: number;
  created_at: string;
  updated_at: string;
}

export interface MetricPointTable {
  id: Generated<number>;
  metric_id: number;
  value: number;
  counter: number;
  created_at: string;
  updated_at: string;
}

export interface ScheduleTable {
  id: Generated<number>;
  name: string;
  message: string;
  status: number;
  scheduled_at: string;
  completed_at: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface SubscriberTable {
  id: Generated<number>;
  email: string;
  /** Random code for the (future) verification link; never returned by the API. */
  verify_code: string;
  phone_number: string | null;
  slack_webhook_url: string | null;
  global: number;
  verified_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface SubscriptionTable {
  id: Generated<number>;
  subscriber_id: number;
  component_id: number;
  created_at: string;
  updated_at: string;
}

export interface AuditEventTable {
  /** Position in the hash chain, from 1, assigned under the head's lock. */
  seq: number;
  id: string;
  at: string;
  request_id: string | null;
  actor_type: 'key' | 'user' | 'system' | 'anonymous';
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
  outcome: 'allowed' | 'denied' | 'failed';
  status: number | null;
  reason: string | null;
  /** JSON object field → [before, after], secrets and personal data redacted. */
  changes: string | null;
  prev_hash: string;
  hash: string;
}

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
  /** After a prune: the last removed event's seq and hash, which the oldest kept event chains from. */
  anchor_seq: number;
  anchor_hash: string;
}

export interface AuditCheckpointTable {
  seq: number;
  hash: string;
  at: string;
  /** Ed25519 over the canonical JSON of {seq, hash, at}, base64. */
  signature: string;
}

export interface AuditCursorTable {
  /** The sink's name (its configured target). */
  name: string;
  /** Last event seq the sink has received. */
  seq: number;
  updated_at: string;
}

/** Every table, as Kysely sees it. */
export interface DB {
  api_keys: ApiKeyTable;
  key_revision: KeyRevisionTable;
  settings: SettingTable;
  leases: LeaseTable;
  components: ComponentTable;
  component_tags: ComponentTagTable;
  component_status_history: ComponentStatusHistoryTable;
  component_groups: ComponentGroupTable;
  incidents: IncidentTable;
  incident_updates: IncidentUpdateTable;
  incident_templates: IncidentTemplateTable;
  metrics: MetricTable;
  metric_points: MetricPointTable;
  schedules: ScheduleTable;
  subscribers: SubscriberTable;
  subscriptions: SubscriptionTable;
  audit_events: AuditEventTable;
  audit_head: AuditHeadTable;
  audit_checkpoints: AuditCheckpointTable;
  audit_cursors: AuditCursorTable;
  users: UserTable;
  sessions: SessionTable;
  jobs: JobTable;
  webhooks: WebhookTable;
  webhook_deliveries: WebhookDeliveryTable;
}
