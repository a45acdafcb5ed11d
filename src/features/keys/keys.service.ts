/** API key lifecycle: create (token shown once), list, show, revoke, and the bootstrap key. */
import type { Kysely } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { DB } from '../../db/schema.js';
import { recordChange } from '../audit/audit.changes.js';
import { limitsBeyond, parseResourceLimits, type ResourceLimits } from '../../http/limits.js';
import { parseScopes, scopesBeyond, type Scope } from '../../http/scopes.js';
import { admitsIpv4, blockListOf, invalidCidrs, parseCidr } from '../../infra/cidr.js';
import type { Clock } from '../../infra/clock.js';
import { keyDigest } from '../../infra/crypto.js';
import { parseDuration } from '../../infra/duration.js';
import { displayPrefix, generateToken, isWellFormedToken } from '../../infra/token.js';
import { toStoredTime } from '../../infra/time.js';
import type { ApiKeyRow, KeysRepo } from './keys.repo.js';
import { generateSigningSecret, parseRotationPolicy, type RotationPolicy, type RotationPolicyInput } from './keys.delivery.js';

export interface KeysServiceDeps {
  db: Kysely<DB>;
  repo: KeysRepo;
  pepper: Buffer;
  clock: Clock;
  /** Longest lifetime in ms; null allows `never`. */
  keyMaxTtlMs: number | null;
  keyDefaultTtlMs: number;
}

/** What a new key should be. */
export interface CreateKeyInput {
  name: string;
  scopes: readonly string[];
  /** A duration (`30d`) or `never`; the default lifetime when absent. */
  expires?: string;
  purpose?: string;
  /** Refuse a missing or blank purpose (the API, the CLI and the dashboard; not a rotation's successor or the bootstrap key). */
  requirePurpose?: boolean;
  /** Requests per minute. */
  rateLimit?: number;
  allowedIps?: readonly string[];
  /** Ids the key may act on per resource (`{"components": [7]}`); absent for no resource limit. */
  resources?: unknown;
  /** ISO 8601 time before which the key is refused (`key_not_yet_valid`); absent for at once. */
  notBefore?: string;
  /** Who asks: `cli`, `bootstrap`, `key:<id>`, `user:<id>`. */
  createdBy: string;
  /** The dashboard user the key belongs to (a successor inherits it); absent for none. */
  ownerUserId?: number;
  /** The key asking, when a key asks: the new key may not exceed its scopes or addresses. */
  creator?: KeyAuthority;
  /** Rotation: the key the new one replaces. */
  replacesId?: number;
  /** A rotation policy to set (see keys.delivery.ts). */
  rotation?: RotationPolicyInput;
  /** Whether file and command delivery targets may be set (the CLI: yes; the API: no, they act on the host). */
  hostTargets?: boolean;
  /** Rotation: the policy and signing secret the successor inherits, as stored. */
  inherit?: { rotation: string | null; secret: string | null };
}

/** A key's delivery state under its rotation policy; never a token or secret. */
export interface DeliveryView {
  last_attempt_at: string | null;
  last_error: string | null;
  /** When the next rotation (or retried delivery) is due. */
  next_attempt_at: string | null;
  delivered_at: string | null;
  failures: number;
}

/** A key as it may be shown: never its token or digest. */
export interface KeyView {
  id: number;
  name: string;
  prefix: string;
  scopes: string[];
  purpose: string | null;
  allowed_ips: string[] | null;
  rate_limit: number | null;
  /** Ids the key may act on per resource; null for no resource limit. */
  resources: ResourceLimits | null;
  /** Before this time the key is refused; null when valid from creation. */
  not_before: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  /** `pending` until `not_before`. */
  status: 'active' | 'pending' | 'expired' | 'revoked';
  created_by: string;
  /** The dashboard user the key belongs to; null for keys made by the CLI, the bootstrap or a key. */
  owner_user_id: number | null;
  created_at: string;
  last_used_at: string | null;
  last_used_ip: string | null;
  /** First accepted use. */
  first_used_at: string | null;
  /** Rotation: the key this one replaced, the key that replaced it, and when. */
  replaces_id: number | null;
  replaced_by_id: number | null;
  rotated_at: string | null;
  /** The rotation policy, or null; its webhook signing secret is shown only when it is set. */
  rotation: RotationPolicy | null;
  delivery: DeliveryView | null;
}

/** What a key may do, as far as minting and managing other keys goes: scopes and addresses. */
export interface KeyAuthority {
  scopes: readonly string[];
  /** CIDRs the key is limited to; null for any address. */
  allowedIps: readonly string[] | null;
  /** Ids it is limited to per resource; null (or absent) for none. */
  resources?: ResourceLimits | null;
}

