/**
 * Outbound webhook rules: the target URL check, event lists, signing secrets (made here, shown once,
 * rotated with a grace during which the previous ones keep signing), enabling and disabling, the
 * response shape, and the audited view of a webhook (which never holds a secret).
 */
import { isIP } from 'node:net';
import type { Executor } from '../../db/database.js';
import type { PageRequest } from '../../db/paging.js';
import { validationError } from '../../http/errors.js';
import type { Clock } from '../../infra/clock.js';
import { isPrivateAddress } from '../../infra/outbound.js';
import { formatCachetTime, toStoredTime } from '../../infra/time.js';
import { recordChange } from '../audit/audit.changes.js';
import { generateSigningSecret } from '../keys/keys.delivery.js';
import { EVENT_TYPES } from '../notifications/notifications.events.js';
import { activeSecrets, createWebhooksRepo, parseEvents, parseSecrets, type StoredSecret, type WebhookDeliveryRow, type WebhookRow, type WebhooksRepo } from './webhooks.repo.js';
import { WEBHOOK_URL_MAX, type CreateWebhookInput, type UpdateWebhookInput, type Webhook, type WebhookDelivery } from './webhooks.schema.js';

/** The grace a secret rotation gives the previous secrets unless told otherwise. */
export const DEFAULT_SECRET_GRACE_MS = 24 * 3_600_000;
/** The longest grace a rotation may give. */
export const MAX_SECRET_GRACE_MS = 30 * 86_400_000;
/** Most secrets kept: rotating again and again within a grace drops the oldest beyond this. */
export const MAX_SECRETS = 10;
/** `disabled_reason` of a webhook an operator switched off. */
export const DISABLED_BY_OPERATOR = 'Disabled by an operator.';

/**
 * Checks a target URL: http or https, no credentials (the signature authenticates the sender),
 * and, unless `allowPrivate`, no literal loopback, private or link-local address and no
 * `localhost` (a name is checked again on the address it resolves to, at each delivery).
 * Returns the normalised URL, or why it is refused.
 */
export function checkWebhookUrl(text: string, allowPrivate: boolean): { ok: true; url: string } | { ok: false; error: string } {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, error: 'The url must be an absolute http or https URL.' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: `The url must be an http or https URL, not ${url.protocol.slice(0, 20)}.` };
  if (url.username !== '' || url.password !== '') return { ok: false, error: 'The url must not hold credentials: deliveries are signed instead.' };
  if (url.href.length > WEBHOOK_URL_MAX) return { ok: false, error: `The url may not be greater than ${WEBHOOK_URL_MAX} characters.` };
  if (!allowPrivate) {
    // `localhost.` is `localhost`: the trailing dot of a fully qualified name goes before the check.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
    if (host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && isPrivateAddress(host))) {
      return { ok: false, error: `The url names ${host}, a loopback, private or link-local address: refused unless the server sets CACHET_WEBHOOK_ALLOW_PRIVATE.` };
    }
  }
  return { ok: true, url: url.href };
}

/** A requested event list, checked and normalised (`*` alone when it is listed; known types in their order). */
export function checkEvents(list: readonly string[]): { ok: true; events: string[] } | { ok: false; error: string } {
  const wanted = [...new Set(list.map((e) => e.trim()))];
  if (wanted.length === 0) return { ok: false, error: 'Choose at least one event type, or * for every event.' };
  const unknown = wanted.filter((e) => e !== '*' && !(EVENT_TYPES as readonly string[]).includes(e));
  if (unknown.length > 0) return { ok: false, error: `Unknown event type ${unknown.map((e) => JSON.stringify(e.slice(0, 64))).join(', ')}: use * or any of ${EVENT_TYPES.join(', ')}.` };
  return { ok: true, events: wanted.includes('*') ? ['*'] : EVENT_TYPES.filter((e) => wanted.includes(e)) };
}

/** A webhook as the audit trail records it: every field but the secrets, of which only their times. */
export function auditedWebhook(row: WebhookRow) {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    events: parseEvents(row.events),
    enabled: row.enabled === 1,
    failures: row.failures,
    disabled_at: row.disabled_at,
    disabled_reason: row.disabled_reason,
    signing_secrets: parseSecrets(row.secrets).map((s) => ({ created_at: s.created_at, expires_at: s.expires_at })),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Records a change to a webhook in `trx`, secrets left out. */
export function recordWebhookChange(trx: object, id: number, before: WebhookRow | null, after: WebhookRow | null, action?: string): void {
  recordChange(trx, { resource: 'webhooks', id, before: before && auditedWebhook(before), after: after && auditedWebhook(after), ...(action ? { action } : {}) });
}

/** A stored webhook in the API's shape, times in `zone`; `now` decides which secrets still sign. */
export function presentWebhook(row: WebhookRow, zone: string, now: Date): Webhook {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    events: parseEvents(row.events),
    enabled: row.enabled === 1,
    failures: row.failures,
    disabled_at: formatCachetTime(row.disabled_at, zone),
    disabled_reason: row.disabled_reason,
    signing_secrets: activeSecrets(parseSecrets(row.secrets), now).map((s) => ({
      created_at: formatCachetTime(s.created_at || row.created_at, zone)!,
      expires_at: formatCachetTime(s.expires_at, zone),
    })),
    created_at: formatCachetTime(row.created_at, zone)!,
    updated_at: formatCachetTime(row.updated_at, zone)!,
  };
}

/** One delivery attempt in the API's shape. */
export function presentDelivery(row: WebhookDeliveryRow, zone: string): WebhookDelivery {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    event_id: row.event_id,
    event_type: row.event_type,
    attempt: row.attempt,
    status: row.status,
    error: row.error,
    response: row.response,
    duration_ms: row.duration_ms,
    at: formatCachetTime(row.at, zone)!,
  };
}

