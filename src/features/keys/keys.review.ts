/**
 * Key review: for every active key, what it may do against what the audit trail says it did over
 * a window, and the narrowest key that would have sufficed. Reads keys and audit events only,
 * never a token or digest. A key that did nothing in the window is reported unused (revocation
 * suggested), never narrowed to nothing.
 */
import { isIP } from 'node:net';
import type { Executor } from '../../db/database.js';
import { ALL_SCOPES, RESOURCES, scopeGrants, type Scope } from '../../http/scopes.js';
import { toStoredTime } from '../../infra/time.js';
import type { ResourceLimits } from '../../http/limits.js';
import { keyView, type KeyView } from './keys.service.js';

export type Severity = 'high' | 'medium' | 'low';

export interface Finding {
  code:
    | 'wildcard'
    | 'unused_scopes'
    | 'never_used'
    | 'unused'
    | 'no_resource_limit'
    | 'no_ip_restriction'
    | 'no_rotation_policy'
    | 'owner_gone'
    | 'no_purpose'
    | 'shadow_denied'
    | 'shadow_running';
  severity: Severity;
  /** One line a person reads. */
  reason: string;
}

/** The narrower key the observed use asks for: each field null when nothing narrower is suggested. */
export interface Suggestion {
  scopes: Scope[];
  resources: ResourceLimits | null;
  allowed_ips: string[] | null;
}

export interface KeyReview {
  id: number;
  name: string;
  prefix: string;
  purpose: string | null;
  owner_user_id: number | null;
  created_at: string;
  scopes: string[];
  resources: ResourceLimits | null;
  allowed_ips: string[] | null;
  usage: {
    /** Events of the key in the window (its requests, allowed and denied). */
    events: number;
    denied: number;
    first_at: string | null;
    last_at: string | null;
    /** Scopes its allowed requests needed. */
    scopes_used: Scope[];
    addresses: string[];
    /** Would-be refusals of a running or ended shadow narrowing, in the window. */
    shadow_denials: number;
  };
  findings: Finding[];
  /** Null for a key used in no way that a narrowing could be drawn from (unused: revoke it instead). */
  suggestion: Suggestion | null;
  /** What applying the suggestion would change, field → [now, suggested]; empty when nothing. */
  changes: Record<string, [unknown, unknown]>;
}

export interface ReviewOptions {
  now: Date;
  /** The window, in days. */
  days: number;
  /** A key without a rotation policy older than this is a finding (ms). */
  rotationAgeMs: number;
}

/** Most addresses a suggested IP list names; a key used from more gets no IP suggestion. */
const MAX_ADDRESSES = 20;
/** Most ids per resource a suggested limit names. */
const MAX_IDS = 100;

/** Resources a key can be limited to, as their API paths name them (longest first: `components/groups` before `components`). */
const LIMIT_PATHS: Array<[RegExp, string]> = [
  [/^\/api\/v1\/components\/groups\/(\d+)/, 'component-groups'],
  [/^\/api\/v1\/incidents\/templates\/(\d+)/, 'incident-templates'],
  [/^\/api\/v1\/components\/(\d+)/, 'components'],
  [/^\/api\/v1\/incidents\/(\d+)/, 'incidents'],
  [/^\/api\/v1\/metrics\/(\d+)/, 'metrics'],
  [/^\/api\/v1\/schedules\/(\d+)/, 'schedules'],
];
/** A path of a limitable resource that names no id (a list or a create): a limit would change what it does. */
const UNLIMITED_PATHS: Array<[RegExp, string]> = [
  [/^\/api\/v1\/components\/groups\/?$/, 'component-groups'],
  [/^\/api\/v1\/incidents\/templates\/?$/, 'incident-templates'],
  [/^\/api\/v1\/components\/?$/, 'components'],
  [/^\/api\/v1\/incidents\/?$/, 'incidents'],
  [/^\/api\/v1\/metrics\/?$/, 'metrics'],
  [/^\/api\/v1\/schedules\/?$/, 'schedules'],
];

interface EventLike {
  action: string;
  key_id: number | null;
  resource_id: string | null;
  path: string | null;
}

/**
 * The scope an event's request needed, from its action (`<resource>.<verb>`): reads need `.read`,
 * creates, updates and rotations `.manage`, deletes and revocations `.delete`; the public routes
 * (`system.*`, a key's own `/keys/self`, the leaked-token revocation) none.
 */