/** True when every CIDR of `inner` lies inside one CIDR of `outer` (a conservative containment test). */
function cidrsWithin(inner: readonly string[], outer: readonly string[]): boolean {
  const blocks = outer.map((text) => ({ cidr: parseCidr(text), list: blockListOf([text]) }));
  return inner.every((text) => {
    const cidr = parseCidr(text);
    return cidr !== null && blocks.some((b) => b.cidr !== null && b.cidr.family === cidr.family && b.cidr.prefix <= cidr.prefix && b.list.check(cidr.address, cidr.family));
  });
}

/** What `target` may do beyond `caller`, as readable refusals; empty when `caller` covers it. */
export function authorityBeyond(caller: KeyAuthority, target: KeyAuthority): string[] {
  const problems: string[] = [];
  const scopes = parseScopes([...target.scopes]);
  const beyond = scopes.ok ? scopesBeyond(caller.scopes, scopes.scopes) : [];
  if (beyond.length > 0) problems.push(`scopes it does not hold: ${beyond.join(', ')}`);
  if (caller.allowedIps !== null) {
    if (target.allowedIps === null) problems.push('use from any address, while it is limited to ' + caller.allowedIps.join(', '));
    else if (!cidrsWithin(target.allowedIps, caller.allowedIps)) problems.push(`addresses outside its own (${caller.allowedIps.join(', ')})`);
  }
  problems.push(...limitsBeyond(caller.resources ?? null, target.resources ?? null));
  return problems;
}

/** The authority a stored key carries. */
export function authorityOf(row: Pick<ApiKeyRow, 'scopes' | 'allowed_ips' | 'resources'>): KeyAuthority {
  return {
    scopes: JSON.parse(row.scopes) as string[],
    allowedIps: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    resources: resourcesOf(row),
  };
}

/** A stored key's resource limits. */
function resourcesOf(row: Pick<ApiKeyRow, 'resources'>): ResourceLimits | null {
  return row.resources === null ? null : (JSON.parse(row.resources) as ResourceLimits);
}

/** Why a lifecycle operation was refused: `status` maps to HTTP (400 bad input, 403 escalation, 404, 409 state). */
export interface KeyRefused {
  ok: false;
  status: 400 | 403 | 404 | 409;
  error: string;
}

/** What may change on a key. */
export interface UpdateKeyInput {
  name?: string;
  purpose?: string | null;
  scopes?: readonly string[];
  /** A list, or null to lift the restriction. */
  allowedIps?: readonly string[] | null;
  rateLimit?: number | null;
  /** A rotation policy, or null to remove it. */
  rotation?: RotationPolicyInput | null;
  hostTargets?: boolean;
  /** A limit map, or `{}` (or null) to lift the limit. */
  resources?: unknown;
  /** The audit action of the change (`keys.narrow`); `keys.update` when absent. */
  auditAction?: string;
}

/** A created key with its token (shown once) and anything its creator should be told about it. */
export type CreateKeyResult = { ok: true; key: KeyView; token: string; warnings: string[]; webhookSecret?: string } | { ok: false; error: string };

/** On update, `{}` lifts a resource limit (the API drops null fields, as Cachet does). */
function liftsLimit(resources: unknown): boolean {
  return resources === null || (typeof resources === 'object' && !Array.isArray(resources) && Object.keys(resources).length === 0);
}

/** An ISO 8601 time that names its zone (`Z` or `±hh:mm`); null otherwise. */
function parseTimestamp(text: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(text.trim())) return null;
  const at = new Date(text.trim());
  return Number.isNaN(at.getTime()) ? null : at;
}

function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}

/** The shown form of a stored key at `now`. */
export function keyView(row: ApiKeyRow, now: Date): KeyView {
  const expired = row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime();
  const rotation = row.rotation === null ? null : (JSON.parse(row.rotation) as RotationPolicy);
  const pending = row.not_before !== null && Date.parse(row.not_before) > now.getTime();
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as string[],
    purpose: row.purpose,
    allowed_ips: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    rate_limit: row.rate_limit,
    resources: resourcesOf(row),
    not_before: row.not_before,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    status: row.revoked_at !== null ? 'revoked' : expired ? 'expired' : pending ? 'pending' : 'active',
    created_by: row.created_by,
    owner_user_id: row.owner_user_id,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    last_used_ip: row.last_used_ip,
    first_used_at: row.first_used_at,
    replaces_id: row.replaces_id,
    replaced_by_id: row.replaced_by_id,
    rotated_at: row.rotated_at,
    rotation,
    delivery:
      rotation === null
        ? null
        : {
            last_attempt_at: row.delivery_attempted_at,
            last_error: row.delivery_error,
            next_attempt_at: row.delivery_next_at ?? rotationDueAt(row, rotation),
            delivered_at: row.delivered_at,
            failures: row.delivery_failures,
          },
  };
}

