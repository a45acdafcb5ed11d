/**
 * The authentication and authorisation stages of the request pipeline (DESIGN.md §3):
 * token parse (shape + checksum) → verify (cache, then store) → IP check → scope check.
 * Everything is decided in `onRequest`, before the body is read, so an unauthorised
 * caller never costs a body parse and never learns what the body schema expects.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isWellFormedToken } from '../infra/token.js';
import type { Clock } from '../infra/clock.js';
import type { KeyRefusal, Principal, VerifyKey } from './access.js';
import { AppError } from './errors.js';
import { scopeGrants, type Scope } from './scopes.js';

const ANONYMOUS: Principal = { type: 'anonymous' };

const REFUSALS: Record<KeyRefusal, string> = {
  unknown: 'The API key is not recognised.',
  expired: 'The API key has expired.',
  revoked: 'The API key has been revoked.',
};

/** `::ffff:1.2.3.4` → `1.2.3.4`, so IPv4 rules match IPv4 clients on dual-stack sockets. */
export function normaliseAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/**
 * The token a request presents: `X-Cachet-Token` (Cachet 2.x) or `Authorization: Bearer`.
 * `undefined` when none is presented; two different tokens are refused rather than one picked.
 */
export function presentedToken(headers: FastifyRequest['headers']): string | undefined {
  const cachet = headers['x-cachet-token'];
  const fromCachet = (Array.isArray(cachet) ? cachet[0] : cachet)?.trim() || undefined;
  const fromBearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '')?.[1];
  if (fromCachet !== undefined && fromBearer !== undefined && fromCachet !== fromBearer) {
    throw new AppError(401, 'Two different API keys were presented (X-Cachet-Token and Authorization): send one.');
  }
  return fromCachet ?? fromBearer;
}

export interface AuthOptions {
  verifyKey: VerifyKey;
  clock: Clock;
  /** Told of every accepted key use; must not block (last-use is written in batches). */
  recordUse?: (keyId: number, ip: string, at: Date) => void;
}

/** Builds the `onRequest` hook that sets `request.principal` or refuses the request. */
export function createAuthHook({ verifyKey, clock, recordUse }: AuthOptions) {
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    request.principal = ANONYMOUS;
    const access = request.routeOptions.config.access;
    if (!access) return; // not an API route (the 404/405 handler)

    const token = presentedToken(request.headers);
    if (token === undefined) {
      if (access.scope === 'public' || access.guest) return;
      throw new AppError(401, 'An API key is required: send it as X-Cachet-Token or Authorization: Bearer.');
    }
    if (!isWellFormedToken(token)) {
      throw new AppError(401, 'The API key is malformed or its checksum does not match.');
    }
    const now = clock.now();
    const verified = await verifyKey(token, now);
    if (!verified.ok) throw new AppError(401, REFUSALS[verified.reason]);
    const key = verified.key;
    request.principal = { type: 'key', key };

    if (key.allowedIps && !key.allowedIps.check(request.clientIp, request.clientIp.includes(':') ? 'ipv6' : 'ipv4')) {
      throw new AppError(403, `This API key may not be used from ${request.clientIp}.`);
    }
    if (access.scope !== 'public' && !scopeGrants(key.scopes, access.scope)) {
      throw new AppError(403, `This API key lacks the ${access.scope} scope.`);
    }
    recordUse?.(key.id, request.clientIp, now);
  };
}

/** True when the caller holds a key with `scope`: such a caller sees what guests cannot (disabled, hidden). */
export function callerHolds(request: FastifyRequest, scope: Scope): boolean {
  return request.principal.type === 'key' && scopeGrants(request.principal.key.scopes, scope);
}