export function scopeOfAction(event: EventLike): Scope | null {
  const dot = event.action.lastIndexOf('.');
  const resource = event.action.slice(0, dot);
  const verb = event.action.slice(dot + 1);
  if (resource === 'system') return null;
  if (event.action === 'keys.show' && /^\/api\/v1\/keys\/self\/?$/.test(event.path ?? '')) return null;
  if (event.action === 'keys.revoke' && event.resource_id === null) return null;
  const level = verb === 'list' || verb === 'show' || verb === 'review' ? 'read' : verb === 'delete' || verb === 'revoke' ? 'delete' : 'manage';
  const scope = `${resource}.${level}`;
  return (ALL_SCOPES as readonly string[]).includes(scope) ? (scope as Scope) : null;
}

/** The smallest scope list covering `used` (a `.manage` covers its `.read`). */
function narrowest(used: ReadonlySet<Scope>): Scope[] {
  return [...used].filter((scope) => !(scope.endsWith('.read') && used.has(scope.replace(/\.read$/, '.manage') as Scope))).sort();
}

function exactCidr(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const plain = mapped ?? address;
  return isIP(plain) === 6 ? `${plain}/128` : `${plain}/32`;
}

/** Reviews every active key (not revoked, not expired). */
export async function reviewKeys(db: Executor, options: ReviewOptions): Promise<KeyReview[]> {
  const { now } = options;
  const since = toStoredTime(new Date(now.getTime() - options.days * 86_400_000));
  const rows = await db.selectFrom('api_keys').selectAll().where('revoked_at', 'is', null).orderBy('id').execute();
  const active = rows.map((row) => ({ row, view: keyView(row, now) })).filter(({ view }) => view.status === 'active' || view.status === 'pending');
  const users = new Set((await db.selectFrom('users').select('id').execute()).map((u) => u.id));
  const reviews: KeyReview[] = [];
  for (const { row, view } of active) {
    const events = await db
      .selectFrom('audit_events')
      .select(['action', 'key_id', 'resource_id', 'path', 'ip', 'outcome', 'reason', 'at'])
      .where('key_id', '=', row.id)
      .where('at', '>=', since)
      .orderBy('seq')
      .execute();
    reviews.push(reviewOne(view, row.shadow, row.owner_user_id === null || users.has(row.owner_user_id), events, options));
  }
  return reviews;
}

interface ReviewEvent extends EventLike {
  ip: string | null;
  outcome: string;
  reason: string | null;
  at: string;
}