/** When `row` is next due for scheduled rotation under `policy`: its creation (its last rotation made it) plus `every`; null once rotated. */
export function rotationDueAt(row: ApiKeyRow, policy: RotationPolicy): string | null {
  if (row.replaced_by_id !== null || row.revoked_at !== null) return null;
  return toStoredTime(new Date(Date.parse(row.created_at) + parseDuration(policy.every)!));
}

/** A key as its audit events record it: what is stored, without the time-dependent status or usage. */
function auditedKey(key: KeyView): Omit<KeyView, 'status' | 'last_used_at' | 'last_used_ip' | 'delivery'> {
  const { status: _status, last_used_at: _at, last_used_ip: _ip, delivery: _delivery, ...stored } = key;
  return stored;
}

/** The stored policy columns after an update: unchanged (`undefined`), removed (`null`), or set, keeping the signing secret while the webhook URL stays the same. */
function rotationColumns(before: ApiKeyRow, policy: RotationPolicy | null | undefined): { rotation?: string | null; rotation_secret?: string | null } {
  if (policy === undefined) return {};
  if (policy === null) return { rotation: null, rotation_secret: null };
  const previous = before.rotation === null ? null : (JSON.parse(before.rotation) as RotationPolicy);
  const sameWebhook = policy.deliver.type === 'webhook' && previous?.deliver.type === 'webhook' && previous.deliver.url === policy.deliver.url && before.rotation_secret !== null;
  const secret = policy.deliver.type !== 'webhook' ? null : sameWebhook ? before.rotation_secret : generateSigningSecret();
  return { rotation: JSON.stringify(policy), rotation_secret: secret };
}

/** Thrown inside a transaction when another rotation of the same key got there first; the caller's transaction rolls back. */
export class RotationRaceLost extends Error {
  constructor(id: number) {
    super(`key ${id} was rotated concurrently`);
  }
}

