/**
 * What every dashboard page group is given: rendering inside the layout, actions run as the
 * signed-in user (one audited transaction, the same services and checks as the API), audited
 * refusals, and flash messages. Page groups (`dashboard.*.ts`) register routes on the dashboard's
 * encapsulated context with `kit`, and never open a transaction or write an event themselves.
 */
import type {} from '@fastify/csrf-protection';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema.js';
import { ALL_SCOPES, type Scope } from '../../http/scopes.js';
import type { TransactionJoiner } from '../../http/transact.js';
import type { Clock } from '../../infra/clock.js';
import type { AuditBatcher } from '../audit/audit.batcher.js';
import { trackChanges } from '../audit/audit.changes.js';
import type { AuditContext } from '../audit/audit.types.js';
import type { AuditWriter } from '../audit/audit.writer.js';
import type { KeyAuthority } from '../keys/keys.service.js';
import type { ActiveSession } from '../users/users.sessions.js';
import type { Role } from '../users/users.service.js';

/** The signed-in user as pages see them. */
export interface DashboardUser {
  id: number;
  email: string;
  role: Role;
  totpEnabled: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The dashboard session the cookie names (any stage), or null. */
    dashboardSession: ActiveSession | null;
  }
  interface FastifyContextConfig {
    /** A dashboard page anyone may load (sign-in); every other page needs a signed-in user. */
    dashboardPublic?: boolean;
    /** A dashboard page for admins only (a user is refused, and the refusal audited). */
    adminOnly?: boolean;
  }
}

/** Scopes a user (not an admin) may grant: everything but key and audit administration. */
export const USER_GRANTABLE: readonly Scope[] = ALL_SCOPES.filter((s) => s !== '*' && !s.startsWith('keys.') && !s.startsWith('audit.'));

/**
 * What a dashboard user may put in a key, and may manage keys up to: an admin everything; a user
 * no key or audit scopes, since a key with `keys.manage` would manage every key through the API,
 * more than the user may in the dashboard.
 */
export function authorityOfUser(user: Pick<DashboardUser, 'role'>): KeyAuthority {
  return user.role === 'admin' ? { scopes: ['*'], allowedIps: null } : { scopes: USER_GRANTABLE, allowedIps: null };
}

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export interface KitDeps {
  db: Kysely<DB>;
  clock: Clock;
  writer: AuditWriter;
  batcher: AuditBatcher;
  /** Work that joins every change's transaction after its events (the API's joiners). */
  joiners: readonly TransactionJoiner[];
  /** After a committed change: caches that show content or keys are emptied. */
  changed: () => void;
  /** The status page's current name (its settings can change at run time). */
  siteName: () => Promise<string>;
}

/** Called with a pending flash cookie value; the plugin owns the cookie. */
export interface FlashStore {
  set(reply: FastifyReply, flash: Flash): void;
  take(request: FastifyRequest, reply: FastifyReply): Flash | null;
}

export function userOf(session: ActiveSession): DashboardUser {
  return { id: session.user.id, email: session.user.email, role: session.user.role, totpEnabled: session.user.totp_enabled_at !== null };
}

/** The audit context of a dashboard request: the user as actor (anonymous before sign-in). */
export function dashboardContext(request: FastifyRequest, userId?: number | null): AuditContext {
  const agent = request.headers['user-agent'];
  const id = userId !== undefined ? userId : request.dashboardSession?.stage === 'full' ? request.dashboardSession.user.id : null;
  return {
    actor: id === null ? { type: 'anonymous' } : { type: 'user', userId: id },
    requestId: request.id,
    ip: request.clientIp || null,
    userAgent: typeof agent === 'string' ? agent : null,
    method: request.method,
    path: request.url.split('?')[0] ?? request.url,
  };
}

export interface Refusal {
  action: string;
  resourceType?: string | null;
  resourceId?: string | number | null;
  reason: string;
  /** 403 (not allowed) or 404 (no such thing, or not theirs to know of). */
  status: 403 | 404 | 400 | 409 | 429 | 401;
  /** What the page says; a generic line when absent. */
  message?: string;
}

