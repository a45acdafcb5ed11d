/**
 * API keys in the dashboard: the list, a key's page with its use, and creating, rotating, revoking
 * and setting a rotation policy, through the keys service with the user's authority as the caller
 * (no escalation past what the user may grant) and the user as the audit actor. A token or webhook
 * secret appears once, in the answer to the form that made it: never in a URL or a page served again.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { DB } from '../../db/schema.js';
import { ALL_SCOPES, RESOURCES, scopeGrants, type Scope } from '../../http/scopes.js';
import { parseDuration } from '../../infra/duration.js';
import { toStoredTime } from '../../infra/time.js';
import { createAuditRepo } from '../audit/audit.repo.js';
import type { RotationPolicyInput } from '../keys/keys.delivery.js';
import { formatResourceList, parseResourceList } from '../keys/keys.resources.js';
import type { CreateKeyResult, KeyRefused, KeysService, KeyView } from '../keys/keys.service.js';
import type { PageGroup } from './dashboard.plugin.js';
import { authorityOfUser, field, fields, idParam, type DashboardUser, type Kit } from './dashboard.kit.js';

export interface KeysPagesDeps {
  keys: KeysService;
  /** Longest key lifetime (CACHET_KEY_MAX_TTL); null allows `never`. */
  keyMaxTtlMs: number | null;
  /** The lifetime of a key whose form leaves the expiry empty. */
  keyDefaultTtlMs: number;
}

/** How far back a key's page summarises its use. */
const USAGE_WINDOW_MS = 30 * 86_400_000;
/** The grace a rotation offers unless the user changes it. */
const DEFAULT_GRACE = '24h';

/** What the create form holds, as entered (re-shown after a refusal). */
interface KeyForm {
  name: string;
  purpose: string;
  scopes: string[];
  confirmAll: boolean;
  expires: string;
  allowedIps: string;
  resources: string;
  rateLimit: string;
}

/** Carries a refused operation out of `kit.act`, so its transaction rolls back. */
class RolledBack extends Error {
  constructor(readonly refusal: KeyRefused) {
    super(refusal.error);
  }
}

/** `30d`, `24h`, `90m` or `90s`: the largest unit that divides `ms`. */
function durationText(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}

