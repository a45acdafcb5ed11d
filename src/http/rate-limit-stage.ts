/**
 * The rate-limit stage: per key (its own `rate_limit`, else the default), per client address for
 * requests without a key, and failed key presentations per address (guessing keys is slow: past
 * the limit even a correct token from that address is refused until the window passes). Every
 * counted response carries the limit headers; a 429 names the limit and is audited (`rate_limited`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, refused } from './errors.js';
import { RateLimitUnavailable, type RateDecision, type RateLimiter } from '../infra/rate-limit.js';

/** Requests per minute. */
export interface RateLimitPolicy {
  /** For a key without its own `rate_limit`. */
  keyDefault: number;
  /** Per client address for requests without a key; 0 turns it off. */
  anonymous: number;
  /** Failed key presentations per client address. */
  failedAuth: number;
}

const WINDOW_SEC = 60;

/** The refusals that count as a failed key presentation (guessing, or a dead key retried). */
const FAILED_PRESENTATIONS = new Set(['key_malformed', 'key_unknown', 'key_expired', 'key_revoked', 'key_rotated', 'key_conflict']);

function setHeaders(reply: FastifyReply, policy: string, d: RateDecision): void {
  const resetSec = Math.ceil(d.resetMs / 1000);
  // IETF draft-ietf-httpapi-ratelimit-headers (structured fields), and the X- pair clients know.
  reply.header('ratelimit-policy', `"${policy}";q=${d.limit};w=${WINDOW_SEC}`);
  reply.header('ratelimit', `"${policy}";r=${d.remaining};t=${resetSec}`);
  reply.header('x-ratelimit-limit', String(d.limit));
  reply.header('x-ratelimit-remaining', String(d.remaining));
}

function tooMany(reply: FastifyReply, d: RateDecision, what: string): AppError {
  const retry = Math.max(1, Math.ceil(d.resetMs / 1000));
  reply.header('retry-after', String(retry));
  return refused('rate_limited', `Rate limit exceeded: ${d.limit} requests per minute ${what}. Retry in ${retry} s.`);
}

export function createRateLimitStage({ limiter, policy }: { limiter: RateLimiter; policy: RateLimitPolicy }) {
  /** Store trouble under a fail-closed policy is a 503, never a 500 or a hang. */
  async function guarded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof RateLimitUnavailable) throw new AppError(503, 'Rate limits cannot be checked right now; retry shortly.');
      throw err;
    }
  }

  return {
    /** Before the token is looked at: an address over its failed-presentation limit is refused outright. */
    async gate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
      if (!request.routeOptions.config.access) return;
      if (request.headers['x-cachet-token'] === undefined && request.headers.authorization === undefined) return;
      const state = await guarded(() => limiter.peek(`fail:${request.clientIp}`, policy.failedAuth, WINDOW_SEC));
      if (state && !state.allowed) throw tooMany(reply, state, 'of failed key presentations from this address');
    },

    /** After identify refused a presented key: counts the failure against the address. */
    async countFailure(request: FastifyRequest, reason: string | undefined): Promise<void> {
      if (reason === undefined || !FAILED_PRESENTATIONS.has(reason)) return;
      await guarded(() => limiter.consume(`fail:${request.clientIp}`, policy.failedAuth, WINDOW_SEC));
    },

    /** Counts the request against its key or, without one, its address. */
    async limit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
      if (!request.routeOptions.config.access) return;
      const principal = request.principal;
      if (principal.type === 'key') {
        const d = await guarded(() => limiter.consume(`key:${principal.key.id}`, principal.key.rateLimit ?? policy.keyDefault, WINDOW_SEC));
        setHeaders(reply, 'key', d);
        if (!d.allowed) throw tooMany(reply, d, 'for this key');
        return;
      }
      if (policy.anonymous === 0) return;
      const d = await guarded(() => limiter.consume(`ip:${request.clientIp}`, policy.anonymous, WINDOW_SEC));
      setHeaders(reply, 'address', d);
      if (!d.allowed) throw tooMany(reply, d, 'for this address without a key');
    },
  };
}

export type RateLimitStage = ReturnType<typeof createRateLimitStage>;
