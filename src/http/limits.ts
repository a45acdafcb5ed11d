/**
 * Resource limits (DESIGN.md §2): a key may be limited to listed ids per resource
 * (`{"components": [7]}`). Each route declares which resource it touches and where the id is
 * (`access.limit`); the pipeline enforces it in `onRequest` (`checkResourceLimit`) and for body
 * fields that reach another resource in `preValidation` (`checkFieldLimits`), so no handler can
 * forget it. Lists are the one place a handler takes part: it filters its query by `allowedIds`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorEnvelope, refused } from './errors.js';
import type { Resource } from './scopes.js';

/** Resources a key can be limited to listed ids of, each with the scope resources its routes use. */
export const LIMITABLE = {
  components: ['components'],
  'component-groups': ['component-groups'],
  // Updates live under their incident, points under their metric: the parent's id limits them.
  incidents: ['incidents', 'incident-updates'],
  metrics: ['metrics', 'metric-points'],
  schedules: ['schedules'],
  'incident-templates': ['incident-templates'],
} as const satisfies Readonly<Record<string, readonly Resource[]>>;

/** A resource a key can be limited on. */
export type LimitedResource = keyof typeof LIMITABLE;

/** Most ids one resource limit may list. */
export const MAX_LIMIT_IDS = 100;

/** Ids per resource; a resource not named is not limited. Null for a key without limits. */
export type ResourceLimits = Readonly<Record<string, readonly number[]>>;

/**
 * Where a route's resource id is, declared with its scope:
 * - `{ resource, param }`: the id is that path parameter (show, update, delete, nested routes);
 * - `{ resource, creates: true }`: a new record, whose id no limit can list, so a limited key is refused;
 * - `{ resource, lists: true }`: a list, which the handler filters by `allowedIds(request)`.
 */
export type ResourceLimit =
  | { resource: LimitedResource; param: string; creates?: never; lists?: never }
  | { resource: LimitedResource; creates: true; param?: never; lists?: never }
  | { resource: LimitedResource; lists: true; param?: never; creates?: never };

/** The limited resource whose routes include scope resource `scopeResource`, if any. */
export function limitableResourceOf(scopeResource: string): LimitedResource | null {
  for (const [resource, members] of Object.entries(LIMITABLE)) if ((members as readonly string[]).includes(scopeResource)) return resource as LimitedResource;
  return null;
}

/**
 * Checks a requested limit map: known resources, 1 to MAX_LIMIT_IDS positive integer ids each.
 * Returns it normalised (ids deduplicated and sorted), or why it is refused.
 */
export function parseResourceLimits(input: unknown): { ok: true; limits: ResourceLimits } | { ok: false; error: string } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, error: 'resources must be an object of resource name → list of ids' };
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length === 0) return { ok: false, error: 'resources: the object is empty; leave it out for no resource limit' };
  const limits: Record<string, number[]> = {};
  for (const [resource, ids] of entries) {
    if (!Object.hasOwn(LIMITABLE, resource)) return { ok: false, error: `resources: "${resource}" cannot be limited; known: ${Object.keys(LIMITABLE).join(', ')}` };
    if (!Array.isArray(ids) || ids.length === 0) return { ok: false, error: `resources: ${resource} needs a list of at least one id` };
    if (!ids.every((id) => Number.isSafeInteger(id) && (id as number) > 0)) return { ok: false, error: `resources: ${resource} ids must be positive whole numbers` };
    const unique = [...new Set(ids as number[])].sort((a, b) => a - b);
    if (unique.length > MAX_LIMIT_IDS) return { ok: false, error: `resources: ${resource} lists more than ${MAX_LIMIT_IDS} ids` };
    limits[resource] = unique;
  }
  return { ok: true, limits };
}

/** What `target` may reach beyond `caller`'s limits, as readable refusals; empty when within. */
export function limitsBeyond(caller: ResourceLimits | null, target: ResourceLimits | null): string[] {
  if (caller === null) return [];
  const problems: string[] = [];
  for (const [resource, ids] of Object.entries(caller)) {
    const wanted = target?.[resource];
    if (wanted === undefined) problems.push(`${resource} without the limit to ids ${ids.join(', ')} it has`);
    else {
      const outside = wanted.filter((id) => !ids.includes(id));
      if (outside.length > 0) problems.push(`${resource} ids outside its own (${outside.join(', ')})`);
    }
  }
  return problems;
}