/** A refusal as the user reads it: the service's message with a capital and a full stop. */
function sentence(text: string): string {
  return `${text[0]!.toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
}

/** The scopes `user` may put in a key, grouped by resource for the form; `*` apart. */
function grantableScopes(user: DashboardUser): { all: boolean; groups: Array<{ resource: string; scopes: Scope[] }> } {
  const authority = authorityOfUser(user).scopes;
  const offered = ALL_SCOPES.filter((scope) => scope !== '*' && scopeGrants(authority, scope));
  return {
    all: authority.includes('*'),
    groups: RESOURCES.map((resource) => ({ resource, scopes: offered.filter((scope) => scope.startsWith(`${resource}.`)) })).filter((g) => g.scopes.length > 0),
  };
}

/** A key's restrictions in words, one item each. */
function restrictionsOf(key: KeyView): string[] {
  const items: string[] = [];
  if (key.allowed_ips) items.push(`from ${key.allowed_ips.join(', ')}`);
  if (key.resources) items.push(`only ${formatResourceList(key.resources)}`);
  if (key.rate_limit !== null) items.push(`${key.rate_limit} requests/min`);
  if (key.not_before) items.push(`valid from ${key.not_before}`);
  return items;
}

/** Where a key stands in its rotation: scheduled, rotated and whether its successor was picked up, or nothing. */
function rotationStateOf(key: KeyView, successorFirstUse: string | null | undefined): string | null {
  if (key.replaced_by_id !== null) {
    const pickup = successorFirstUse ? `picked up ${successorFirstUse}` : 'not picked up yet';
    return `rotated ${key.rotated_at ?? ''} to key ${key.replaced_by_id}; ${pickup}`;
  }
  if (key.rotation) {
    const failing = key.delivery && key.delivery.failures > 0 ? `; delivery failing (${key.delivery.failures}×)` : '';
    return `every ${key.rotation.every}, next ${key.delivery?.next_attempt_at ?? '—'}${failing}`;
  }
  return null;
}

function readForm(body: unknown): KeyForm {
  return {
    name: field(body, 'name').trim().slice(0, 200),
    purpose: field(body, 'purpose').trim().slice(0, 1000),
    scopes: fields(body, 'scopes').slice(0, 64),
    confirmAll: field(body, 'confirm_all') === 'yes',
    expires: field(body, 'expires').trim().slice(0, 20),
    allowedIps: field(body, 'allowed_ips').slice(0, 4000),
    resources: field(body, 'resources').slice(0, 4000),
    rateLimit: field(body, 'rate_limit').trim().slice(0, 20),
  };
}

/** What the form itself says is wrong (the service checks the rest), or null. */
function formProblem(form: KeyForm): string | null {
  if (form.scopes.length === 0) return 'Choose at least one scope.';
  if (form.scopes.includes('*') && !form.confirmAll) return 'Full access (*) grants everything, key and audit administration included: confirm it with its own checkbox, or choose scopes instead.';
  if (form.purpose === '') return 'Say what the key is for: the purpose is required.';
  if (form.rateLimit !== '' && !/^\d{1,7}$/.test(form.rateLimit)) return 'The rate limit must be a whole number of requests per minute.';
  return null;
}

export function keysPages(deps: KeysPagesDeps): PageGroup {
  const { keys } = deps;
  const auditRepo = createAuditRepo();

  return (app: FastifyInstance, kit: Kit) => {
    const { db } = kit;

    /**
     * The key the route's id names, if the user may see it (an admin every key, a user their own);
     * otherwise the refusal is audited and answered with the same 404 as for no such key.
     */
    async function visibleKey(request: FastifyRequest, reply: FastifyReply, action: string): Promise<KeyView | null> {
      const me = kit.user(request);
      const id = idParam(request);
      const key = id === null ? null : await keys.show(id);
      if (key && (me.role === 'admin' || key.owner_user_id === me.id)) return key;
      await kit.refuse(request, reply, { action, resourceType: 'keys', resourceId: id, reason: key ? 'not_owner' : 'not_found', status: 404 });
      return null;
    }

    /** Runs a key operation as the user; a refusal rolls its transaction back and is returned. */
    async function attempt<T extends { ok: true }>(request: FastifyRequest, work: (trx: Transaction<DB>) => Promise<T | KeyRefused>): Promise<T | KeyRefused> {
      try {
        return await kit.act(request, async (trx) => {
          const result = await work(trx);
          if (!result.ok) throw new RolledBack(result);
          return result;
        });
      } catch (err) {
        if (err instanceof RolledBack) return err.refusal;
        throw err;
      }
    }

    /** Audits a refused or failed key operation as the API does: 403 denied (escalation), else failed. */
    function recordRefusal(request: FastifyRequest, action: string, status: number, keyId: number | null) {
      const denied = status === 403;
      const reason = denied ? 'escalation_denied' : status === 409 ? 'conflict' : status === 404 ? 'not_found' : 'invalid_input';
      return kit.record(request, { action, outcome: denied ? 'denied' : 'failed', status, reason, resourceType: 'keys', resourceId: keyId });
    }

    /** Owners' emails by id, for the keys shown. */
    async function ownerEmails(ids: Array<number | null>): Promise<Map<number, string>> {
      const wanted = [...new Set(ids.filter((id): id is number => id !== null))];
      if (wanted.length === 0) return new Map();
      const rows = await db.selectFrom('users').select(['id', 'email']).where('id', 'in', wanted).execute();
      return new Map(rows.map((row) => [row.id, row.email]));
    }

    const formPage = (request: FastifyRequest, reply: FastifyReply, form: KeyForm, error: string | null, status = 200) =>
      kit.html(
        request,
        reply,
        'keys-new',
        {
          title: 'New API key',
          section: 'keys',
          form,
          error,
          offered: grantableScopes(kit.user(request)),
          defaultExpires: durationText(deps.keyDefaultTtlMs),
          maxExpires: deps.keyMaxTtlMs === null ? null : durationText(deps.keyMaxTtlMs),
        },
        status,
      );

    /** A key's page: its facts, rotation, use over the last 30 days, and the forms that act on it. */
    async function keyPage(request: FastifyRequest, reply: FastifyReply, key: KeyView, error: string | null = null, status = 200) {
      const now = kit.clock.now();
      const since = toStoredTime(new Date(now.getTime() - USAGE_WINDOW_MS));
      const [usage, successor, owners] = await Promise.all([
        auditRepo.usage(db, key.id, since, toStoredTime(new Date(now.getTime() + 1))),
        key.replaced_by_id === null ? null : keys.show(key.replaced_by_id),
        ownerEmails([key.owner_user_id]),
      ]);
      return kit.html(
        request,
        reply,
        'keys-show',
        {
          title: `Key ${key.name}`,
          section: 'keys',
          key,
          error,
          owner: key.owner_user_id === null ? null : (owners.get(key.owner_user_id) ?? `user ${key.owner_user_id}`),
          restrictions: restrictionsOf(key),
          rotationState: rotationStateOf(key, successor?.first_used_at),
          usage: {
            since,
            total: usage.counts.reduce((sum, c) => sum + Number(c.count), 0),
            first: usage.first,
            last: usage.last,
            counts: usage.counts.map((c) => ({ action: c.action, outcome: c.outcome, count: Number(c.count) })),
            addresses: usage.addresses.map((a) => ({ ip: a.ip ?? '', count: Number(a.count), first: a.first, last: a.last })),
          },
          live: key.status === 'active' || key.status === 'pending',
          rotatable: key.status === 'active' && key.replaced_by_id === null,
          defaultGrace: DEFAULT_GRACE,
        },
        status,
      );
    }

    app.get('/dashboard/keys', { schema: { hide: true } }, async (request, reply) => {
      const me = kit.user(request);
      const all = (request.query as Record<string, string | undefined>).all === '1';
      const everything = await keys.list();
      const byId = new Map(everything.map((key) => [key.id, key]));
      const mine = everything.filter((key) => me.role === 'admin' || key.owner_user_id === me.id);
      const shown = mine.filter((key) => all || key.status === 'active' || key.status === 'pending').reverse();
      const owners = await ownerEmails(shown.map((key) => key.owner_user_id));
      return kit.html(request, reply, 'keys', {
        title: 'API keys',
        section: 'keys',
        all,
        hidden: mine.length - shown.length,
        keys: shown.map((key) => ({
          ...key,
          owner: key.owner_user_id === null ? null : key.owner_user_id === me.id ? 'you' : (owners.get(key.owner_user_id) ?? `user ${key.owner_user_id}`),
          restrictions: restrictionsOf(key),
          rotationState: rotationStateOf(key, key.replaced_by_id === null ? undefined : byId.get(key.replaced_by_id)?.first_used_at),
        })),
      });
    });

    app.get('/dashboard/keys/new', { schema: { hide: true } }, async (request, reply) =>
      formPage(request, reply, { name: '', purpose: '', scopes: [], confirmAll: false, expires: durationText(deps.keyDefaultTtlMs), allowedIps: '', resources: '', rateLimit: '' }, null),
    );

    app.post('/dashboard/keys', { schema: { hide: true } }, async (request, reply) => {
      const me = kit.user(request);
      const form = readForm(request.body);
      const resources = form.resources.trim() === '' ? null : parseResourceList(form.resources);
      const problem = formProblem(form) ?? (resources && !resources.ok ? `Resource limits: ${resources.error}.` : null);
      if (problem) {
        await recordRefusal(request, 'keys.create', 400, null);
        return formPage(request, reply, form, problem, 400);
      }
      const allowedIps = form.allowedIps.split(/[\s,]+/).filter(Boolean);
      const result = await attempt<Extract<CreateKeyResult, { ok: true }>>(request, async (trx) => {
        const created = await keys.create(trx, {
          name: form.name,
          purpose: form.purpose,
          requirePurpose: true,
          scopes: form.scopes,
          ...(form.expires !== '' ? { expires: form.expires } : {}),
          ...(allowedIps.length > 0 ? { allowedIps } : {}),
          ...(resources?.ok ? { resources: resources.limits } : {}),
          ...(form.rateLimit !== '' ? { rateLimit: Number(form.rateLimit) } : {}),
          createdBy: `user:${me.id}`,
          ownerUserId: me.id,
          creator: authorityOfUser(me),
        });
        // As the API tells them apart: an escalation is a 403, anything else bad input.
        return created.ok ? created : { ok: false as const, status: /cannot grant/.test(created.error) ? (403 as const) : (400 as const), error: created.error };
      });
      if (!result.ok) {
        await recordRefusal(request, 'keys.create', result.status, null);
        return formPage(request, reply, form, sentence(result.error), result.status);
      }
      return tokenPage(request, reply, 'created', result, null);
    });

    /** The one page that shows a token: the response to the POST that made it (no redirect, no URL, nothing stored that could show it again). */
    function tokenPage(request: FastifyRequest, reply: FastifyReply, done: 'created' | 'rotated', made: { key: KeyView; token: string; warnings: string[] }, previous: KeyView | null) {
      return kit.html(request, reply, 'keys-token', {
        title: done === 'created' ? 'Key created' : 'Key rotated',
        section: 'keys',
        heading: `Key “${made.key.name}” ${done}`,
        key: made.key,
        token: made.token,
        warnings: made.warnings,
        previous,
      });
    }

    app.get('/dashboard/keys/:id', { schema: { hide: true } }, async (request, reply) => {
      const key = await visibleKey(request, reply, 'keys.show');
      if (!key) return reply;
      return keyPage(request, reply, key);
    });

    app.post('/dashboard/keys/:id/rotate', { schema: { hide: true } }, async (request, reply) => {
      const me = kit.user(request);
      const key = await visibleKey(request, reply, 'keys.rotate');
      if (!key) return reply;
      const graceText = field(request.body, 'grace').trim() || DEFAULT_GRACE;
      const graceMs = parseDuration(graceText);
      let problem: string | null = null;
      if (field(request.body, 'confirm') !== 'yes') problem = 'Not rotated: tick the box to confirm the rotation.';
      else if (graceMs === null) problem = `Not rotated: the grace must be a duration such as 24h, 90m or 30s; got “${graceText.slice(0, 20)}”.`;
      if (problem) {
        await recordRefusal(request, 'keys.rotate', 400, key.id);
        return keyPage(request, reply, key, problem, 400);
      }
      const result = await attempt(request, (trx) => keys.rotate(trx, key.id, { graceMs: graceMs!, createdBy: `user:${me.id}` }, authorityOfUser(me)));
      if (!result.ok) {
        await recordRefusal(request, 'keys.rotate', result.status, key.id);
        return keyPage(request, reply, (await keys.show(key.id)) ?? key, `Not rotated: ${sentence(result.error)}`, result.status);
      }
      return tokenPage(request, reply, 'rotated', result, result.previous);
    });

    app.post('/dashboard/keys/:id/revoke', { schema: { hide: true } }, async (request, reply) => {
      const me = kit.user(request);
      const key = await visibleKey(request, reply, 'keys.revoke');
      if (!key) return reply;
      if (field(request.body, 'confirm') !== 'yes') {
        await recordRefusal(request, 'keys.revoke', 400, key.id);
        return keyPage(request, reply, key, 'Not revoked: tick the box to confirm that this key should stop working now.', 400);
      }
      const result = await attempt(request, (trx) => keys.revoke(trx, key.id, authorityOfUser(me)));
      if (!result.ok) {
        await recordRefusal(request, 'keys.revoke', result.status, key.id);
        return keyPage(request, reply, key, `Not revoked: ${sentence(result.error)}`, result.status);
      }
      return kit.done(reply, `/dashboard/keys/${key.id}`, { kind: 'ok', text: `Key “${key.name}” is revoked: it stopped working now.` });
    });

    app.post('/dashboard/keys/:id/rotation', { schema: { hide: true } }, async (request, reply) => {
      const me = kit.user(request);
      const key = await visibleKey(request, reply, 'keys.update');
      if (!key) return reply;
      const remove = field(request.body, 'remove') === 'yes';
      const retire = field(request.body, 'retire_after_pickup').trim();
      const rotation: RotationPolicyInput | null = remove
        ? null
        : {
            every: field(request.body, 'every').trim().slice(0, 20),
            grace: field(request.body, 'grace').trim().slice(0, 20),
            deliver: { type: 'webhook', url: field(request.body, 'webhook_url').trim().slice(0, 2001) },
            retire_after_pickup: retire === '' ? null : retire.slice(0, 20),
          };
      if (remove && key.rotation === null) return kit.done(reply, `/dashboard/keys/${key.id}`, { kind: 'ok', text: 'The key has no rotation policy.' });
      // From the dashboard, as from the API, only webhook targets: file and command act on the server's host.
      const result = await attempt(request, (trx) => keys.update(trx, key.id, { rotation, hostTargets: false }, authorityOfUser(me)));
      if (!result.ok) {
        await recordRefusal(request, 'keys.update', result.status, key.id);
        return keyPage(request, reply, key, `Rotation policy not saved: ${sentence(result.error)}`, result.status);
      }
      if (result.webhookSecret) {
        return kit.html(request, reply, 'keys-secret', { title: 'Webhook signing secret', section: 'keys', key: result.key, secret: result.webhookSecret });
      }
      return kit.done(reply, `/dashboard/keys/${key.id}`, { kind: 'ok', text: remove ? 'Rotation policy removed.' : 'Rotation policy saved.' });
    });
  };
}
