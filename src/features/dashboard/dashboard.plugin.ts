/**
 * The dashboard at /dashboard: an encapsulated context with its own headers (a strict CSP, no
 * caching), server-side sessions in the database, CSRF protection on every form, and HTML error
 * pages. Sign-in (password, then TOTP when the user has it) is here; each area of the dashboard
 * is a page group in its own file, given the kit (dashboard.kit.ts).
 */
import { hkdfSync, createHmac } from 'node:crypto';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isStoreUnavailable } from '../../db/errors.js';
import type { RateLimiter } from '../../infra/rate-limit.js';
import type { UsersService } from '../users/users.service.js';
import type { Sessions } from '../users/users.sessions.js';
import { secondFactorPages } from './dashboard.account.js';
import { createKit, field, type Flash, type FlashStore, type Kit, type KitDeps } from './dashboard.kit.js';

export const SESSION_COOKIE = 'cachet_session';
export const CSRF_COOKIE = 'cachet_csrf';
const FLASH_COOKIE = 'cachet_flash';

/** Sign-in throttles: failures per window before further attempts are refused. */
export const SIGN_IN_LIMITS = {
  /** Per client address: a password-spraying source. */
  perAddress: 20,
  /** Per account: guessing one user's password or code, from anywhere. */
  perAccount: 10,
  windowSec: 15 * 60,
};

/** A page group: one area of the dashboard, registered on the dashboard's context. */
export type PageGroup = (app: FastifyInstance, kit: Kit) => void | Promise<void>;

export interface DashboardDeps extends KitDeps {
  pepper: Buffer;
  publicUrl: string;
  users: UsersService;
  sessions: Sessions;
  limiter: RateLimiter;
  /** The areas after sign-in (keys, audit, content, account…), each its own file. */
  groups: readonly PageGroup[];
}

function derive(pepper: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', pepper, Buffer.alloc(0), `cachet dashboard ${purpose}`, 32));
}

const HEADERS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      styleSrc: ["'self'"],
      scriptSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      fontSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
  referrerPolicy: { policy: 'same-origin' as const },
};

/** The dashboard's static files (its stylesheet and script): public, and no session is looked up for them. */
function isAsset(request: FastifyRequest): boolean {
  return request.routeOptions.url?.startsWith('/dashboard/assets/') ?? false;
}

