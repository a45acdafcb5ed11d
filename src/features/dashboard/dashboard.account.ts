/**
 * Two-factor sign-in (TOTP, RFC 6238, as Cachet 2.4 offered) and the user's own account: the
 * sign-in step after the password, turning TOTP on (QR code, a first code, recovery codes shown
 * once) and off, and changing one's password.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import { passwordProblem, verifyPassword } from '../users/users.password.js';
import type { UsersService } from '../users/users.service.js';
import type { Sessions } from '../users/users.sessions.js';
import { checkTotp, newRecoveryCodes, newTotpSecret, openSecret, recoveryCodeDigest, redeemRecoveryCode, sealSecret, totpKey, totpQrSvg, totpUri } from '../users/users.totp.js';
import { field, type Kit } from './dashboard.kit.js';
import type { SignInSteps } from './dashboard.plugin.js';

/** The password step is good for this long; then sign-in starts again. */
const SECOND_STEP_MS = 10 * 60_000;

interface AccountDeps {
  db: Kysely<DB>;
  users: UsersService;
  sessions: Sessions;
  pepper: Buffer;
  siteName: () => Promise<string>;
}

export async function secondFactorPages(app: FastifyInstance, kit: Kit, deps: AccountDeps, steps: SignInSteps): Promise<void> {
  const { db, users, sessions, pepper } = deps;
  const sealKey = totpKey(pepper);

  /** The session waiting for its second factor, or null (none, signed in already, or too old). */
  function pending(request: FastifyRequest) {
    const session = request.dashboardSession;
    if (!session || session.stage !== 'password' || session.user.totp_secret === null) return null;
    if (Date.parse(session.createdAt) + SECOND_STEP_MS <= kit.clock.now().getTime()) return null;
    return session;
  }

  const codePage = (request: FastifyRequest, reply: FastifyReply, error: string | null = null, status = 200) =>
    kit.html(request, reply, 'login-totp', { title: 'Two-factor sign-in', error }, status);

  app.get('/dashboard/login/totp', { config: { dashboardPublic: true }, schema: { hide: true } }, async (request, reply) => {
    if (!pending(request)) return reply.code(303).header('location', '/dashboard/login').send();
    return codePage(request, reply);
  });

  app.post('/dashboard/login/totp', { config: { dashboardPublic: true }, schema: { hide: true } }, async (request, reply) => {
    const session = pending(request);
    if (!session) return reply.code(303).header('location', '/dashboard/login').send();
    const user = session.user;
    const wait = await steps.throttled(request, user.email);
    if (wait !== null) {
      await kit.record(request, { action: 'sessions.create', outcome: 'denied', status: 429, reason: 'throttled', resourceType: 'users', resourceId: user.id }, user.id);
      reply.header('retry-after', String(wait));
      return codePage(request, reply, `Too many failed attempts. Try again in ${Math.ceil(wait / 60)} minute(s).`, 429);
    }
    const code = field(request.body, 'code').slice(0, 40);
    const recovery = field(request.body, 'recovery_code').slice(0, 40);
    let refused: string | null = null;
    let how = 'totp';
    if (recovery.trim() !== '') {
      how = 'recovery_code';
      const stored = user.recovery_codes;
      const remaining = stored === null ? null : redeemRecoveryCode(pepper, JSON.parse(stored) as string[], recovery);
      if (remaining === null || !(await users.claimRecoveryCodes(db, user.id, stored!, remaining))) refused = 'recovery_code_wrong';
    } else {
      const last = user.totp_last_step === null ? null : Number(user.totp_last_step);
      const checked = checkTotp(openSecret(sealKey, user.totp_secret!), code, kit.clock.now(), last);
      if (!checked.ok) refused = checked.reason === 'replayed' ? 'totp_replayed' : 'totp_wrong';
      else if (!(await users.claimTotpStep(db, user.id, checked.step))) refused = 'totp_replayed';
    }
    if (refused !== null) {
      await steps.countFailure(request, user.email);
      await kit.record(request, { action: 'sessions.create', outcome: 'denied', status: 401, reason: refused, resourceType: 'users', resourceId: user.id }, user.id);
      return codePage(request, reply, how === 'totp' ? 'That code is not right, or was used already. Wait for the next code.' : 'That recovery code is not right, or was used already.', 401);
    }
    await steps.startSession(request, reply, user.id, 'full');
    await users.recordSignIn(db, user.id);
    await kit.record(request, { action: 'sessions.create', outcome: 'allowed', status: 303, reason: how, resourceType: 'users', resourceId: user.id }, user.id);
    return reply.code(303).header('location', '/dashboard').send();
  });

  // ---- the account page ----
  app.get('/dashboard/account', { schema: { hide: true } }, async (request, reply) => {
    const me = kit.user(request);
    const row = await users.byId(db, me.id);
    return kit.html(request, reply, 'account', { title: 'Your account', section: 'account', pendingTotp: row?.totp_secret !== null && row?.totp_enabled_at === null, setup: null, error: null });
  });

  /** Shows the QR code and the secret for a new (not yet enabled) TOTP secret. */
  async function setupPage(request: FastifyRequest, reply: FastifyReply, secret: string, error: string | null, status = 200) {
    const me = kit.user(request);
    const uri = totpUri(secret, me.email, await deps.siteName());
    const svg = await totpQrSvg(uri);
    return kit.html(request, reply, 'account', {
      title: 'Turn on two-factor sign-in',
      section: 'account',
      pendingTotp: true,
      error,
      setup: { qr: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, secret: secret.replace(/(.{4})/g, '$1 ').trim() },
    }, status);
  }

  app.post('/dashboard/account/totp/start', { schema: { hide: true } }, async (request, reply) => {
    const me = kit.user(request);
    if (me.totpEnabled) return kit.done(reply, '/dashboard/account', { kind: 'error', text: 'Two-factor sign-in is on already.' });
    const secret = newTotpSecret();
    await users.beginTotp(db, me.id, sealSecret(sealKey, secret));
    return setupPage(request, reply, secret, null);
  });

  app.post('/dashboard/account/totp/confirm', { schema: { hide: true } }, async (request, reply) => {
    const me = kit.user(request);
    const row = await users.byId(db, me.id);
    if (!row || row.totp_secret === null || row.totp_enabled_at !== null) return kit.done(reply, '/dashboard/account');
    const secret = openSecret(sealKey, row.totp_secret);
    const checked = checkTotp(secret, field(request.body, 'code'), kit.clock.now(), null);
    if (!checked.ok) return setupPage(request, reply, secret, 'That code is not right. Check the time on your device and enter the current code.', 400);
    const codes = newRecoveryCodes();
    await kit.act(request, (trx) => users.enableTotp(trx, me.id, checked.step, codes.map((c) => recoveryCodeDigest(pepper, c))));
    // Other sessions were opened with the password alone.
    await sessions.endAllOf(db, me.id, request.dashboardSession!.digest);
    return kit.html(request, reply, 'recovery-codes', { title: 'Your recovery codes', section: 'account', codes });
  });

  app.post('/dashboard/account/totp/disable', { schema: { hide: true } }, async (request, reply) => {
    const me = kit.user(request);
    const row = await users.byId(db, me.id);
    if (!row || !(await verifyPassword(field(request.body, 'password'), row.password_hash))) {
      return kit.refuse(request, reply, { action: 'users.update', resourceType: 'users', resourceId: me.id, reason: 'wrong_password', status: 403, message: 'The password is wrong; two-factor sign-in stays on.' });
    }
    await kit.act(request, (trx) => users.disableTotp(trx, me.id));
    return kit.done(reply, '/dashboard/account', { kind: 'ok', text: 'Two-factor sign-in is off.' });
  });

  app.post('/dashboard/account/password', { schema: { hide: true } }, async (request, reply) => {
    const me = kit.user(request);
    const row = await users.byId(db, me.id);
    const next = field(request.body, 'new_password');
    if (!row || !(await verifyPassword(field(request.body, 'current_password'), row.password_hash))) {
      return kit.refuse(request, reply, { action: 'users.reset_password', resourceType: 'users', resourceId: me.id, reason: 'wrong_password', status: 403, message: 'The current password is wrong; nothing changed.' });
    }
    const problem = passwordProblem(next) ?? (next !== field(request.body, 'confirm_password') ? 'the new passwords differ' : null);
    if (problem) return kit.done(reply, '/dashboard/account', { kind: 'error', text: `Not changed: ${problem}.` });
    const result = await kit.act(request, (trx) => users.resetPassword(trx, me.id, next));
    if (!result.ok) return kit.done(reply, '/dashboard/account', { kind: 'error', text: result.error });
    // Every session ended with the change; this browser gets a new one.
    await steps.startSession(request, reply, me.id, 'full');
    return kit.done(reply, '/dashboard/account', { kind: 'ok', text: 'Password changed. Your other sessions were signed out.' });
  });
}