export function createKeysService(deps: KeysServiceDeps) {
  const { db, repo, clock } = deps;

  /** The live key `id`, if `caller` (when given) may change it: no key may change a key stronger than itself. */
  async function changeableKey(executor: Executor, id: number, caller?: KeyAuthority): Promise<{ ok: true; row: ApiKeyRow } | KeyRefused> {
    const row = await repo.findById(executor, id);
    if (!row) return { ok: false, status: 404, error: `no key with id ${id}` };
    if (row.revoked_at !== null) return { ok: false, status: 409, error: `key ${id} is revoked` };
    const denied = caller ? authorityBeyond(caller, authorityOf(row)) : [];
    if (denied.length > 0) return { ok: false, status: 403, error: `this key cannot change a key that has ${denied.join('; ')}` };
    return { ok: true, row };
  }

  /** Checks the request against policy; returns the stored form or why it is refused. */
  function plan(
    input: CreateKeyInput,
    now: Date,
  ): { ok: true; scopes: Scope[]; expiresAt: string | null; allowedIps: string[] | null; resources: ResourceLimits | null; notBefore: string | null; rotation: RotationPolicy | null; warnings: string[] } | { ok: false; error: string } {
    const name = input.name.trim();
    if (name === '' || name.length > 100) return { ok: false, error: 'name must be 1 to 100 characters' };
    const scopes = parseScopes(input.scopes);
    if (!scopes.ok) return scopes;
    let expiresAt: string | null;
    const expires = input.expires?.trim();
    if (expires === 'never') {
      if (deps.keyMaxTtlMs !== null) {
        return { ok: false, error: 'keys must expire: CACHET_KEY_MAX_TTL does not allow "never"' };
      }
      expiresAt = null;
    } else {
      const ttl = expires === undefined ? deps.keyDefaultTtlMs : parseDuration(expires);
      if (ttl === null) return { ok: false, error: `expires must be a duration such as 30d, 24h, 90m or 90s, or "never"; got "${expires}"` };
      if (deps.keyMaxTtlMs !== null && ttl > deps.keyMaxTtlMs) {
        return { ok: false, error: `expires exceeds the longest key lifetime of ${formatDuration(deps.keyMaxTtlMs)} (CACHET_KEY_MAX_TTL)` };
      }
      expiresAt = toStoredTime(new Date(now.getTime() + ttl));
    }
    if (input.rateLimit !== undefined && (!Number.isInteger(input.rateLimit) || input.rateLimit < 1 || input.rateLimit > 1_000_000)) {
      return { ok: false, error: 'rate limit must be a whole number of requests per minute between 1 and 1000000' };
    }
    const allowedIps = input.allowedIps === undefined ? null : input.allowedIps.map((s) => s.trim()).filter(Boolean);
    // An empty list given on purpose (an unset shell variable) must not turn into "any address".
    if (allowedIps !== null && allowedIps.length === 0) return { ok: false, error: 'allowed IPs: the list is empty; leave it out to allow any address' };
    const badIps = invalidCidrs(allowedIps ?? []);
    if (badIps.length > 0) return { ok: false, error: `allowed IPs: "${badIps[0]}" is not an IPv4 or IPv6 CIDR` };
    if (input.purpose !== undefined && input.purpose.length > 500) return { ok: false, error: 'purpose must be at most 500 characters' };
    if (input.requirePurpose && (input.purpose ?? '').trim() === '') return { ok: false, error: 'purpose is required: say who uses the key and why' };
    let resources: ResourceLimits | null = null;
    if (input.resources !== undefined && input.resources !== null) {
      const parsed = parseResourceLimits(input.resources);
      if (!parsed.ok) return parsed;
      resources = parsed.limits;
    }
    let notBefore: string | null = null;
    if (input.notBefore !== undefined) {
      const at = parseTimestamp(input.notBefore);
      if (at === null) return { ok: false, error: `not_before must be an ISO 8601 time with a zone, such as 2026-12-01T09:00:00Z; got "${input.notBefore.slice(0, 40)}"` };
      if (expiresAt !== null && at.getTime() >= Date.parse(expiresAt)) return { ok: false, error: 'not_before must be before the key expires' };
      notBefore = toStoredTime(at);
    }
    if (input.creator) {
      const beyond = authorityBeyond(input.creator, { scopes: scopes.scopes, allowedIps, resources });
      if (beyond.length > 0) return { ok: false, error: `a key cannot grant ${beyond.join('; ')}` };
    }
    const warnings = (allowedIps ?? [])
      .filter(admitsIpv4)
      .map((cidr) => `allowed IPs: "${cidr}" also admits IPv4 clients (an IPv4 address matches IPv6 ranges as ::ffff:a.b.c.d)`);
    let rotation: RotationPolicy | null = null;
    if (input.rotation !== undefined) {
      const parsed = parseRotationPolicy(input.rotation, { keyMaxTtlMs: deps.keyMaxTtlMs, hostTargets: input.hostTargets ?? false });
      if (!parsed.ok) return parsed;
      rotation = parsed.policy;
      if (rotation.deliver.type === 'webhook' && rotation.deliver.url.startsWith('http:')) {
        warnings.push('rotation: the webhook URL is plain http, so the token travels unencrypted; use https outside a trusted network');
      }
      const every = parseDuration(rotation.every)!;
      if (expiresAt !== null && now.getTime() + every >= Date.parse(expiresAt)) {
        warnings.push(`rotation: the key expires before its first scheduled rotation (every ${rotation.every})`);
      }
    }
    return { ok: true, scopes: scopes.scopes, expiresAt, allowedIps, resources, notBefore, rotation, warnings };
  }

  async function insertKey(
    executor: Executor,
    input: CreateKeyInput,
    checked: { scopes: Scope[]; expiresAt: string | null; allowedIps: string[] | null; resources: ResourceLimits | null; notBefore: string | null; rotation?: RotationPolicy | null },
    now: Date,
  ) {
    const { scopes, expiresAt, allowedIps } = checked;
    const token = generateToken();
    const rotation = input.inherit ? input.inherit.rotation : checked.rotation ? JSON.stringify(checked.rotation) : null;
    const webhookSecret = input.inherit ? undefined : checked.rotation?.deliver.type === 'webhook' ? generateSigningSecret() : undefined;
    const secret = input.inherit ? input.inherit.secret : (webhookSecret ?? null);
    const at = toStoredTime(now);
    const row = await repo.insert(executor, {
      name: input.name.trim(),
      prefix: displayPrefix(token),
      digest: keyDigest(deps.pepper, token),
      scopes: JSON.stringify(scopes),
      purpose: input.purpose ?? null,
      allowed_ips: allowedIps === null ? null : JSON.stringify(allowedIps),
      resources: checked.resources === null ? null : JSON.stringify(checked.resources),
      not_before: checked.notBefore,
      rate_limit: input.rateLimit ?? null,
      expires_at: expiresAt,
      revoked_at: null,
      created_by: input.createdBy,
      created_at: at,
      updated_at: at,
      last_used_at: null,
      last_used_ip: null,
      replaces_id: input.replacesId ?? null,
      owner_user_id: input.ownerUserId ?? null,
      rotation,
      rotation_secret: secret,
    });
    await repo.bumpRevision(executor);
    const key = keyView(row, now);
    recordChange(executor, { resource: 'keys', id: row.id, before: null, after: auditedKey(key) });
    return { key, token, ...(webhookSecret ? { webhookSecret } : {}) };
  }

  /** Makes the successor of `old` (same name, scopes, restrictions, policy) in `trx`; the caller links or abandons it. */
  async function makeSuccessor(trx: Executor, old: ApiKeyRow, createdBy: string, now: Date) {
    const authority = authorityOf(old);
    // The successor lives as long as the original was meant to (capped by policy). It is valid at
    // once: only an active key is rotated, so the original's not_before has passed.
    const lifetime = old.expires_at === null ? null : Date.parse(old.expires_at) - Date.parse(old.created_at);
    const input: CreateKeyInput = {
      name: old.name,
      scopes: authority.scopes,
      purpose: old.purpose ?? undefined,
      rateLimit: old.rate_limit ?? undefined,
      allowedIps: authority.allowedIps ?? undefined,
      resources: authority.resources ?? undefined,
      expires: lifetime === null ? (deps.keyMaxTtlMs === null ? 'never' : undefined) : `${Math.max(1, Math.round(Math.min(lifetime, deps.keyMaxTtlMs ?? lifetime) / 1000))}s`,
      createdBy,
      replacesId: old.id,
      ...(old.owner_user_id !== null ? { ownerUserId: old.owner_user_id } : {}),
      inherit: { rotation: old.rotation, secret: old.rotation_secret },
    };
    const checked = plan(input, now);
    if (!checked.ok) return checked;
    const created = await insertKey(trx, input, checked, now);
    return { ok: true as const, ...created, warnings: checked.warnings };
  }

  return {
    changeableKey,

    /** Creates a key in the caller's transaction; its token is in the result and nowhere else. */
    async create(trx: Executor, input: CreateKeyInput): Promise<CreateKeyResult> {
      const now = clock.now();
      const checked = plan(input, now);
      if (!checked.ok) return checked;
      const created = await insertKey(trx, input, checked, now);
      return { ok: true, ...created, warnings: checked.warnings };
    },

    /** Keys whose rotation policy is due at `now` (or whose failed delivery is due for a retry). */
    async dueForRotation(executor: Executor): Promise<ApiKeyRow[]> {
      const now = clock.now();
      const rows = await executor.selectFrom('api_keys').selectAll().where('rotation', 'is not', null).where('revoked_at', 'is', null).where('replaced_by_id', 'is', null).orderBy('id').execute();
      return rows.filter((row) => {
        if (keyView(row, now).status !== 'active') return false;
        const due = rotationDueAt(row, JSON.parse(row.rotation!) as RotationPolicy);
        return due !== null && Date.parse(due) <= now.getTime() && (row.delivery_next_at === null || Date.parse(row.delivery_next_at) <= now.getTime());
      });
    },

    /**
     * Scheduled rotation, step 1: a successor for `id`, recorded as pending on the old key, whose
     * expiry is left alone until the successor has been delivered. Returns the token and what the
     * delivery needs, or null when the key is no longer due (rotated or revoked meanwhile).
     */
    async prepareSuccessor(trx: Executor, id: number, createdBy: string) {
      const now = clock.now();
      const old = await repo.findById(trx, id);
      if (!old || old.rotation === null || old.replaced_by_id !== null || old.rotation_pending_id !== null || keyView(old, now).status !== 'active') return null;
      const made = await makeSuccessor(trx, old, createdBy, now);
      if (!made.ok) return { ok: false as const, error: made.error };
      // Conditional: of two rotations of one key racing past the checks above, only one links its
      // successor; the other's transaction is rolled back (PostgreSQL re-checks the row it waited on).
      const linked = await trx
        .updateTable('api_keys')
        .set({ rotation_pending_id: made.key.id })
        .where('id', '=', id)
        .where('rotation_pending_id', 'is', null)
        .where('replaced_by_id', 'is', null)
        .executeTakeFirst();
      if (Number(linked.numUpdatedRows) !== 1) throw new RotationRaceLost(id);
      return { ok: true as const, key: made.key, token: made.token, policy: JSON.parse(old.rotation) as RotationPolicy, secret: old.rotation_secret };
    },

    /** Scheduled rotation, step 2 after a delivery: links the successor and starts the grace now (never past the old key's expiry). */
    async completeRotation(trx: Executor, id: number): Promise<KeyView | null> {
      const now = clock.now();
      const old = await repo.findById(trx, id);
      if (!old || old.rotation_pending_id === null) return null;
      const policy = JSON.parse(old.rotation!) as RotationPolicy;
      const graceEnd = now.getTime() + parseDuration(policy.grace)!;
      const oldExpiry = old.expires_at === null ? Infinity : Date.parse(old.expires_at);
      const at = toStoredTime(now);
      const rotated = await repo.update(trx, id, {
        replaced_by_id: old.rotation_pending_id,
        rotation_pending_id: null,
        rotated_at: at,
        expires_at: toStoredTime(new Date(Math.min(graceEnd, oldExpiry))),
        updated_at: at,
        delivery_attempted_at: at,
        delivery_error: null,
        delivery_next_at: null,
        delivered_at: at,
        delivery_failures: 0,
      });
      await repo.bumpRevision(trx);
      const previous = keyView(rotated, now);
      recordChange(trx, { resource: 'keys', id, action: 'keys.rotate', before: auditedKey(keyView(old, now)), after: auditedKey(previous) });
      return previous;
    },

    /**
     * Scheduled rotation after a failed delivery: the undelivered successor is revoked (its token
     * existed only in memory, so a retry makes a fresh one), the old key keeps its expiry, and the
     * failure is kept on it with the time of the next attempt: `retryMs` doubling per failure, at most 1 h.
     */
    async abandonSuccessor(trx: Executor, id: number, error: string, retryMs: number): Promise<KeyView | null> {
      const now = clock.now();
      const old = await repo.findById(trx, id);
      if (!old) return null;
      if (old.rotation_pending_id !== null) {
        const pending = await repo.markRevoked(trx, old.rotation_pending_id, toStoredTime(now));
        if (pending) recordChange(trx, { resource: 'keys', id: pending.id, action: 'keys.revoke', before: null, after: { revoked_at: pending.revoked_at, reason: 'undelivered successor' } });
      }
      const failures = old.delivery_failures + 1;
      const wait = Math.min(retryMs * 2 ** Math.min(failures - 1, 20), 3_600_000);
      const row = await repo.update(trx, id, {
        rotation_pending_id: null,
        delivery_attempted_at: toStoredTime(now),
        delivery_error: error.slice(0, 500),
        delivery_next_at: toStoredTime(new Date(now.getTime() + wait)),
        delivery_failures: failures,
      });
      await repo.bumpRevision(trx);
      return keyView(row, now);
    },

    /** Retire-after-pickup: brings forward the expiry of rotated keys whose successor has been used; returns the ids changed. */
    async retirePickedUp(trx: Executor): Promise<number[]> {
      const now = clock.now();
      const rows = await trx.selectFrom('api_keys').selectAll().where('rotation', 'is not', null).where('replaced_by_id', 'is not', null).where('revoked_at', 'is', null).execute();
      const changed: number[] = [];
      for (const old of rows) {
        const policy = JSON.parse(old.rotation!) as RotationPolicy;
        if (policy.retire_after_pickup === null || (old.expires_at !== null && Date.parse(old.expires_at) <= now.getTime())) continue;
        const successor = await repo.findById(trx, old.replaced_by_id!);
        if (!successor?.first_used_at) continue;
        const retireAt = Math.max(now.getTime(), Date.parse(successor.first_used_at) + parseDuration(policy.retire_after_pickup)!);
        if (old.expires_at !== null && retireAt >= Date.parse(old.expires_at)) continue;
        const row = await repo.update(trx, old.id, { expires_at: toStoredTime(new Date(retireAt)), updated_at: toStoredTime(now) });
        await repo.bumpRevision(trx);
        recordChange(trx, { resource: 'keys', id: old.id, action: 'keys.expire', before: auditedKey(keyView(old, now)), after: auditedKey(keyView(row, now)) });
        changed.push(old.id);
      }
      return changed;
    },

    async list(): Promise<KeyView[]> {
      const now = clock.now();
      return (await repo.list(db)).map((row) => keyView(row, now));
    },

    /** Live (active or pending) keys that expire within `windowMs` from now, soonest first. */
    async expiring(windowMs: number): Promise<KeyView[]> {
      const now = clock.now();
      const until = now.getTime() + windowMs;
      return (await repo.list(db))
        .map((row) => keyView(row, now))
        .filter((key) => (key.status === 'active' || key.status === 'pending') && key.expires_at !== null && Date.parse(key.expires_at) <= until)
        .sort((a, b) => Date.parse(a.expires_at!) - Date.parse(b.expires_at!));
    },

    /** Keys entering the expiry warning window now: each is returned once, ever (the mark is stored). */
    async markExpiring(executor: Executor, windowMs: number): Promise<KeyView[]> {
      const now = clock.now();
      const rows = await repo.markExpiryWarned(executor, toStoredTime(now), toStoredTime(new Date(now.getTime() + windowMs)));
      return rows.map((row) => keyView(row, now));
    },

    /** Records `keys.expire` for each key that has passed its expiry since the last sweep (once per key). */
    async recordExpired(trx: Executor): Promise<KeyView[]> {
      const now = clock.now();
      const rows = await repo.markExpiryRecorded(trx, toStoredTime(now));
      return rows.map((row) => {
        const key = keyView(row, now);
        recordChange(trx, { resource: 'keys', id: row.id, action: 'keys.expire', before: { status: 'active', expires_at: row.expires_at }, after: { status: 'expired', expires_at: row.expires_at } });
        return key;
      });
    },

    async show(id: number): Promise<KeyView | null> {
      const row = await repo.findById(db, id);
      return row ? keyView(row, clock.now()) : null;
    },

    /** Revokes a key at once; revoking a revoked key is refused so the caller learns nothing changed. */
    async revoke(trx: Executor, id: number, caller?: KeyAuthority): Promise<{ ok: true; key: KeyView } | KeyRefused> {
      const now = clock.now();
      const before = await repo.findById(trx, id);
      if (!before) return { ok: false, status: 404, error: `no key with id ${id}` };
      const denied = caller && authorityBeyond(caller, authorityOf(before));
      if (denied && denied.length > 0) return { ok: false, status: 403, error: `this key cannot revoke a key that has ${denied.join('; ')}` };
      const row = await repo.markRevoked(trx, id, toStoredTime(now));
      if (!row) return { ok: false, status: 409, error: `key ${id} is already revoked` };
      await repo.bumpRevision(trx);
      const key = keyView(row, now);
      recordChange(trx, { resource: 'keys', id, action: 'keys.revoke', before: auditedKey(keyView(before, now)), after: auditedKey(key) });
      return { ok: true, key };
    },

    /** Changes a key's name, purpose, scopes, allowed addresses or rate limit; a key may not widen a key past itself. */
    async update(trx: Executor, id: number, input: UpdateKeyInput, caller?: KeyAuthority): Promise<{ ok: true; key: KeyView; webhookSecret?: string } | KeyRefused> {
      const now = clock.now();
      const found = await changeableKey(trx, id, caller);
      if (!found.ok) return found;
      const before = found.row;
      const current = authorityOf(before);
      const merged: CreateKeyInput = {
        name: input.name ?? before.name,
        scopes: input.scopes ?? current.scopes,
        purpose: (input.purpose === undefined ? before.purpose : input.purpose) ?? undefined,
        rateLimit: (input.rateLimit === undefined ? before.rate_limit : input.rateLimit) ?? undefined,
        allowedIps: (input.allowedIps === undefined ? current.allowedIps : input.allowedIps) ?? undefined,
        resources: input.resources === undefined ? current.resources : liftsLimit(input.resources) ? null : input.resources,
        createdBy: before.created_by,
        ...(input.rotation ? { rotation: input.rotation, hostTargets: input.hostTargets } : {}),
      };
      const checked = plan(merged, now);
      if (!checked.ok) return { ok: false, status: 400, error: checked.error };
      if (caller) {
        const beyond = authorityBeyond(caller, { scopes: checked.scopes, allowedIps: checked.allowedIps, resources: checked.resources });
        if (beyond.length > 0) return { ok: false, status: 403, error: `a key cannot grant ${beyond.join('; ')}` };
      }
      const row = await repo.update(trx, id, {
        name: merged.name.trim(),
        purpose: merged.purpose ?? null,
        scopes: JSON.stringify(checked.scopes),
        allowed_ips: checked.allowedIps === null ? null : JSON.stringify(checked.allowedIps),
        rate_limit: merged.rateLimit ?? null,
        resources: checked.resources === null ? null : JSON.stringify(checked.resources),
        updated_at: toStoredTime(now),
        ...rotationColumns(before, input.rotation === undefined ? undefined : checked.rotation),
      });
      await repo.bumpRevision(trx);
      const key = keyView(row, now);
      recordChange(trx, { resource: 'keys', id, ...(input.auditAction ? { action: input.auditAction } : {}), before: auditedKey(keyView(before, now)), after: auditedKey(key) });
      const webhookSecret = row.rotation_secret !== null && row.rotation_secret !== before.rotation_secret ? row.rotation_secret : undefined;
      return { ok: true, key, ...(webhookSecret ? { webhookSecret } : {}) };
    },

    /**
     * Rotates a key: a successor with the same name, purpose, scopes and restrictions (its token in
     * the result, once), and the old key kept working until `min(now + grace, its expiry)`.
     */
    async rotate(
      trx: Executor,
      id: number,
      options: { graceMs: number; createdBy: string },
      caller?: KeyAuthority,
    ): Promise<({ ok: true; key: KeyView; previous: KeyView; token: string; warnings: string[] }) | KeyRefused> {
      const now = clock.now();
      const old = await repo.findById(trx, id);
      if (!old) return { ok: false, status: 404, error: `no key with id ${id}` };
      if (!Number.isInteger(options.graceMs) || options.graceMs < 0) return { ok: false, status: 400, error: 'grace must be a duration such as 24h' };
      if (deps.keyMaxTtlMs !== null && options.graceMs > deps.keyMaxTtlMs) {
        return { ok: false, status: 400, error: `grace exceeds the longest key lifetime of ${formatDuration(deps.keyMaxTtlMs)} (CACHET_KEY_MAX_TTL)` };
      }
      const view = keyView(old, now);
      if (view.status !== 'active') return { ok: false, status: 409, error: `key ${id} is ${view.status}: only an active key can be rotated` };
      if (old.replaced_by_id !== null) return { ok: false, status: 409, error: `key ${id} was already rotated (its successor is key ${old.replaced_by_id})` };
      const authority = authorityOf(old);
      if (caller) {
        const denied = authorityBeyond(caller, authority);
        if (denied.length > 0) return { ok: false, status: 403, error: `this key cannot rotate a key that has ${denied.join('; ')}` };
      }
      if (old.rotation_pending_id !== null) return { ok: false, status: 409, error: `key ${id} is being rotated on schedule right now (its successor is being delivered)` };
      const created = await makeSuccessor(trx, old, options.createdBy, now);
      if (!created.ok) return { ok: false, status: 400, error: created.error };
      const graceEnd = now.getTime() + options.graceMs;
      const oldExpiry = old.expires_at === null ? Infinity : Date.parse(old.expires_at);
      const at = toStoredTime(now);
      const rotated = await repo.update(trx, id, {
        replaced_by_id: created.key.id,
        rotated_at: at,
        expires_at: toStoredTime(new Date(Math.min(graceEnd, oldExpiry))),
        updated_at: at,
      });
      await repo.bumpRevision(trx);
      const previous = keyView(rotated, now);
      recordChange(trx, { resource: 'keys', id, action: 'keys.rotate', before: auditedKey(view), after: auditedKey(previous) });
      return { ok: true, key: created.key, previous, token: created.token, warnings: created.warnings };
    },

    /**
     * Leak response: revokes every active key among `tokens` (well-formed ones only, matched by
     * digest). Returns how many were revoked; callers on the public route must not reveal it.
     */
    async revokeTokens(trx: Executor, tokens: readonly string[]): Promise<number> {
      let revoked = 0;
      for (const token of new Set(tokens)) {
        if (!isWellFormedToken(token)) continue;
        const row = await repo.findByDigest(trx, keyDigest(deps.pepper, token));
        if (!row || row.revoked_at !== null) continue;
        const result = await this.revoke(trx, row.id);
        if (result.ok) revoked += 1;
      }
      return revoked;
    },

    /** Emergency switch: revokes every active key except `except`; returns the revoked ids. */
    async revokeAll(trx: Executor, except: readonly number[] = []): Promise<number[]> {
      const now = clock.now();
      const ids: number[] = [];
      for (const row of await repo.list(trx)) {
        const status = keyView(row, now).status;
        if (row.revoked_at !== null || except.includes(row.id) || (status !== 'active' && status !== 'pending')) continue;
        const result = await this.revoke(trx, row.id);
        if (result.ok) ids.push(row.id);
      }
      return ids;
    },

    /** The key of each token (by digest), if any, as shown at `now`; never changes anything. */
    async lookup(tokens: readonly string[]): Promise<Map<string, KeyView | null>> {
      const now = clock.now();
      const found = new Map<string, KeyView | null>();
      for (const token of new Set(tokens)) {
        const row = await repo.findByDigest(db, keyDigest(deps.pepper, token));
        found.set(token, row ? keyView(row, now) : null);
      }
      return found;
    },

    /** Keys by id, for the views that show a successor's first use. */
    async byId(db: Executor, id: number): Promise<ApiKeyRow | undefined> {
      return repo.findById(db, id);
    },

    /**
     * On a database with no keys, creates one key with every scope that expires in 24 h.
     * Returns its token, or null when keys exist. Safe when several instances start at once.
     */
    async bootstrap(trx: Executor): Promise<{ key: KeyView; token: string } | null> {
      const now = clock.now();
      await repo.lockBootstrap(trx, toStoredTime(now));
      if ((await repo.count(trx)) > 0) return null;
      // An installation with a dashboard user has its way in already (DESIGN.md §1: no keys and no users).
      if (await trx.selectFrom('users').select('id').limit(1).executeTakeFirst()) return null;
      const ttl = Math.min(24 * 3_600_000, deps.keyMaxTtlMs ?? Infinity);
      const scopes: Scope[] = ['*'];
      const input: CreateKeyInput = { name: 'bootstrap', scopes, createdBy: 'bootstrap', purpose: 'first key of a new installation' };
      return insertKey(trx, input, { scopes, expiresAt: toStoredTime(new Date(now.getTime() + ttl)), allowedIps: null, resources: null, notBefore: null }, now);
    },
  };
}

export type KeysService = ReturnType<typeof createKeysService>;
