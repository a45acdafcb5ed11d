/** API key lifecycle: create (token shown once), list, show, revoke, and the bootstrap key. */
import type { Kysely } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { DB } from '../../db/schema.js';
import { recordChange } from '../audit/audit.changes.js';
import { parseScopes, scopesBeyond, type Scope } from '../../http/scopes.js';
import { admitsIpv4, invalidCidrs } from '../../infra/cidr.js';
import type { Clock } from '../../infra/clock.js';
import { keyDigest } from '../../infra/crypto.js';
import { parseDuration } from '../../infra/duration.js';
import { displayPrefix, generateToken } from '../../infra/token.js';
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
  /** Who asks: `cli`, `bootstrap`, `key:<id>`. */
  createdBy: string;
  /** Scopes of the key asking, when a key asks: the new key may not exceed them. */
  creatorScopes?: readonly string[];
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
  expires_at: string | null;
  revoked_at: string | null;
  status: 'active' | 'expired' | 'revoked';
  created_by: string;
  created_at: string;
  last_used_at: string | null;
  last_used_ip: string | null;
}

/** A created key with its token (shown once) and anything its creator should be told about it. */
export type CreateKeyResult = { ok: true; key: KeyView; token: string; warnings: string[] } | { ok: false; error: string };

function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}

/** The shown form of a stored key at `now`. */
export function keyView(row: ApiKeyRow, now: Date): KeyView {
  const expired = row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime();
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as string[],
    purpose: row.purpose,
    allowed_ips: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    rate_limit: row.rate_limit,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    status: row.revoked_at !== null ? 'revoked' : expired ? 'expired' : 'active',
    created_by: row.created_by,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    last_used_ip: row.last_used_ip,
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
  ): { ok: true; scopes: Scope[]; expiresAt: string | null; allowedIps: string[] | null; warnings: string[] } | { ok: false; error: string } {
    const name = input.name.trim();
    if (name === '' || name.length > 100) return { ok: false, error: 'name must be 1 to 100 characters' };
    const scopes = parseScopes(input.scopes);
    if (!scopes.ok) return scopes;
    if (input.creatorScopes) {
      const beyond = scopesBeyond(input.creatorScopes, scopes.scopes);
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
    const warnings = (allowedIps ?? [])
      .filter(admitsIpv4)
      .map((cidr) => `allowed IPs: "${cidr}" also admits IPv4 clients (an IPv4 address matches IPv6 ranges as ::ffff:a.b.c.d)`);
    return { ok: true, scopes: scopes.scopes, expiresAt, allowedIps, warnings };
  }

  async function insertKey(executor: Executor, input: CreateKeyInput, checked: { scopes: Scope[]; expiresAt: string | null; allowedIps: string[] | null }, now: Date) {
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
      resources: null,
      rate_limit: input.rateLimit ?? null,
      expires_at: expiresAt,
      revoked_at: null,
      created_by: input.createdBy,
      created_at: at,
      updated_at: at,
      last_used_at: null,
      last_used_ip: null,
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

    async show(id: number): Promise<KeyView | null> {
      const row = await repo.findById(db, id);
      return row ? keyView(row, clock.now()) : null;
    },

    /** Revokes a key at once; revoking a revoked key is refused so the caller learns nothing changed. */
    async revoke(trx: Executor, id: number): Promise<{ ok: true; key: KeyView } | { ok: false; error: 'not_found' | 'already_revoked' }> {
      const now = clock.now();
      const before = await repo.findById(trx, id);
      const row = await repo.markRevoked(trx, id, toStoredTime(now));
      if (!row) return { ok: false, error: before ? 'already_revoked' : 'not_found' } as const;
      await repo.bumpRevision(trx);
      const key = keyView(row, now);
      recordChange(trx, { resource: 'keys', id, action: 'keys.revoke', before: before ? auditedKey(keyView(before, now)) : null, after: auditedKey(key) });
      return { ok: true, key } as const;
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
      return insertKey(trx, input, { scopes: ['*'], expiresAt: toStoredTime(new Date(now.getTime() + ttl)), allowedIps: null }, now);
    },
  };
}

export type KeysService = ReturnType<typeof createKeysService>;