function limitsOf(request: FastifyRequest): ResourceLimits | null {
  return request.principal.type === 'key' ? request.principal.key.resources : null;
}

function deny(resource: string, ids: readonly number[], what: string): Error {
  return refused('resource_denied', `This API key is limited to ${resource} ${ids.join(', ')}: it may not ${what}.`);
}

/**
 * The `onRequest` stage after the scope check: refuses a limited key on an id outside its list,
 * and on a create of a resource it is limited on.
 */
export function checkResourceLimit(request: FastifyRequest): void {
  const limit = request.routeOptions.config.access?.limit;
  const limits = limitsOf(request);
  if (!limit || !limits) return;
  const ids = limits[limit.resource];
  if (ids === undefined) return;
  if (limit.creates) throw deny(limit.resource, ids, `create ${limit.resource}`);
  if (limit.param !== undefined) {
    const raw = (request.params as Record<string, string | undefined>)[limit.param] ?? '';
    const id = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
    if (!ids.includes(id)) throw deny(limit.resource, ids, `act on ${limit.resource} ${raw.slice(0, 20)}`);
  }
}

/**
 * `preValidation`, once the body is read: a body field naming a record of a limited resource
 * (an incident's `component_id`) must name one the key may act on. `component_status` without
 * `component_id` changes the incident's own component, which the pipeline cannot see, so a key
 * limited on components must name the component.
 */
export function checkFieldLimits(request: FastifyRequest): void {
  const fieldLimits = request.routeOptions.config.access?.fieldLimits;
  const limits = limitsOf(request);
  if (!fieldLimits || !limits) return;
  const body = (request.body ?? {}) as Record<string, unknown>;
  for (const { field, resource, with: companions = [] } of fieldLimits) {
    const ids = limits[resource];
    if (ids === undefined) continue;
    const value = body[field];
    const touched = value !== undefined || companions.some((c) => body[c] !== undefined);
    if (!touched) continue;
    // 0 unlinks: no record of the resource is touched.
    if (value === 0 || value === '0') continue;
    const id = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : NaN;
    if (value === undefined) throw deny(resource, ids, `set ${companions.join(', ')} without naming ${field}`);
    if (!ids.includes(id)) throw deny(resource, ids, `set ${field} to ${JSON.stringify(value).slice(0, 20)}`);
  }
}

/**
 * The ids of `resource` the caller's key may see, or null when it is not limited on it: for
 * records of one resource embedded in another's answer (a group's components).
 */
export function limitedIds(request: FastifyRequest, resource: LimitedResource): readonly number[] | null {
  return limitsOf(request)?.[resource] ?? null;
}

/**
 * The ids a list may show: the key's list for the route's limited resource, or null for no
 * filter. Every list of a limited resource passes this to its query (`PageRequest.onlyIds`).
 */
export function allowedIds(request: FastifyRequest): readonly number[] | null {
  request.resourceLimitApplied = true;
  const limit = request.routeOptions.config.access?.limit;
  const limits = limitsOf(request);
  if (!limit || !limits) return null;
  return limits[limit.resource] ?? null;
}

/**
 * `onSend`, before the audit stage: a list route of a limited resource that answered a limited
 * key without asking `allowedIds` may have shown records outside the limit, so its answer is
 * replaced by a 500 (fail closed) and the fault logged. The security test keeps this from happening.
 */
export async function enforceListFiltered(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  const limit = request.routeOptions.config.access?.limit;
  if (!limit?.lists || request.resourceLimitApplied || reply.statusCode >= 400) return payload;
  const limits = limitsOf(request);
  if (!limits || limits[limit.resource] === undefined) return payload;
  request.log.error({ route: request.routeOptions.url }, 'a list of a limited resource did not apply the key\'s resource limit; answered 500');
  reply.code(500).type('application/json');
  return JSON.stringify(errorEnvelope(500));
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the handler asked `allowedIds`: a list of a limited resource must. */
    resourceLimitApplied: boolean;
  }
}
