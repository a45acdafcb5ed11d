/**
 * The authentication and authorisation stages of the request pipeline (DESIGN.md §3):
 * token parse (shape + checksum) → verify (cache, then store) → IP check → scope check →
 * resource limit (limits.ts).
 * Everything is decided in `onRequest`, before the body is read, so an unauthorised
 * caller never costs a body parse and never learns what the body schema expects.
 */
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { displayPrefix, isWellFormedToken } from '../infra/token.js';
import type { Clock } from '../infra/clock.js';
import type { KeyPrincipal, KeyRefusal, Principal, VerifyKey } from './access.js';
import { refused, type RefusalReason } from './errors.js';
import { checkResourceLimit } from './limits.js';
import { scopeGrants, type Scope } from './scopes.js';

const ANONYMOUS: Principal = { type: 'anonymous' };

const REASONS: Record<KeyRefusal, RefusalReason> = {
  unknown: 'key_unknown',
  expired: 'key_expired',
  revoked: 'key_revoked',
  rotated: 'key_rotated',
  not_yet_valid: 'key_not_yet_valid',
};

/**
 * `::ffff:1.2.3.4` → `1.2.3.4`, so IPv4 rules match IPv4 clients on dual-stack sockets; an IPv6
 * zone index (`fe80::1%eth0`) is dropped: it names an interface of this host, not the client.
 */
export function normaliseAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const zone = address.indexOf('%');
  return zone >= 0 && address.includes(':') ? address.slice(0, zone) : address;
}

/**
 * The client address: the one resolved through the trusted proxies (`resolved`, from
 * `X-Forwarded-For`) when it is an IP address, else the socket's. A trusted proxy may still relay
 * a header the client wrote, so a value that is not an address (`evil`, 8,000 characters) is never
 * used, matched or stored.
 */
export function clientAddress(resolved: string, socketAddress: string | undefined): string {
  const address = normaliseAddress(resolved);
  if (isIP(address) !== 0) return address;
  return normaliseAddress(socketAddress ?? '');
}

/**
 * The token a request presents: `X-Cachet-Token` (Cachet 2.x) or `Authorization: Bearer`.
 * `undefined` when none is presented; two different tokens are refused rather than one picked.
 */
export function presentedToken(headers: FastifyRequest['headers']): string | undefined {
  const cachet = headers['x-cachet-token'];
  const fromCachet = (Array.isArray(cachet) ? cachet[0] : cachet)?.trim() || undefined;
  const fromBearer = bearerToken(headers.authorization);
  if (fromCachet !== undefined && fromBearer !== undefined && fromCachet !== fromBearer) {
    throw refused('key_conflict');
  }
  return fromCachet ?? fromBearer;
}

/**
 * The token of an `Authorization: Bearer <token>` header; `undefined` when the header is absent or
 * empty. Any other form (`Bearer a b`, `Token x`, `Basic …`) is a 401: a client that meant to send
 * a key must learn it did not, rather than be served the guest view.
 */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header.trim());
  if (!match) throw refused('authorization_malformed');
  return match[1];
}

export interface AuthOptions {
  verifyKey: VerifyKey;
  clock: Clock;
  /** Told of every accepted key use; must not block (last-use is written in batches). */
  recordUse?: (keyId: number, ip: string, at: Date) => void;
}

/**
 * The identify and authorise stages: `identify` turns a presented token into `request.principal`
 * (or refuses it); `authorise` checks the key's addresses and the route's scope. The rate-limit
 * stage runs between them, so a flood is counted before any further work.
 */
export function createAuthStages({ verifyKey, clock, recordUse }: AuthOptions) {
  async function identify(request: FastifyRequest): Promise<void> {
    request.principal = ANONYMOUS;
    const access = request.routeOptions.config.access;
    if (!access) return; // not an API route (the 404/405 handler)

    const token = presentedToken(request.headers);
    if (token === undefined) {
      if ((access.scope === 'public' && !access.requiresKey) || access.guest) return;
      throw refused('key_missing');
    }
    if (!isWellFormedToken(token)) throw refused('key_malformed');
    // A well-formed token's public prefix names it in the audit trail even when it is refused.
    request.presentedPrefix = displayPrefix(token);
    const verified = await verifyKey(token, clock.now());
    if (!verified.ok) {
      request.refusedKeyId = verified.keyId ?? null;
      throw refused(REASONS[verified.reason]);
    }
    request.principal = { type: 'key', key: verified.key };
  }

  async function authorise(request: FastifyRequest): Promise<void> {
    const access = request.routeOptions.config.access;
    const principal = request.principal;
    if (!access || principal.type !== 'key') return;
    const key = principal.key;
    if (key.allowedIps && !key.allowedIps.check(request.clientIp, request.clientIp.includes(':') ? 'ipv6' : 'ipv4')) {
      throw refused('ip_denied', `This API key may not be used from ${request.clientIp}.`);
    }
    if (access.scope !== 'public' && !scopeGrants(key.scopes, access.scope)) {
      throw refused('scope_missing', `This API key lacks the ${access.scope} scope.`);
    }
    checkResourceLimit(request);
    request.shadowDenied = shadowRefusal(request, key);
    recordUse?.(key.id, request.clientIp, clock.now());
  }

  return { identify, authorise };
}

/**
 * What a key's report-only narrowing would refuse this request for (its address, scope or resource
 * limit, checked as the real ones are), or null: the request is served, and its event carries this.
 */
function shadowRefusal(request: FastifyRequest, key: KeyPrincipal): string | null {
  const shadow = key.shadow;
  const access = request.routeOptions.config.access;
  if (!shadow || !access) return null;
  if (shadow.allowedIps && !shadow.allowedIps.check(request.clientIp, request.clientIp.includes(':') ? 'ipv6' : 'ipv4')) return `shadow_denied: address ${request.clientIp}`;
  if (access.scope !== 'public' && !scopeGrants(shadow.scopes, access.scope)) return `shadow_denied: scope ${access.scope}`;
  const limit = access.limit;
  const ids = limit && shadow.resources ? shadow.resources[limit.resource] : undefined;
  if (limit && ids !== undefined) {
    if (limit.creates) return `shadow_denied: creates ${limit.resource}`;
    if (limit.param !== undefined) {
      const raw = (request.params as Record<string, string | undefined>)[limit.param] ?? '';
      if (!ids.includes(Number(raw))) return `shadow_denied: ${limit.resource} ${raw.slice(0, 20)}`;
    }
  }
  return null;
}

/**
 * `preValidation` stage, after the input is merged: a body field that reaches into another
 * resource needs that resource's scope too (the route's `fieldScopes`). It runs before validation,
 * so a caller without the scope learns nothing of the schema, and before the handler, so a refused
 * write changes nothing.
 */
export async function authoriseFields(request: FastifyRequest): Promise<void> {
  const fieldScopes = request.routeOptions.config.access?.fieldScopes;
  if (!fieldScopes) return;
  const body = request.body as Record<string, unknown> | undefined;
  const granted = request.principal.type === 'key' ? request.principal.key.scopes : [];
  for (const [field, scope] of Object.entries(fieldScopes)) {
    if (body?.[field] !== undefined && !scopeGrants(granted, scope)) {
      throw refused('scope_missing', `This API key lacks the ${scope} scope, which setting ${field} needs.`);
    }
  }
}

/** True when the caller holds a key with `scope`: such a caller sees what guests cannot (disabled, hidden). */
export function callerHolds(request: FastifyRequest, scope: Scope): boolean {
  return request.principal.type === 'key' && scopeGrants(request.principal.key.scopes, scope);
}