function checked<T>(result: { ok: true } & T | { ok: false; error: string }): T {
  if (!result.ok) throw validationError([result.error]);
  return result;
}

export interface WebhooksServiceDeps {
  clock: Clock;
  /** `CACHET_WEBHOOK_ALLOW_PRIVATE`: private, loopback and link-local targets are accepted. */
  allowPrivate: boolean;
  repo?: WebhooksRepo;
}

/** A webhook just made or given a new secret, and that secret (to be shown once). */
export interface WebhookWithSecret {
  row: WebhookRow;
  secret: string;
}

/** Creates the webhooks service: reads take any executor, writes the caller's audited transaction. */
export function createWebhooksService({ clock, allowPrivate, repo = createWebhooksRepo() }: WebhooksServiceDeps) {
  return {
    /** One page of webhooks. */
    async list(db: Executor, page: PageRequest, zone: string) {
      const { total, rows } = await repo.list(db, page);
      const now = clock.now();
      return { total, items: rows.map((row) => presentWebhook(row, zone, now)) };
    },

    /** A webhook, or null when there is none with this id. */
    async show(db: Executor, id: number, zone: string): Promise<Webhook | null> {
      const row = await repo.find(db, id);
      return row ? presentWebhook(row, zone, clock.now()) : null;
    },

    /** The stored row (the dashboard's pages read its state). */
    async row(db: Executor, id: number): Promise<WebhookRow | null> {
      return (await repo.find(db, id)) ?? null;
    },

    /** Creates an enabled webhook with a new signing secret. */
    async create(trx: Executor, input: CreateWebhookInput): Promise<WebhookWithSecret> {
      const { url } = checked(checkWebhookUrl(input.url, allowPrivate));
      const { events } = checked(checkEvents(input.events));
      const at = toStoredTime(clock.now());
      const secret = generateSigningSecret();
      const stored: StoredSecret[] = [{ secret, created_at: at, expires_at: null }];
      const row = await repo.insert(trx, {
        name: input.name,
        url,
        events: JSON.stringify(events),
        secrets: JSON.stringify(stored),
        enabled: 1,
        failures: 0,
        created_at: at,
        updated_at: at,
      });
      recordWebhookChange(trx, row.id, null, row);
      return { row, secret };
    },

    /**
     * Changes only the fields given. Enabling a disabled webhook clears its failure count and
     * reason; disabling one records that an operator did. Null when missing.
     */
    async update(trx: Executor, id: number, input: UpdateWebhookInput): Promise<{ before: WebhookRow; after: WebhookRow } | null> {
      const url = input.url === undefined ? undefined : checked(checkWebhookUrl(input.url, allowPrivate)).url;
      const events = input.events === undefined ? undefined : checked(checkEvents(input.events)).events;
      const before = await repo.find(trx, id);
      if (!before) return null;
      const at = toStoredTime(clock.now());
      const enabling = input.enabled === true && before.enabled !== 1;
      const disabling = input.enabled === false && before.enabled === 1;
      const after = await repo.update(trx, id, {
        ...(input.name !== undefined && { name: input.name }),
        ...(url !== undefined && { url }),
        ...(events !== undefined && { events: JSON.stringify(events) }),
        ...(enabling && { enabled: 1, failures: 0, disabled_at: null, disabled_reason: null }),
        ...(disabling && { enabled: 0, disabled_at: at, disabled_reason: DISABLED_BY_OPERATOR }),
        updated_at: at,
      });
      recordWebhookChange(trx, id, before, after);
      return { before, after };
    },

    /** Deletes a webhook and its delivery log; deliveries still queued for it are dropped when they run. Null when missing. */
    async remove(trx: Executor, id: number): Promise<WebhookRow | null> {
      const row = await repo.find(trx, id);
      if (!row) return null;
      await repo.delete(trx, id);
      recordWebhookChange(trx, id, row, null);
      return row;
    },

    /**
     * Rotates the signing secret: a new one signs from now on, and the previous ones keep signing
     * beside it for `graceMs` (never longer than they already would), so a consumer can switch
     * without missing a delivery. Secrets past their grace are dropped. Null when missing.
     */
    async rotateSecret(trx: Executor, id: number, graceMs: number): Promise<WebhookWithSecret | null> {
      if (!(graceMs > 0 && graceMs <= MAX_SECRET_GRACE_MS)) throw validationError(['The grace must be a duration from 1s to 30d, such as 24h.']);
      const before = await repo.find(trx, id);
      if (!before) return null;
      const now = clock.now();
      const at = toStoredTime(now);
      const graceEnd = now.getTime() + graceMs;
      const previous = activeSecrets(parseSecrets(before.secrets), now).map((s) => ({
        ...s,
        expires_at: s.expires_at !== null && Date.parse(s.expires_at) <= graceEnd ? s.expires_at : toStoredTime(new Date(graceEnd)),
      }));
      const secret = generateSigningSecret();
      const secrets: StoredSecret[] = [{ secret, created_at: at, expires_at: null }, ...previous].slice(0, MAX_SECRETS);
      const row = await repo.update(trx, id, { secrets: JSON.stringify(secrets), updated_at: at });
      recordWebhookChange(trx, id, before, row, 'webhooks.rotate');
      return { row, secret };
    },

    /** One page of a webhook's delivery log, newest first; null when the webhook does not exist. */
    async deliveries(db: Executor, id: number, page: PageRequest, zone: string): Promise<{ total: number; items: WebhookDelivery[] } | null> {
      if (!(await repo.find(db, id))) return null;
      const { total, rows } = await repo.deliveries(db, id, page);
      return { total, items: rows.map((row) => presentDelivery(row, zone)) };
    },
  };
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;
