/**
 * Rate limiting: one interface, two implementations chosen once in main.ts — in memory for one
 * instance (ours, see memoryRateLimiter), in Redis for several (rate-limiter-flexible). Fixed
 * windows of `windowSec`; a client can get up to 2 × limit through in the moment around a window
 * edge (documented).
 */
import { createRequire } from 'node:module';
import { LRUCache } from 'lru-cache';
import type * as Flexible from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';

// The package's index loads every store it supports (MongoDB, MySQL, DynamoDB, Prisma, etcd…, some
// 36 modules); only its own files for the classes used here are loaded, the Redis one only with Redis.
const requireCjs = createRequire(import.meta.url);
const RateLimiterRes = requireCjs('rate-limiter-flexible/lib/RateLimiterRes.js') as typeof Flexible.RateLimiterRes;
type RateLimiterRes = Flexible.RateLimiterRes;
const RateLimiterMemory = requireCjs('rate-limiter-flexible/lib/RateLimiterMemory.js') as typeof Flexible.RateLimiterMemory;
const loadRateLimiterRedis = () => requireCjs('rate-limiter-flexible/lib/RateLimiterRedis.js') as typeof Flexible.RateLimiterRedis;

/** The answer for one counted request. */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** The store behind the limits is unreachable and the policy is to fail closed. */
export class RateLimitUnavailable extends Error {}

export interface RateLimiter {
  /** Counts one request of `bucket` against `limit` per `windowSec`. */
  consume(bucket: string, limit: number, windowSec: number): Promise<RateDecision>;
  /** The state of `bucket` without counting (null when it has no count this window); `allowed` says whether one more would be. */
  peek(bucket: string, limit: number, windowSec: number): Promise<RateDecision | null>;
}

function decision(res: RateLimiterRes, limit: number, allowed: boolean): RateDecision {
  return { allowed, limit, remaining: Math.max(0, res.remainingPoints), resetMs: Math.max(0, res.msBeforeNext) };
}

/** Limiters per (limit, window): every distinct key limit needs its own; bounded so that no input grows it without end. */
function limiterCache(make: (points: number, duration: number) => RateLimiterAbstract) {
  const cache = new LRUCache<string, RateLimiterAbstract>({ max: 1000 });
  return (points: number, duration: number) => {
    const id = `${points}/${duration}`;
    let limiter = cache.get(id);
    if (!limiter) cache.set(id, (limiter = make(points, duration)));
    return limiter;
  };
}

function over(limiterFor: (points: number, duration: number) => RateLimiterAbstract, onStoreError: (err: unknown) => never): RateLimiter {
  return {
    async consume(bucket, limit, windowSec) {
      try {
        return decision(await limiterFor(limit, windowSec).consume(bucket, 1), limit, true);
      } catch (err) {
        if (err instanceof RateLimiterRes) return decision(err, limit, false);
        return onStoreError(err);
      }
    },
    async peek(bucket, limit, windowSec) {
      try {
        const res = await limiterFor(limit, windowSec).get(bucket);
        return res ? decision(res, limit, res.consumedPoints < limit) : null;
      } catch (err) {
        return onStoreError(err);
      }
    },
  };
}

/** Most buckets the in-memory limiter holds at once (a bucket: one key's or one address's count in its window). */
export const MEMORY_BUCKETS = 100_000;

export interface MemoryRateLimiterOptions {
  /** Most buckets held; when full, the bucket whose window started first is dropped. */
  maxBuckets?: number;
  /** Milliseconds now; tests may replace it. */
  now?: () => number;
}

/**
 * Counts in this process: exact for one instance. A fixed window per bucket from its first request,
 * as rate-limiter-flexible's RateLimiterMemory counts (the Redis limiter uses that library), but
 * ours: that one keeps a timer, a Date and a closure per bucket (about 400 bytes, 40 % of what
 * 10,000 keys leave behind, bench/README.md) and holds any number of buckets, one per client
 * address included. Here a bucket is two numbers in one Map kept in the order its windows
 * started; each new window first drops the ended ones from the front (with one window length, as
 * the server uses, the front is always the first to end: amortised constant time, no timer), and
 * at most `maxBuckets` are held: past that the oldest window is dropped, so a flood of new
 * addresses costs bounded memory (and can at worst restart an old window's count early).
 */
export function memoryRateLimiter(options: MemoryRateLimiterOptions = {}): RateLimiter & { size(): number } {
  const maxBuckets = options.maxBuckets ?? MEMORY_BUCKETS;
  const now = options.now ?? Date.now;
  // Insertion order is the order windows started: a window's bucket is re-inserted when it restarts.
  const buckets = new Map<string, { count: number; resetAt: number }>();
  const current = (name: string, at: number) => {
    const bucket = buckets.get(name);
    return bucket !== undefined && bucket.resetAt > at ? bucket : undefined;
  };
  const decide = (bucket: { count: number; resetAt: number }, limit: number, at: number, allowed: boolean): RateDecision => ({
    allowed,
    limit,
    remaining: Math.max(0, limit - bucket.count),
    resetMs: bucket.resetAt - at,
  });
  return {
    async consume(bucketName, limit, windowSec) {
      const at = now();
      const name = `${limit}/${windowSec}:${bucketName}`;
      let bucket = current(name, at);
      if (bucket === undefined) {
        for (const [key, old] of buckets) {
          if (old.resetAt > at) break;
          buckets.delete(key);
        }
        buckets.delete(name);
        while (buckets.size >= maxBuckets) buckets.delete(buckets.keys().next().value!);
        bucket = { count: 0, resetAt: at + windowSec * 1000 };
        buckets.set(name, bucket);
      }
      bucket.count += 1;
      return decide(bucket, limit, at, bucket.count <= limit);
    },
    async peek(bucketName, limit, windowSec) {
      const at = now();
      const bucket = current(`${limit}/${windowSec}:${bucketName}`, at);
      return bucket === undefined ? null : decide(bucket, limit, at, bucket.count < limit);
    },
    /** Buckets held, ended ones not yet dropped included. */
    size: () => buckets.size,
  };
}

export interface RedisRateLimiterOptions {
  redis: Redis;
  prefix?: string;
  /** When Redis cannot be reached: `open` counts in this process meanwhile (an insurance limiter), `closed` refuses (503). */
  whenDown: 'open' | 'closed';
}

/** Counts in Redis, shared by every instance (an atomic increment per request). */
export function redisRateLimiter({ redis, prefix = 'cachet', whenDown }: RedisRateLimiterOptions): RateLimiter {
  const RateLimiterRedis = loadRateLimiterRedis();
  return over(
    limiterCache(
      (points, duration) =>
        new RateLimiterRedis({
          storeClient: redis,
          points,
          duration,
          keyPrefix: `${prefix}:rl:${points}:${duration}`,
          rejectIfRedisNotReady: true,
          ...(whenDown === 'open' ? { insuranceLimiter: new RateLimiterMemory({ points, duration, keyPrefix: `${prefix}:insurance:${points}:${duration}` }) } : {}),
        }),
    ),
    (err) => {
      throw new RateLimitUnavailable(`rate-limit store unavailable: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
}
