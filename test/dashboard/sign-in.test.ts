/**
 * Dashboard sign-in: sessions in the database, CSRF on every form, session fixation, throttling
 * per address and per account, timeouts, sign-out, removed users, and TOTP with recovery codes.
 * Each fact is checked by what the server does next, and by the audit trail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { SESSION_COOKIE, SIGN_IN_LIMITS } from '../../src/features/dashboard/dashboard.plugin.js';
import { buildTestApp, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';
import { createUser, csrfOf, TEST_PASSWORD, visitor, type Visitor } from '../helpers/dashboard.js';
import { createUsersService } from '../../src/features/users/users.service.js';
import { createKeysService } from '../../src/features/keys/keys.service.js';
import { createKeysRepo } from '../../src/features/keys/keys.repo.js';
import { createAudited } from '../../src/features/audit/audited.js';
import { createAuditWriter } from '../../src/features/audit/audit.writer.js';
import { createAuditRepo } from '../../src/features/audit/audit.repo.js';
import { systemContext } from '../../src/features/audit/audit.types.js';

for (const dialect of await dialects()) {
  describe(`dashboard sign-in (${dialect})`, () => {
    let t: TestApp;
    let ipCounter = 0;
    /** Each test from its own address, so the per-address throttle of one does not reach another. */
    const fresh = (): Visitor => visitor(t, `10.1.0.${++ipCounter}`);

    before(async () => {
      t = await buildTestApp(dialect);
    });
    after(() => t.close());

    async function events(action: string, userId?: number) {
      let query = t.database.db.selectFrom('audit_events').selectAll().where('action', '=', action).orderBy('seq');
      if (userId !== undefined) query = query.where('user_id', '=', userId);
      return query.execute();
    }
    async function sessionCount(userId: number) {
      const row = await t.database.db.selectFrom('sessions').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
      return Number(row.n);
    }
    const signedIn = async (v: Visitor) => (await v.get('/dashboard')).statusCode === 200;

    it('sends an anonymous visitor to the sign-in page, and a signed-in admin to the overview; both audited', async () => {
      const user = await createUser(t, 'first@example.org', 'admin');
      const v = fresh();
      const anonymous = await v.get('/dashboard/account');
      assert.equal(anonymous.statusCode, 303);
      assert.equal(anonymous.headers.location, '/dashboard/login');
      const response = await v.signIn('first@example.org');
      assert.equal(response.statusCode, 303, response.body);
      assert.equal(response.headers.location, '/dashboard');
      const page = await v.get('/dashboard');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /first@example\.org/);
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
      assert.equal(page.headers['access-control-allow-origin'], undefined);
      const [event] = await events('sessions.create', user.id);
      assert.equal(event?.actor_type, 'user');
      assert.equal(event?.outcome, 'allowed');
      assert.equal(event?.ip, v.ip);
    });

    it('serves its stylesheet and script to anyone, the sign-in page included', async () => {
      const v = fresh();
      for (const [file, type] of [['dashboard.css', /text\/css/], ['dashboard.js', /javascript/]] as const) {
        const response = await v.get(`/dashboard/assets/${file}`);
        assert.equal(response.statusCode, 200, file);
        assert.match(String(response.headers['content-type']), type);
      }
      assert.match((await v.get('/dashboard/login')).body, /href="\/dashboard\/assets\/dashboard\.css"/);
    });

    it('sets the session cookie HttpOnly, SameSite=Lax, on /dashboard, and stores only its digest', async () => {
      await createUser(t, 'cookie@example.org', 'user');
      const v = fresh();
      const response = await v.signIn('cookie@example.org');
      const cookie = response.cookies.find((c) => c.name === SESSION_COOKIE)!;
      assert.ok(cookie, 'a session cookie is set');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Lax');
      assert.equal(cookie.path, '/dashboard');
      assert.equal(cookie.secure, undefined, 'plain http: not Secure');
      const stored = await t.database.db.selectFrom('sessions').select('digest').execute();
      assert.ok(stored.every((s) => s.digest !== cookie.value && /^[0-9a-f]{64}$/.test(s.digest)));
    });

    it('refuses a wrong password and an unknown address alike (401), each audited as a denied sign-in', async () => {
      const user = await createUser(t, 'wrong@example.org', 'user');
      const v = fresh();
      const wrong = await v.signIn('wrong@example.org', 'not the password at all');
      assert.equal(wrong.statusCode, 401);
      const unknown = await v.signIn('nobody@example.org', 'not the password at all');
      assert.equal(unknown.statusCode, 401);
      // The same words for both: the page does not say which addresses have accounts.
      const message = (body: string) => /role="alert"[^>]*>([^<]+)</.exec(body)?.[1];
      assert.equal(message(wrong.body), message(unknown.body));
      assert.equal(await signedIn(v), false);
      const denied = (await events('sessions.create')).filter((e) => e.outcome === 'denied' && e.ip === v.ip);
      assert.deepEqual(denied.map((e) => [e.reason, e.actor_type, e.user_id]), [['wrong_password', 'user', user.id], ['unknown_user', 'anonymous', null]]);
      assert.ok(denied.every((e) => !JSON.stringify(e).includes('not the password')), 'no password in the trail');
    });

    it('refuses a form without a CSRF token, or with a wrong one, with 403 and changes nothing', async () => {
      const user = await createUser(t, 'csrf@example.org', 'user');
      const v = fresh();
      await v.get('/dashboard/login');
      const missing = await v.postRaw('/dashboard/login', { email: 'csrf@example.org', password: TEST_PASSWORD });
      assert.equal(missing.statusCode, 403);
      const forged = await v.postRaw('/dashboard/login', { _csrf: 'forged-token', email: 'csrf@example.org', password: TEST_PASSWORD });
      assert.equal(forged.statusCode, 403);
      assert.equal(await sessionCount(user.id), 0);
      // Signed in: a forged sign-out leaves the session alone.
      await v.signIn('csrf@example.org');
      assert.equal(await signedIn(v), true);
      const forgedOut = await v.postRaw('/dashboard/logout', { _csrf: 'forged-token' });
      assert.equal(forgedOut.statusCode, 403);
      assert.equal(await signedIn(v), true);
      // A real token of another session is worthless in this one (tokens are bound to the session).
      const other = fresh();
      const otherToken = csrfOf((await other.get('/dashboard/login')).body);
      const crossed = await v.postRaw('/dashboard/logout', { _csrf: otherToken });
      assert.equal(crossed.statusCode, 403);
      assert.equal(await signedIn(v), true);
      const refusals = (await events('dashboard.post')).filter((e) => e.ip === v.ip);
      assert.ok(refusals.length >= 4 && refusals.every((e) => e.outcome === 'denied' && e.reason === 'csrf_invalid'));
    });

    it('gives a new session id at sign-in: a planted session id stays anonymous', async () => {
      await createUser(t, 'fixation@example.org', 'admin');
      const victim = fresh();
      const planted = 'A'.repeat(43);
      victim.cookies.set(SESSION_COOKIE, planted);
      await victim.signIn('fixation@example.org');
      assert.notEqual(victim.cookies.get(SESSION_COOKIE), planted);
      assert.equal(await signedIn(victim), true);
      const withPlanted = visitor(t, victim.ip);
      withPlanted.cookies.set(SESSION_COOKIE, planted);
      assert.equal(await signedIn(withPlanted), false);
    });

    it('throttles sign-in per address: after the limit even the right password is refused (429), audited', async () => {
      await createUser(t, 'spray@example.org', 'user');
      const v = fresh();
      // Password spraying: one wrong try per account, from one address.
      for (let i = 0; i < SIGN_IN_LIMITS.perAddress; i += 1) {
        assert.equal((await v.signIn(`spray-${i}@example.org`, 'wrong password here')).statusCode, 401);
      }
      const refused = await v.signIn('spray@example.org');
      assert.equal(refused.statusCode, 429);
      assert.ok(Number(refused.headers['retry-after']) > 0);
      assert.equal(await signedIn(v), false);
      // Another address is not affected.
      const other = fresh();
      assert.equal((await other.signIn('spray@example.org')).statusCode, 303);
      const throttled = (await events('sessions.create')).filter((e) => e.reason === 'throttled' && e.ip === v.ip);
      assert.equal(throttled.length, 1);
      assert.equal(throttled[0]!.status, 429);
    });

    it('throttles sign-in per account, from any address', async () => {
      await createUser(t, 'target@example.org', 'user');
      for (let i = 0; i < SIGN_IN_LIMITS.perAccount; i += 1) {
        assert.equal((await fresh().signIn('target@example.org', `guess number ${i}!`)).statusCode, 401);
      }
      const v = fresh();
      assert.equal((await v.signIn('target@example.org')).statusCode, 429);
      assert.equal(await signedIn(v), false);
      // Other accounts from the same kind of fresh address still sign in.
      await createUser(t, 'bystander@example.org', 'user');
      assert.equal((await fresh().signIn('bystander@example.org')).statusCode, 303);
    });

    it('signs out: the session ends in the database and the cookie no longer opens anything; audited', async () => {
      const user = await createUser(t, 'leaving@example.org', 'user');
      const v = fresh();
      await v.signIn('leaving@example.org');
      const id = v.cookies.get(SESSION_COOKIE)!;
      const out = await v.submit('/dashboard/logout', {}, '/dashboard');
      assert.equal(out.statusCode, 303);
      assert.equal(await sessionCount(user.id), 0);
      const replay = visitor(t, v.ip);
      replay.cookies.set(SESSION_COOKIE, id);
      assert.equal(await signedIn(replay), false);
      assert.equal((await events('sessions.delete', user.id)).length, 1);
    });

    it('ends sessions after 30 idle minutes and 12 hours in all', async () => {
      await createUser(t, 'idle@example.org', 'user');
      const v = fresh();
      await v.signIn('idle@example.org');
      t.clock.advance(29 * 60_000);
      assert.equal(await signedIn(v), true, 'used within the idle time: still signed in');
      t.clock.advance(29 * 60_000);
      assert.equal(await signedIn(v), true, 'the last use counts, not the sign-in');
      t.clock.advance(31 * 60_000);
      assert.equal(await signedIn(v), false, 'idle too long');
      const w = fresh();
      await w.signIn('idle@example.org');
      for (let minutes = 0; minutes < 12 * 60 - 20; minutes += 20) {
        t.clock.advance(20 * 60_000);
        assert.equal(await signedIn(w), true);
      }
      t.clock.advance(21 * 60_000);
      assert.equal(await signedIn(w), false, 'past the absolute limit, however active');
    });

    it('signs a removed user out everywhere and revokes the keys they own', async () => {
      const user = await createUser(t, 'removed@example.org', 'user');
      const a = fresh();
      const b = fresh();
      await a.signIn('removed@example.org');
      await b.signIn('removed@example.org');
      const config = testConfig();
      const keys = createKeysService({ db: t.database.db, repo: createKeysRepo(), pepper: config.pepper, clock: t.clock, keyMaxTtlMs: config.keyMaxTtlMs, keyDefaultTtlMs: config.keyDefaultTtlMs });
      const audited = createAudited(t.database.db, createAuditWriter({ repo: createAuditRepo(), clock: t.clock, pepper: config.pepper }));
      const created = await audited(systemContext('test'), (trx) => keys.create(trx, { name: 'owned', scopes: ['components.read'], createdBy: `user:${user.id}`, ownerUserId: user.id }));
      assert.ok(created.ok);
      assert.equal((await t.request({ url: '/api/v1/components', token: created.token })).statusCode, 200);
      const users = createUsersService({ clock: t.clock, keys });
      const removed = await audited(systemContext('cachet users remove'), (trx) => users.remove(trx, user.id));
      assert.ok(removed.ok);
      assert.deepEqual(removed.revokedKeys, [created.key.id]);
      assert.equal(await signedIn(a), false);
      assert.equal(await signedIn(b), false);
      // The server's key cache learns of the revocation within its poll interval.
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal((await t.request({ url: '/api/v1/components', token: created.token })).statusCode, 401);
    });

    describe('two-factor sign-in (TOTP)', () => {
      let v: Visitor;
      let totp: TOTP;
      let recovery: string[];
      let userId: number;
      const code = (offsetSteps = 0) => totp.generate({ timestamp: t.clock.now().getTime() + offsetSteps * 30_000 });

      before(async () => {
        userId = (await createUser(t, 'twofactor@example.org', 'admin')).id;
        v = fresh();
        await v.signIn('twofactor@example.org');
      });

      it('turns on after a first right code and shows ten recovery codes once', async () => {
        const setup = await v.submit('/dashboard/account/totp/start', {}, '/dashboard/account');
        assert.equal(setup.statusCode, 200);
        const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(setup.body)![1]!.replace(/ /g, '');
        assert.match(setup.body, /src="data:image\/svg\+xml;base64,/);
        totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
        const stored = await t.database.db.selectFrom('users').select('totp_secret').where('id', '=', userId).executeTakeFirstOrThrow();
        assert.ok(stored.totp_secret && !stored.totp_secret.includes(secret), 'the secret is sealed at rest');
        const wrong = await v.postRaw('/dashboard/account/totp/confirm', { _csrf: csrfOf(setup.body), code: code() === '000000' ? '111111' : '000000' });
        assert.equal(wrong.statusCode, 400);
        const confirmed = await v.postRaw('/dashboard/account/totp/confirm', { _csrf: csrfOf(wrong.body), code: code() });
        assert.equal(confirmed.statusCode, 200, confirmed.body);
        recovery = [...confirmed.body.matchAll(/<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})<\/code><\/li>/g)].map((m) => m[1]!);
        assert.equal(recovery.length, 10);
        const account = await v.get('/dashboard/account');
        assert.ok(!recovery.some((c) => account.body.includes(c)), 'never shown again');
        const row = await t.database.db.selectFrom('users').select('recovery_codes').where('id', '=', userId).executeTakeFirstOrThrow();
        assert.ok(!recovery.some((c) => row.recovery_codes!.includes(c)), 'stored as digests only');
      });

      it('asks for the code after the password; a wrong code is refused, the right one signs in', async () => {
        t.clock.advance(30_000);
        const w = fresh();
        const first = await w.signIn('twofactor@example.org');
        assert.equal(first.headers.location, '/dashboard/login/totp');
        assert.equal(await signedIn(w), false, 'the password alone opens nothing');
        const wrong = await w.submit('/dashboard/login/totp', { code: code(5) });
        assert.equal(wrong.statusCode, 401);
        const right = await w.submit('/dashboard/login/totp', { code: code() });
        assert.equal(right.statusCode, 303);
        assert.equal(await signedIn(w), true);
        const reasons = (await events('sessions.create', userId)).filter((e) => e.ip === w.ip).map((e) => `${e.outcome}:${e.reason}`);
        assert.deepEqual(reasons, ['denied:totp_wrong', 'allowed:totp']);
      });

      it('refuses a replayed code, even in another session', async () => {
        const w = fresh();
        await w.signIn('twofactor@example.org');
        const replayed = await w.submit('/dashboard/login/totp', { code: code() });
        assert.equal(replayed.statusCode, 401);
        assert.equal(await signedIn(w), false);
        const [last] = (await events('sessions.create', userId)).filter((e) => e.ip === w.ip).reverse();
        assert.equal(last?.reason, 'totp_replayed');
        t.clock.advance(30_000);
        assert.equal((await w.submit('/dashboard/login/totp', { code: code() })).statusCode, 303);
      });

      it('accepts a recovery code once', async () => {
        const w = fresh();
        await w.signIn('twofactor@example.org');
        assert.equal((await w.submit('/dashboard/login/totp', { recovery_code: recovery[3]!.toUpperCase() })).statusCode, 303);
        assert.equal(await signedIn(w), true);
        const again = fresh();
        await again.signIn('twofactor@example.org');
        assert.equal((await again.submit('/dashboard/login/totp', { recovery_code: recovery[3]! })).statusCode, 401);
        assert.equal(await signedIn(again), false);
        assert.equal((await again.submit('/dashboard/login/totp', { recovery_code: recovery[4]! })).statusCode, 303);
      });
    });
  });
}
