/**
 * The key verification path (DESIGN.md §2): digest → LRU cache → store. A known key costs no query.
 * Every change that alters what a key may do bumps `key_revision` in its transaction; each instance
 * polls that one row and drops its caches when it moves, so revocation made anywhere (another
 * instance, the CLI on the database) takes effect within one poll interval. While the poll keeps
 * failing the caches are not trusted: a revocation may have gone unseen, so every verify asks the
 * store (and fails, a 503, if the store is down) until a poll succeeds again.
 */
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { DB } from '../../db/schema.js';
import type { KeyPrincipal, VerifyKey } from '../../http/access.js';
import { blockListOf } from '../../infra/cidr.js';
import { keyDigest } from '../../infra/crypto.js';
import type { ApiKeyRow, KeysRepo } from './keys.repo.js';

interface CachedKey {
  principal: KeyPrincipal;
  expiresAt: number | null;
  /** Refused (key_not_yet_valid) before this time; null when valid from creation. */
  notBefore: number | null;
  revoked: boolean;
  /** Replaced by rotation: past its expiry (the end of its grace) it is refused as rotated. */
  rotated: boolean;
}

export interface KeyVerifierOptions {
  db: Kysely<DB>;
  repo: KeysRepo;
  pepper: Buffer;
  /** Most keys held in memory (and, separately, most unknown digests remembered). */
  maxEntries?: number;
  /** Monotonic milliseconds, for the age of the last successful poll; tests may replace it. */
  monotonicNow?: () => number;
}

/** Failed polls in a row after which cached answers are no longer trusted. */
export const STALE_AFTER_POLLS = 3;

/** The narrowing a key runs in report-only mode, as the pipeline checks it. */
function shadowOf(text: string | null): KeyPrincipal['shadow'] {
  if (text === null) return null;
  const shadow = JSON.parse(text) as { scopes: string[]; allowed_ips: string[] | null; resources: Record<string, number[]> | null };
  return { scopes: shadow.scopes, allowedIps: shadow.allowed_ips ? blockListOf(shadow.allowed_ips) : null, resources: shadow.resources };
}

function toCached(row: ApiKeyRow): CachedKey {
  const allowed = row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]);
  return {
    principal: {
      id: row.id,
      name: row.name,
      prefix: row.prefix,
      scopes: JSON.parse(row.scopes) as string[],
      allowedIps: allowed ? blockListOf(allowed) : null,
      allowedCidrs: allowed,
      rateLimit: row.rate_limit,
      resources: row.resources === null ? null : (JSON.parse(row.resources) as Record<string, number[]>),
      shadow: shadowOf(row.shadow),
    },
    expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at),
    notBefore: row.not_before === null ? null : Date.parse(row.not_before),
    revoked: row.revoked_at !== null,
    rotated: row.replaced_by_id !== null,
  };
}

export function createKeyVerifier({ db, repo, pepper, maxEntries = 10_000, monotonicNow = () => performance.now() }: KeyVerifierOptions) {
  const known = new LRUCache<string, CachedKey>({ max: maxEntries });
  const unknown = new LRUCache<string, true>({ max: maxEntries });
  let revision: number | null = null;
  // Bumped on every invalidation: a lookup that began before one must not fill the cache after it.
  let generation = 0;
  let timer: NodeJS.Timeout | null = null;
  // Set by start(): how old the last successful poll may be before the caches stop being trusted.
  let staleAfterMs: number | null = null;
  let lastRefreshAt = monotonicNow();

  /** False once polling has failed for STALE_AFTER_POLLS intervals: a revocation may be unseen. */
  function cacheTrusted(): boolean {
    return staleAfterMs === null || monotonicNow() - lastRefreshAt <= staleAfterMs;
  }

  function invalidate(): void {
    generation += 1;
    known.clear();
    unknown.clear();
  }

  async function lookup(digest: string): Promise<CachedKey | null> {
    if (!cacheTrusted()) {
      const row = await repo.findByDigest(db, digest);
      return row ? toCached(row) : null;
    }
    const cached = known.get(digest);
    if (cached) return cached;
    if (unknown.has(digest)) return null;
    const started = generation;
    const row = await repo.findByDigest(db, digest);
    const entry = row ? toCached(row) : null;
    if (started === generation) {
      if (entry) known.set(digest, entry);
      else unknown.set(digest, true);
    }
    return entry;
  }

  const verify: VerifyKey = async (token, now) => {
    const entry = await lookup(keyDigest(pepper, token));
    if (!entry) return { ok: false, reason: 'unknown' };
    if (entry.revoked) return { ok: false, reason: 'revoked', keyId: entry.principal.id };
    if (entry.expiresAt !== null && now.getTime() >= entry.expiresAt) return { ok: false, reason: entry.rotated ? 'rotated' : 'expired', keyId: entry.principal.id };
    if (entry.notBefore !== null && now.getTime() < entry.notBefore) return { ok: false, reason: 'not_yet_valid', keyId: entry.principal.id };
    return { ok: true, key: entry.principal };
  };

  /** Reads the revision row and drops the caches if it moved. */
  async function refresh(): Promise<void> {
    const current = await repo.revision(db);
    if (current !== revision) {
      revision = current;
      invalidate();
    }
    lastRefreshAt = monotonicNow();
  }

  return {
    verify,
    refresh,
    invalidate,
    /**
     * Polls for key changes every `intervalMs` until `stop()`. `onError` hears the first failure
     * of a run of failures (not every poll); after STALE_AFTER_POLLS intervals without a
     * successful poll, verification bypasses the caches.
     */
    async start(intervalMs: number, onError: (err: unknown) => void): Promise<void> {
      await refresh();
      staleAfterMs = STALE_AFTER_POLLS * intervalMs;
      let failing = false;
      timer = setInterval(() => {
        refresh().then(
          () => {
            failing = false;
          },
          (err: unknown) => {
            if (!failing) onError(err);
            failing = true;
          },
        );
      }, intervalMs);
      timer.unref();
    },
    /** Stops polling; the caches then answer until `refresh()` or `invalidate()` is called. */
    stop(): void {
      if (timer) clearInterval(timer);
      timer = null;
      staleAfterMs = null;
    },
    /** Entries held, for tests and benchmarks. */
    size: () => known.size,
  };
}

export type KeyVerifier = ReturnType<typeof createKeyVerifier>;