function reviewOne(key: KeyView, shadow: string | null, ownerPresent: boolean, events: readonly ReviewEvent[], options: ReviewOptions): KeyReview {
  const findings: Finding[] = [];
  const allowed = events.filter((e) => e.outcome === 'allowed');
  const used = new Set<Scope>();
  for (const event of allowed) {
    const scope = scopeOfAction(event);
    if (scope) used.add(scope);
  }
  const addresses = [...new Set(allowed.map((e) => e.ip).filter((ip): ip is string => ip !== null))].sort();
  const shadowDenials = events.filter((e) => e.reason?.startsWith('shadow_denied')).length;
  const scopesUsed = narrowest(used);

  if (key.scopes.includes('*')) findings.push({ code: 'wildcard', severity: 'high', reason: 'has `*`: every scope, key and audit administration included' });
  if (key.owner_user_id !== null && !ownerPresent) findings.push({ code: 'owner_gone', severity: 'high', reason: `its owner (user ${key.owner_user_id}) no longer exists` });
  if (key.purpose === null || key.purpose.trim() === '') findings.push({ code: 'no_purpose', severity: 'low', reason: 'says nowhere who uses it or why' });
  const age = options.now.getTime() - Date.parse(key.created_at);
  if (key.rotation === null && age > options.rotationAgeMs) {
    findings.push({ code: 'no_rotation_policy', severity: 'low', reason: `has no rotation policy and is ${Math.floor(age / 86_400_000)} days old` });
  }
  if (shadowDenials > 0) findings.push({ code: 'shadow_denied', severity: 'medium', reason: `its shadow narrowing would have refused ${shadowDenials} request(s); it was not applied` });
  if (shadow !== null) {
    const running = JSON.parse(shadow) as { until: string };
    findings.push({ code: 'shadow_running', severity: 'low', reason: `a narrowing runs in report-only mode until ${running.until}` });
  }

  const usage = { events: events.length, denied: events.filter((e) => e.outcome === 'denied').length, first_at: events[0]?.at ?? null, last_at: events.at(-1)?.at ?? null, scopes_used: scopesUsed, addresses, shadow_denials: shadowDenials };
  const base = { id: key.id, name: key.name, prefix: key.prefix, purpose: key.purpose, owner_user_id: key.owner_user_id, created_at: key.created_at, scopes: key.scopes, resources: key.resources, allowed_ips: key.allowed_ips, usage };

  if (allowed.length === 0) {
    // Nothing to draw a narrower key from: unused, and revoking it is the suggestion.
    if (key.first_used_at === null && key.last_used_at === null) findings.push({ code: 'never_used', severity: 'medium', reason: 'never used since it was created: revoke it if nobody needs it' });
    else findings.push({ code: 'unused', severity: 'medium', reason: `not used in the last ${options.days} days: revoke it if nobody needs it` });
    return { ...base, findings, suggestion: null, changes: {} };
  }

  // Scopes: what it used, never more than it has.
  const scopes = scopesUsed.filter((scope) => scopeGrants(key.scopes, scope));
  const unused = key.scopes.includes('*') ? [] : key.scopes.filter((granted) => !scopes.some((s) => s === granted || (granted.endsWith('.read') && s === granted.replace(/\.read$/, '.manage'))));
  if (unused.length > 0) findings.push({ code: 'unused_scopes', severity: 'medium', reason: `holds scopes it did not use in ${options.days} days: ${unused.join(', ')}` });

  // Resource limit: ids per resource, for resources it only ever touched by id.
  let resources: ResourceLimits | null = null;
  if (key.resources === null) {
    const ids = new Map<string, Set<number>>();
    const open = new Set<string>();
    for (const event of allowed) {
      const path = event.path ?? '';
      for (const [pattern, resource] of UNLIMITED_PATHS) if (pattern.test(path)) open.add(resource);
      for (const [pattern, resource] of LIMIT_PATHS) {
        const id = pattern.exec(path)?.[1];
        if (id !== undefined) {
          if (!ids.has(resource)) ids.set(resource, new Set());
          ids.get(resource)!.add(Number(id));
          break;
        }
      }
    }
    const limited = [...ids].filter(([resource, set]) => !open.has(resource) && set.size <= MAX_IDS && (RESOURCES as readonly string[]).includes(resource));
    if (limited.length > 0) {
      resources = Object.fromEntries(limited.map(([resource, set]) => [resource, [...set].sort((a, b) => a - b)]));
      findings.push({ code: 'no_resource_limit', severity: 'low', reason: `has no resource limit, but touched only ${limited.map(([r, set]) => `${r} ${[...set].join(', ')}`).join('; ')}` });
    }
  }

  // Addresses: the ones it was used from, exactly.
  let allowedIps: string[] | null = null;
  if (key.allowed_ips === null && addresses.length > 0 && addresses.length <= MAX_ADDRESSES) {
    allowedIps = [...new Set(addresses.map(exactCidr))];
    findings.push({ code: 'no_ip_restriction', severity: key.scopes.includes('*') ? 'medium' : 'low', reason: `may be used from anywhere, but was used only from ${addresses.join(', ')}` });
  }

  const suggestion: Suggestion = { scopes, resources, allowed_ips: allowedIps };
  const changes: Record<string, [unknown, unknown]> = {};
  if (JSON.stringify([...key.scopes].sort()) !== JSON.stringify(scopes)) changes.scopes = [key.scopes, scopes];
  if (resources !== null) changes.resources = [key.resources, resources];
  if (allowedIps !== null) changes.allowed_ips = [key.allowed_ips, allowedIps];
  return { ...base, findings, suggestion, changes };
}

/** The update that applies a review's suggestion (only what it narrows). */
export function narrowingOf(review: KeyReview): { scopes?: Scope[]; resources?: ResourceLimits; allowedIps?: string[] } | null {
  if (!review.suggestion || Object.keys(review.changes).length === 0) return null;
  const { scopes, resources, allowed_ips } = review.suggestion;
  return {
    ...(review.changes.scopes ? { scopes } : {}),
    ...(resources ? { resources } : {}),
    ...(allowed_ips ? { allowedIps: allowed_ips } : {}),
  };
}

