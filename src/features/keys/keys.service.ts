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
  /** Requests per minute. */
  rateLimit?: number;
  allowedIps?: readonly string[];
  /** Ids the key may act on per resource (`{"components": [7]}`); absent for no resource limit. */
  resources?: unknown;
  /** ISO 8601 time before which the key is refused (`key_not_yet_valid`); absent for at once. */
  notBefore?: string;
  /** Who asks: `cli`, `bootstrap`, `key:<id>`. */
  createdBy: string;
  /** The key asking, when a key asks: the new key may not exceed its scopes or addresses. */
  creator?: KeyAuthority;
  /** Rotation: the key the new one replaces. */
  replacesId?: number;
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
  created_at: string;
  last_used_at: string | null;
  last_used_ip: string | null;
  /** First accepted use. */
  first_used_at: string | null;
  /** Rotation: the key this one replaced, the key that replaced it, and when. */
  replaces_id: number | null;
  replaced_by_id: number | null;
  rotated_at: string | null;
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
  /** A limit map, or `{}` (or null) to lift the limit. */
  resources?: unknown;
}

/** A created key with its token (shown once) and anything its creator should be told about it. */
export type CreateKeyResult = { ok: true; key: KeyView; token: string; warnings: string[] } | { ok: false; error: string };

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
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    last_used_ip: row.last_used_ip,
    first_used_at: row.first_used_at,
    replaces_id: row.replaces_id,
    replaced_by_id: row.replaced_by_id,
    rotated_at: row.rotated_at,
  };
}

/** A key as its audit events record it: what is stored, without the time-dependent status or usage. */
function auditedKey(key: KeyView): Omit<KeyView, 'status' | 'last_used_at' | 'last_used_ip'> {
  const { status: _status, last_used_at: _at, last_used_ip: _ip, ...stored } = key;
  return stored;
}

export function createKeysService(deps: KeysServiceDeps) {
  const { db, repo, clock } = deps;

  /** Checks the request against policy; returns the stored form or why it is refused. */
  function plan(
    input: CreateKeyInput,
    now: Date,
  ): { ok: true; scopes: Scope[]; expiresAt: string | null; allowedIps: string[] | null; resources: ResourceLimits | null; notBefore: string | null; warnings: string[] } | { ok: false; error: string } {
    const name = input.name.trim();
    if (name === '' || name.length > 100) return { ok: false, error: 'name must be 1 to 100 characters' };
    const scopes = parseScopes(input.scopes);
    if (!scopes.ok) return scopes;
    if (input.creator) {
      const beyond = scopesBeyond(input.creator.scopes, scopes.scopes);
      if (beyond.length > 0) return { ok: false, error: `a key cannot grant scopes it does not hold: ${beyond.join(', ')}` };
    }
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
    return { ok: true, scopes: scopes.scopes, expiresAt, allowedIps, resources, notBefore, warnings };
  }

  async function insertKey(
    executor: Executor,
    input: CreateKeyInput,
    checked: { scopes: Scope[]; expiresAt: string | null; allowedIps: string[] | null; resources: ResourceLimits | null; notBefore: string | null },
    now: Date,
  ) {
    const { scopes, expiresAt, allowedIps } = checked;
    const token = generateToken();
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
    });
    await repo.bumpRevision(executor);
    const key = keyView(row, now);
    recordChange(executor, { resource: 'keys', id: row.id, before: null, after: auditedKey(key) });
    return { key, token };
  }

  return {
    /** Creates a key in the caller's transaction; its token is in the result and nowhere else. */
    async create(trx: Executor, input: CreateKeyInput): Promise<CreateKeyResult> {
      const now = clock.now();
      const checked = plan(input, now);
      if (!checked.ok) return checked;
      const created = await insertKey(trx, input, checked, now);
      return { ok: true, ...created, warnings: checked.warnings };
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
    async update(trx: Executor, id: number, input: UpdateKeyInput, caller?: KeyAuthority): Promise<{ ok: true; key: KeyView } | KeyRefused> {
      const now = clock.now();
      const before = await repo.findById(trx, id);
      if (!before) return { ok: false, status: 404, error: `no key with id ${id}` };
      if (before.revoked_at !== null) return { ok: false, status: 409, error: `key ${id} is revoked` };
      const current = authorityOf(before);
      if (caller) {
        const denied = authorityBeyond(caller, current);
        if (denied.length > 0) return { ok: false, status: 403, error: `this key cannot change a key that has ${denied.join('; ')}` };
      }
      const merged: CreateKeyInput = {
        name: input.name ?? before.name,
        scopes: input.scopes ?? current.scopes,
        purpose: (input.purpose === undefined ? before.purpose : input.purpose) ?? undefined,
        rateLimit: (input.rateLimit === undefined ? before.rate_limit : input.rateLimit) ?? undefined,
        allowedIps: (input.allowedIps === undefined ? current.allowedIps : input.allowedIps) ?? undefined,
        resources: input.resources === undefined ? current.resources : liftsLimit(input.resources) ? null : input.resources,
        createdBy: before.created_by,
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
      });
      await repo.bumpRevision(trx);
      const key = keyView(row, now);
      recordChange(trx, { resource: 'keys', id, before: auditedKey(keyView(before, now)), after: auditedKey(key) });
      return { ok: true, key };
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
      // The successor lives as long as the original was meant to (capped by policy).
      const lifetime = old.expires_at === null ? null : Date.parse(old.expires_at) - Date.parse(old.created_at);
      const input: CreateKeyInput = {
        name: old.name,
        scopes: authority.scopes,
        purpose: old.purpose ?? undefined,
        rateLimit: old.rate_limit ?? undefined,
        allowedIps: authority.allowedIps ?? undefined,
        resources: authority.resources ?? undefined,
        notBefore: old.not_before !== null && Date.parse(old.not_before) > now.getTime() ? old.not_before : undefined,
        expires: lifetime === null ? (deps.keyMaxTtlMs === null ? 'never' : undefined) : `${Math.max(1, Math.round(Math.min(lifetime, deps.keyMaxTtlMs ?? lifetime) / 1000))}s`,
        createdBy: options.createdBy,
        replacesId: id,
      };
      const checked = plan(input, now);
      if (!checked.ok) return { ok: false, status: 400, error: checked.error };
      const created = await insertKey(trx, input, checked, now);
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
      return { ok: true, key: created.key, previous, token: created.token, warnings: checked.warnings };
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
      const ttl = Math.min(24 * 3_600_000, deps.keyMaxTtlMs ?? Infinity);
      const input: CreateKeyInput = { name: 'bootstrap', scopes: ['*'], createdBy: 'bootstrap', purpose: 'first key of a new installation' };
      return insertKey(trx, input, { scopes: ['*'], expiresAt: toStoredTime(new Date(now.getTime() + ttl)), allowedIps: null, resources: null, notBefore: null }, now);
    },
  };
}

export type KeysService = ReturnType<typeof createKeysService>;
