/**
 * Rate limiting (rate-limiter-flexible): one interface, two implementations chosen once in
 * main.ts — in memory for one instance, in Redis for several. Fixed windows of `windowSec`; a
 * client can get up to 2 × limit through in the moment around a window edge (documented).
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

/** Counts in this process: exact for one instance. Entries expire with their window. */
export function memoryRateLimiter(prefix = 'cachet'): RateLimiter {
  return over(
    limiterCache((points, duration) => new RateLimiterMemory({ points, duration, keyPrefix: `${prefix}:${points}:${duration}` })),
    (err) => {
      throw err;
    },
  );
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