export function createKit(app: FastifyInstance, deps: KitDeps, flash: FlashStore) {
  const { db, writer, batcher } = deps;

  /** The signed-in user; only called on guarded routes, where the guard has made sure there is one. */
  function user(request: FastifyRequest): DashboardUser {
    const session = request.dashboardSession;
    if (!session || session.stage !== 'full') throw new Error('dashboard route reached without a signed-in user');
    return userOf(session);
  }

  async function html(request: FastifyRequest, reply: FastifyReply, template: string, data: Record<string, unknown>, status = 200) {
    const session = request.dashboardSession;
    const signedIn = session?.stage === 'full' ? userOf(session) : null;
    const csrf = reply.generateCsrf({ userInfo: session?.digest ?? 'anonymous' });
    const body = await app.view(template, {
      siteName: await deps.siteName(),
      user: signedIn,
      csrf,
      flash: request.method === 'GET' ? flash.take(request, reply) : null,
      section: '',
      ...data,
    });
    return reply.code(status).type('text/html; charset=utf-8').send(String(body));
  }

  return {
    db,
    clock: deps.clock,
    user,
    html,

    /**
     * Runs `work` in one transaction as the signed-in user: every change it records becomes an
     * event with the user as actor, in the same transaction, and the API's joiners run after them.
     */
    async act<T>(request: FastifyRequest, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
      const context = dashboardContext(request);
      const result = await db.transaction().execute(async (trx) => {
        const changes = trackChanges(trx);
        const value = await work(trx);
        await writer.append(trx, changes.map((change) => ({ context, fact: writer.factOf(change, 200) })));
        for (const join of deps.joiners) await join(request, trx, changes);
        return value;
      });
      deps.changed();
      return result;
    },

    /** Writes one event for something that was not a change (a sign-in, a denial). */
    async record(request: FastifyRequest, fact: { action: string; outcome: 'allowed' | 'denied' | 'failed'; status: number; reason?: string | null; resourceType?: string | null; resourceId?: string | number | null }, userId?: number | null) {
      await batcher.write({
        context: dashboardContext(request, userId),
        fact: { action: fact.action, resourceType: fact.resourceType ?? null, resourceId: fact.resourceId ?? null, outcome: fact.outcome, status: fact.status, reason: fact.reason ?? null, changes: null },
      });
    },

    /** Refuses the request: the refusal is audited, then an error page says why. */
    async refuse(request: FastifyRequest, reply: FastifyReply, refusal: Refusal) {
      await batcher.write({
        context: dashboardContext(request),
        fact: { action: refusal.action, resourceType: refusal.resourceType ?? null, resourceId: refusal.resourceId ?? null, outcome: 'denied', status: refusal.status, reason: refusal.reason, changes: null },
      });
      const heading = refusal.status === 404 ? 'Not found' : refusal.status === 403 ? 'Not allowed' : 'Refused';
      return html(request, reply, 'error', { title: heading, heading, text: refusal.message ?? (refusal.status === 404 ? 'There is nothing here, or it is not yours to see.' : 'You may not do this.') }, refusal.status);
    },

    /** Redirects (303, so a form is not sent again) with a message for the next page. */
    done(reply: FastifyReply, to: string, message?: Flash) {
      if (message) flash.set(reply, message);
      return reply.code(303).header('location', to).send();
    },
  };
}

export type Kit = ReturnType<typeof createKit>;

/** Form fields as sent: a string, a list of strings for repeated names, or absent. */
export type FormBody = Record<string, string | string[] | undefined>;

/** One text field of a form ('' when absent; the first when repeated). */
export function field(body: unknown, name: string): string {
  const value = (body as FormBody | undefined)?.[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** A repeated field (checkboxes) as a list. */
export function fields(body: unknown, name: string): string[] {
  const value = (body as FormBody | undefined)?.[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** A whole-number id from a route parameter, or null. */
export function idParam(request: FastifyRequest, name = 'id'): number | null {
  const text = (request.params as Record<string, string>)[name] ?? '';
  return /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : null;
}
