/** What a route declares about who may call it; every `/api` route must declare this (deny by default). */
import type { BlockList } from 'node:net';
import type { LimitedResource, ResourceLimit, ResourceLimits } from './limits.js';
import type { Scope } from './scopes.js';

/** The access rule a route carries in its `config.access`. */
export interface RouteAccess {
  /** Scope a key needs for this route; `public` routes (ping, version, status) need none. */
  scope: Scope | 'public';
  /** When true, a caller without a key is served the guest view instead of a 401. */
  guest?: boolean;
  /** Audit action, `<resource>.<verb>` (e.g. `components.update`). */
  action: string;
  /** The success status when it is neither 200 nor a DELETE's 204 (the audit event records it). */
  status?: number;
  /** With `scope: 'public'`: any valid key may call the route, but a key is required (`/keys/self`). */
  requiresKey?: boolean;
  /** A write anyone may make without a key (the leak report); the security tests list these. */
  publicWrite?: boolean;
  /** Audit resource type, when the route addresses something other than the action's resource (a subscription). */
  resource?: string;
  /**
   * Body fields that reach into another resource, each with the scope it needs besides `scope`:
   * an incident's `component_status` changes a component, so it needs `components.manage`.
   * Checked once the body is read, before validation and the handler, so a refused write changes nothing.
   */
  fieldScopes?: Readonly<Record<string, Scope>>;
  /**
   * The limitable resource the route touches and where its id is (see limits.ts). Start-up
   * refuses a route of a limitable resource that declares none.
   */
  limit?: ResourceLimit;
  /**
   * Body fields naming a record of a limitable resource (an incident's `component_id`), checked
   * against the key's limits once the body is read; `with` lists fields that touch the same
   * record without naming it (`component_status`).
   */
  fieldLimits?: ReadonlyArray<{ field: string; resource: LimitedResource; with?: readonly string[] }>;
}

/** A verified API key, as the request pipeline sees it. Holds no secret. */
export interface KeyPrincipal {
  id: number;
  name: string;
  prefix: string;
  scopes: readonly string[];
  /** Addresses the key may be used from; null for any. */
  allowedIps: BlockList | null;
  /** The same addresses as CIDR text (a key may only mint keys within them); null for any. */
  allowedCidrs: readonly string[] | null;
  /** Requests per minute; null for the server default. */
  rateLimit: number | null;
  /** Ids the key may act on, per limited resource; null for no resource limit. */
  resources: ResourceLimits | null;
  /**
   * A narrower key tried in report-only mode: each request it would refuse is still served, and
   * audited with the refusal it would have met (`shadow_denied: …`). Absent for none.
   */
  shadow?: { scopes: readonly string[]; allowedIps: BlockList | null; resources: ResourceLimits | null } | null;
}

/** Who is making a request. */
export type Principal = { type: 'anonymous' } | { type: 'key'; key: KeyPrincipal };

/** Why a presented token was refused. */
export type KeyRefusal = 'unknown' | 'expired' | 'revoked' | 'rotated' | 'not_yet_valid';

/** Looks a token up (cache, then store) and checks its state at `now`. */
export type VerifyKey = (
  token: string,
  now: Date,
) => Promise<{ ok: true; key: KeyPrincipal } | { ok: false; reason: KeyRefusal; /** The key, when it exists but is revoked or expired. */ keyId?: number }>;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal;
    /** Client address as resolved through CACHET_TRUSTED_PROXIES, v4-mapped addresses normalised. */
    clientIp: string;
    /** The public prefix of a well-formed token the request presented, accepted or not. */
    presentedPrefix: string | null;
    /** The id of a revoked or expired key the request presented (it names the actor of the refusal). */
    refusedKeyId: number | null;
    /** What the key's report-only narrowing would have refused this (served) request for; null when nothing. */
    shadowDenied: string | null;
  }
}