export async function dashboardPlugin(app: FastifyInstance, deps: DashboardDeps): Promise<void> {
  const { db, users, sessions, limiter } = deps;
  const secureCookies = deps.publicUrl.startsWith('https:') ? true : ('auto' as const);
  const cookieOptions = { path: '/dashboard', httpOnly: true, sameSite: 'lax' as const, secure: secureCookies };

  await app.register(cookie, { secret: derive(deps.pepper, 'cookie signing').toString('base64') });
  await app.register(csrf, {
    cookieKey: CSRF_COOKIE,
    cookieOpts: { ...cookieOptions, sameSite: 'strict', signed: true },
    // The token is bound to the session, so a token from one session (or a planted cookie) is worthless in another.
    getUserInfo: (request: FastifyRequest) => request.dashboardSession?.digest ?? 'anonymous',
    getToken: (request: FastifyRequest) => field(request.body, '_csrf'),
    csrfOpts: { hmacKey: derive(deps.pepper, 'csrf') },
  });
  await app.register(helmet, HEADERS);
  await app.register(view, {
    engine: { eta: new Eta({ autoEscape: true, autoTrim: false }) },
    root: new URL('./views', import.meta.url).pathname,
  });
  await app.register(fastifyStatic, {
    root: new URL('./public', import.meta.url).pathname,
    prefix: '/dashboard/assets/',
    maxAge: 3600_000,
    index: false,
  });

  const flash: FlashStore = {
    set(reply, message) {
      reply.setCookie(FLASH_COOKIE, JSON.stringify({ kind: message.kind, text: message.text.slice(0, 500) }), { ...cookieOptions, signed: true, maxAge: 60 });
    },
    take(request, reply) {
      const raw = request.cookies[FLASH_COOKIE];
      if (raw === undefined) return null;
      reply.clearCookie(FLASH_COOKIE, cookieOptions);
      const unsigned = request.unsignCookie(raw);
      if (!unsigned.valid || unsigned.value === null) return null;
      try {
        const parsed = JSON.parse(unsigned.value) as Flash;
        return (parsed.kind === 'ok' || parsed.kind === 'error') && typeof parsed.text === 'string' ? parsed : null;
      } catch {
        return null;
      }
    },
  };
  const kit = createKit(app, deps, flash);

  app.decorateRequest('dashboardSession', null);
  // The API's cross-origin reads (CORS for status widgets) do not extend to the dashboard.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.removeHeader('access-control-allow-origin');
    return payload;
  });
  app.addHook('onRequest', async (request, reply) => {
    // Nothing here may be kept by a browser or a proxy: pages show keys and the audit trail.
    reply.header('cache-control', 'no-store');
    // The stylesheet and script need no session: no lookup (and no write of its last use) for them.
    if (isAsset(request)) return;
    const id = request.cookies[SESSION_COOKIE];
    request.dashboardSession = id ? await sessions.find(db, id) : null;
  });
  // CSRF first (a forged form is refused before anything else looks at it), then the sign-in guard.
  app.addHook('preHandler', (request, reply, next) => {
    if (request.method === 'GET' || request.method === 'HEAD') return next();
    app.csrfProtection(request, reply, next);
  });
  app.addHook('preHandler', async (request, reply) => {
    const config = request.routeOptions.config;
    // The sign-in page needs its stylesheet and script before anyone has signed in.
    if (config.dashboardPublic || isAsset(request)) return;
    const session = request.dashboardSession;
    if (!session || session.stage !== 'full') {
      return reply.code(303).header('location', session?.stage === 'password' ? '/dashboard/login/totp' : '/dashboard/login').send();
    }
    if (config.adminOnly && session.user.role !== 'admin') {
      return kit.refuse(request, reply, { action: `dashboard.${request.routeOptions.url?.split('/')[2] ?? 'page'}`, reason: 'admin_only', status: 403, message: 'Only an admin may do this.' });
    }
  });

  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string; validation?: unknown }, request, reply) => {
    if (error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET') {
      return kit.refuse(request, reply, {
        action: `dashboard.${request.method.toLowerCase()}`,
        reason: 'csrf_invalid',
        status: 403,
        message: 'This form was not sent from this page, or it expired. Go back, reload the page and try again.',
      });
    }
    if (error.validation || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)) {
      const status = error.statusCode ?? 400;
      return kit.html(request, reply, 'error', { title: 'Bad request', heading: 'Bad request', text: 'The request could not be understood.' }, status === 404 ? 404 : 400);
    }
    const unavailable = isStoreUnavailable(error);
    request.log.error({ err: error }, unavailable ? 'database unavailable' : 'dashboard failed');
    if (unavailable) reply.header('retry-after', '5');
    return reply
      .code(unavailable ? 503 : 500)
      .type('text/html; charset=utf-8')
      .send('<!doctype html><html lang="en"><title>Error</title><h1>Something went wrong</h1><p>Try again in a moment.</p></html>');
  });

  // ---- sign-in ----
  const accountBucket = (email: string) => `signin-account:${createHmac('sha256', deps.pepper).update(email.trim().toLowerCase()).digest('hex').slice(0, 32)}`;
  const addressBucket = (request: FastifyRequest) => `signin-address:${request.clientIp}`;

  /** Whether this address and account may try again; seconds to wait when not. */
  async function throttled(request: FastifyRequest, email: string): Promise<number | null> {
    const checks = await Promise.all([
      limiter.peek(addressBucket(request), SIGN_IN_LIMITS.perAddress, SIGN_IN_LIMITS.windowSec),
      limiter.peek(accountBucket(email), SIGN_IN_LIMITS.perAccount, SIGN_IN_LIMITS.windowSec),
    ]);
    const refused = checks.filter((c) => c !== null && !c.allowed);
    return refused.length === 0 ? null : Math.max(1, Math.ceil(Math.max(...refused.map((c) => c!.resetMs)) / 1000));
  }
  async function countFailure(request: FastifyRequest, email: string) {
    await Promise.all([
      limiter.consume(addressBucket(request), SIGN_IN_LIMITS.perAddress, SIGN_IN_LIMITS.windowSec),
      limiter.consume(accountBucket(email), SIGN_IN_LIMITS.perAccount, SIGN_IN_LIMITS.windowSec),
    ]);
  }

  /** Ends whatever session the browser brought and starts a new one: a new id at every change of privilege. */
  async function startSession(request: FastifyRequest, reply: FastifyReply, userId: number, stage: 'password' | 'full') {
    if (request.dashboardSession) await sessions.end(db, request.dashboardSession.digest);
    const agent = request.headers['user-agent'];
    const { id } = await sessions.start(db, userId, stage, { ip: request.clientIp || null, userAgent: typeof agent === 'string' ? agent : null });
    reply.setCookie(SESSION_COOKIE, id, { ...cookieOptions, maxAge: Math.floor(sessions.policy.absoluteMs / 1000) });
    // The CSRF secret is replaced with the session, so nothing issued before sign-in carries over.
    reply.clearCookie(CSRF_COOKIE, cookieOptions);
  }

  const loginPage = (request: FastifyRequest, reply: FastifyReply, data: { error?: string; email?: string } = {}, status = 200) =>
    kit.html(request, reply, 'login', { title: 'Sign in', email: data.email ?? '', error: data.error ?? null }, status);

  app.get('/dashboard/login', { config: { dashboardPublic: true }, schema: { hide: true } }, async (request, reply) => {
    if (request.dashboardSession?.stage === 'full') return reply.code(303).header('location', '/dashboard').send();
    return loginPage(request, reply);
  });

  app.post('/dashboard/login', { config: { dashboardPublic: true }, schema: { hide: true } }, async (request, reply) => {
    const email = field(request.body, 'email').trim().slice(0, 254);
    const password = field(request.body, 'password').slice(0, 1024);
    if (email === '' || password === '') return loginPage(request, reply, { error: 'Enter your email and password.', email }, 400);
    const wait = await throttled(request, email);
    if (wait !== null) {
      await kit.record(request, { action: 'sessions.create', outcome: 'denied', status: 429, reason: 'throttled' }, null);
      reply.header('retry-after', String(wait));
      return loginPage(request, reply, { error: `Too many failed sign-ins. Try again in ${Math.ceil(wait / 60)} minute(s).`, email }, 429);
    }
    const user = await users.authenticate(db, email, password);
    if (!user) {
      await countFailure(request, email);
      const known = await users.byEmail(db, email);
      await kit.record(request, { action: 'sessions.create', outcome: 'denied', status: 401, reason: known ? 'wrong_password' : 'unknown_user', resourceType: known ? 'users' : null, resourceId: known?.id ?? null }, known?.id ?? null);
      return loginPage(request, reply, { error: 'The email or the password is wrong.', email }, 401);
    }
    if (user.totp_enabled_at !== null) {
      await startSession(request, reply, user.id, 'password');
      return reply.code(303).header('location', '/dashboard/login/totp').send();
    }
    await startSession(request, reply, user.id, 'full');
    await users.recordSignIn(db, user.id);
    await kit.record(request, { action: 'sessions.create', outcome: 'allowed', status: 303, reason: 'password', resourceType: 'users', resourceId: user.id }, user.id);
    return reply.code(303).header('location', '/dashboard').send();
  });

  app.post('/dashboard/logout', { config: { dashboardPublic: true }, schema: { hide: true } }, async (request, reply) => {
    const session = request.dashboardSession;
    if (session) {
      await sessions.end(db, session.digest);
      await kit.record(request, { action: 'sessions.delete', outcome: 'allowed', status: 303, reason: 'signed_out', resourceType: 'users', resourceId: session.user.id }, session.user.id);
    }
    reply.clearCookie(SESSION_COOKIE, cookieOptions);
    reply.clearCookie(CSRF_COOKIE, cookieOptions);
    return kit.done(reply, '/dashboard/login', { kind: 'ok', text: 'You are signed out.' });
  });

  const signIn: SignInSteps = { startSession, throttled, countFailure };
  for (const group of deps.groups) await group(app, kit);
  await secondFactorPages(app, kit, { db, users, sessions, pepper: deps.pepper, siteName: deps.siteName }, signIn);
}

/** What the second-factor step needs from the first. */
export interface SignInSteps {
  startSession(request: FastifyRequest, reply: FastifyReply, userId: number, stage: 'password' | 'full'): Promise<void>;
  throttled(request: FastifyRequest, email: string): Promise<number | null>;
  countFailure(request: FastifyRequest, email: string): Promise<void>;
}
