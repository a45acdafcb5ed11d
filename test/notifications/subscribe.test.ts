/**
 * Subscribing from the status page and the API: the verification mail enqueued with the subscriber,
 * signed links (verify, manage, unsubscribe) that refuse forgery, expiry and reuse after an
 * unsubscribe, one-click unsubscribe (RFC 8058), the throttle, and no address in the audit trail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { personalDigest } from '../../src/features/audit/audit.changes.js';
import { checkManageLink, checkUnsubscribeLink, manageLink, unsubscribeLink } from '../../src/features/notifications/notifications.links.js';
import type { MailMessage } from '../../src/features/notifications/notifications.mail.js';
import { SUBSCRIBE_LIMIT_PER_HOUR } from '../../src/features/status-page/status-page.plugin.js';
import { buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const PEPPER = testConfig().pepper;

/** The path and query of an absolute link, as inject() takes it. */
function pathOf(link: string): string {
  const url = new URL(link);
  assert.equal(url.origin, 'http://status.test');
  return url.pathname + url.search;
}

for (const dialect of await dialects()) {
  describe(`subscriptions from the status page and the API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    /** Components guests see (`web`, `api` in a visible group), a disabled one and one in a hidden group. */
    const ids = { web: 0, api: 0, disabled: 0, hidden: 0 };
    /** Each test posts from its own address, so that the throttle counts one test's requests only. */
    let address = 0;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
      const post = async (url: string, body: object) => {
        const response = await t.request({ method: 'POST', url, token: admin, body });
        assert.equal(response.statusCode, 200, response.body);
        return json<{ data: { id: number } }>(response).data.id;
      };
      const group = await post('/api/v1/components/groups', { name: 'Core', visible: true });
      const hiddenGroup = await post('/api/v1/components/groups', { name: 'Staff only', visible: false });
      ids.web = await post('/api/v1/components', { name: 'Website', status: 1 });
      ids.api = await post('/api/v1/components', { name: 'Public API', status: 1, group_id: group });
      ids.disabled = await post('/api/v1/components', { name: 'Retired mailer', status: 1, enabled: false });
      ids.hidden = await post('/api/v1/components', { name: 'Build farm', status: 1, group_id: hiddenGroup });
    });
    after(() => t.close());

    function page(url: string, ip = '198.51.100.1'): Promise<LightMyRequestResponse> {
      return t.server.app.inject({ method: 'GET', url, remoteAddress: ip });
    }

    function post(url: string, fields: Array<[string, string]>, ip: string, headers: Record<string, string> = FORM): Promise<LightMyRequestResponse> {
      return t.server.app.inject({ method: 'POST', url, headers, payload: new URLSearchParams(fields).toString(), remoteAddress: ip });
    }

    function subscribe(email: string, components: number[] | 'all', ip = `192.0.2.${++address}`) {
      const fields: Array<[string, string]> = [['email', email]];
      if (components === 'all') fields.push(['scope', 'all']);
      else fields.push(['scope', 'some'], ...components.map((id): [string, string] => ['components', String(id)]));
      return post('/subscribe', fields, ip);
    }

    async function subscriber(email: string) {
      return t.database.db.selectFrom('subscribers').selectAll().where('email', '=', email).executeTakeFirst();
    }

    async function componentsOf(id: number): Promise<number[]> {
      const rows = await t.database.db.selectFrom('subscriptions').select('component_id').where('subscriber_id', '=', id).orderBy('component_id').execute();
      return rows.map((r) => r.component_id);
    }

    /** The mail jobs addressed to `email`, oldest first. */
    async function mailsTo(email: string): Promise<Array<{ dedupe: string | null; key_id: number | null; message: MailMessage }>> {
      const rows = await t.database.db.selectFrom('jobs').selectAll().where('kind', '=', 'mail').orderBy('id').execute();
      return rows.map((r) => ({ dedupe: r.dedupe, key_id: r.key_id, message: JSON.parse(r.payload) as MailMessage })).filter((m) => m.message.to === email);
    }

    /** The verification link of the latest mail to `email`. */
    async function verifyLinkTo(email: string): Promise<string> {
      const mails = await mailsTo(email);
      const text = mails.at(-1)?.message.text ?? '';
      const link = /http:\/\/status\.test\/subscribe\/verify\?\S+/.exec(text)?.[0];
      assert.ok(link, `no verification link in ${text}`);
      return link;
    }

    it('offers the form from the index page, with the components guests see and no others', async () => {
      assert.match((await page('/')).body, /<a href="\/subscribe">Subscribe to updates<\/a>/);
      const form = await page('/subscribe');
      assert.equal(form.statusCode, 200);
      assert.match(form.body, /<form method="post" action="\/subscribe">/);
      assert.match(form.body, new RegExp(`name="components" value="${ids.web}"`));
      assert.match(form.body, /Core · Public API/);
      assert.ok(!form.body.includes('Retired mailer') && !form.body.includes('Build farm'));
      assert.doesNotMatch(form.body, /<script|style=/);
    });

    it('creates an unverified subscriber with its components and enqueues one verification mail with the link', async () => {
      const response = await subscribe('Ada@Example.org', [ids.api]);
      assert.equal(response.statusCode, 200, response.body);
      assert.match(response.body, /Check your mail/);
      assert.equal(response.headers['cache-control'], 'no-store');
      const row = await subscriber('ada@example.org');
      assert.ok(row);
      assert.equal(row.verified_at, null);
      assert.equal(row.global, 0);
      assert.deepEqual(await componentsOf(row.id), [ids.api]);
      const mails = await mailsTo('ada@example.org');
      assert.equal(mails.length, 1);
      const mail = mails[0]!;
      assert.match(mail.dedupe ?? '', new RegExp(`^verify:${row.id}:`));
      assert.ok(!mail.dedupe!.includes(row.verify_code), 'the verify code itself stays in its table');
      assert.match(mail.message.subject, /Confirm your subscription/);
      const link = await verifyLinkTo('ada@example.org');
      assert.ok(mail.message.html.includes(link.replaceAll('&', '&amp;')));
      assert.ok(!link.includes('ada') && !link.includes('example.org'), 'no address in a link');
    });

    it('subscribes to every component when "all" is chosen (global)', async () => {
      assert.equal((await subscribe('all@example.org', 'all')).statusCode, 200);
      const row = await subscriber('all@example.org');
      assert.equal(row?.global, 1);
      assert.ok((await componentsOf(row.id)).includes(ids.web));
    });

    it('refuses a bad address, no chosen component, or a component guests do not see, creating nothing', async () => {
      for (const [email, components] of [
        ['not-an-address', 'all'],
        ['none@example.org', []],
        ['hidden@example.org', [ids.hidden]],
        ['disabled@example.org', [ids.disabled]],
      ] as const) {
        const response = await subscribe(email, components === 'all' ? 'all' : [...components]);
        assert.equal(response.statusCode, 400, email);
        assert.match(response.body, /role="alert"/);
        assert.equal(await subscriber(email), undefined);
        assert.equal((await mailsTo(email)).length, 0);
      }
    });

    it('verifies with the link; a forged or expired link shows a 400 page and changes nothing', async () => {
      await subscribe('verify@example.org', 'all');
      const link = await verifyLinkTo('verify@example.org');
      const forged = link.replace(/sig=([A-Za-z0-9_-])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
      const otherId = link.replace(/id=\d+/, `id=${(await subscriber('ada@example.org'))!.id}`);
      const later = link.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 86_400}`);
      for (const bad of [forged, otherId, later, link.replace(/&sig=.*/, ''), '/subscribe/verify', '/subscribe/verify?id=1&expires=x&sig=y']) {
        const response = await page(bad.startsWith('http') ? pathOf(bad) : bad);
        assert.equal(response.statusCode, 400, bad);
        assert.match(response.body, /This link is not valid/);
      }
      assert.equal((await subscriber('verify@example.org'))?.verified_at, null);
      // Each refused link is a denial in the audit trail, its signed query never stored.
      const refusals = await t.database.db.selectFrom('audit_events').selectAll().where('reason', '=', 'link_invalid').where('path', '=', '/subscribe/verify').execute();
      assert.equal(refusals.length, 6);
      assert.ok(refusals.every((e) => e.outcome === 'denied' && e.status === 400 && e.action === 'subscribers.update' && e.actor_type === 'anonymous'));

      const response = await page(pathOf(link));
      assert.equal(response.statusCode, 200, response.body);
      assert.match(response.body, /You are subscribed/);
      const row = await subscriber('verify@example.org');
      assert.ok(row?.verified_at);
      assert.ok(response.body.includes(manageLink('http://status.test', PEPPER, row).replaceAll('&', '&amp;')));

      // Expired: seven days and a second later.
      await subscribe('late@example.org', 'all');
      const lateLink = await verifyLinkTo('late@example.org');
      t.clock.advance(7 * 86_400_000 - 1000);
      const stillGood = lateLink.replace(/sig=.*/, 'sig=' + 'A'.repeat(43));
      assert.equal((await page(pathOf(stillGood))).statusCode, 400, 'forged, though not expired');
      t.clock.advance(2000);
      assert.equal((await page(pathOf(lateLink))).statusCode, 400);
      assert.equal((await subscriber('late@example.org'))?.verified_at, null);
    });

    it('gives the same answer for an address already subscribed, re-sending verification only while unverified', async () => {
      const fresh = await subscribe('new-address@example.org', 'all');
      // Verified: nothing changes, nothing is sent, and the answer is the same page.
      const verified = await subscriber('verify@example.org');
      const mailsBefore = (await mailsTo('verify@example.org')).length;
      const again = await subscribe('verify@example.org', [ids.web]);
      assert.equal(again.statusCode, fresh.statusCode);
      assert.equal(again.body, fresh.body);
      assert.deepEqual(await subscriber('verify@example.org'), verified);
      assert.equal((await mailsTo('verify@example.org')).length, mailsBefore);

      // Unverified: a new code, the new choice, a new mail; the earlier link no longer works.
      const first = await verifyLinkTo('new-address@example.org');
      const before = await subscriber('new-address@example.org');
      const resent = await subscribe('new-address@example.org', [ids.web]);
      assert.equal(resent.body, fresh.body);
      const after = await subscriber('new-address@example.org');
      assert.notEqual(after?.verify_code, before?.verify_code);
      assert.equal(after?.id, before?.id);
      assert.deepEqual(await componentsOf(after!.id), [ids.web]);
      const mails = await mailsTo('new-address@example.org');
      assert.equal(mails.length, 2);
      assert.notEqual(mails[0]!.dedupe, mails[1]!.dedupe);
      assert.equal((await page(pathOf(first))).statusCode, 400);
      assert.equal((await page(pathOf(await verifyLinkTo('new-address@example.org')))).statusCode, 200);
    });

    it('shows and changes the components on the manage page, which posts back to its signed URL', async () => {
      const row = (await subscriber('verify@example.org'))!;
      const link = pathOf(manageLink('http://status.test', PEPPER, row));
      const shown = await page(link);
      assert.equal(shown.statusCode, 200, shown.body);
      assert.equal(shown.headers['cache-control'], 'no-store');
      assert.equal(shown.headers['referrer-policy'], 'no-referrer');
      assert.ok(shown.body.includes(`action="${link.replaceAll('&', '&amp;')}"`));
      assert.match(shown.body, /verify@example\.org/);
      assert.match(shown.body, /value="all" checked/);

      const some = await post(link, [['scope', 'some'], ['components', String(ids.web)], ['components', String(ids.api)]], '203.0.113.9');
      assert.equal(some.statusCode, 200, some.body);
      assert.match(some.body, /Your choice is saved/);
      let stored = (await subscriber('verify@example.org'))!;
      assert.equal(stored.global, 0);
      assert.deepEqual(await componentsOf(stored.id), [ids.web, ids.api].sort((a, b) => a - b));
      assert.match(some.body, new RegExp(`value="${ids.web}" checked`));

      assert.equal((await post(link, [['scope', 'some'], ['components', String(ids.hidden)]], '203.0.113.9')).statusCode, 400);
      assert.deepEqual(await componentsOf(stored.id), [ids.web, ids.api].sort((a, b) => a - b));

      assert.equal((await post(link, [['scope', 'all']], '203.0.113.9')).statusCode, 200);
      stored = (await subscriber('verify@example.org'))!;
      assert.equal(stored.global, 1);
      assert.ok((await componentsOf(stored.id)).length >= 2);

      // A link for another subscriber's id, or a manage link offered as an unsubscribe link, is refused.
      const forged = link.replace(/id=\d+/, `id=${(await subscriber('ada@example.org'))!.id}`);
      assert.equal((await post(forged, [['scope', 'all']], '203.0.113.9')).statusCode, 400);
      assert.equal((await page(forged)).statusCode, 400);
      assert.equal((await page(link.replace(/^\/subscriptions\/manage/, '/unsubscribe'))).statusCode, 400);
    });

    it('shows a button on GET /unsubscribe; the one-click POST removes the subscriber; old links are dead after', async () => {
      await subscribe('leaving@example.org', 'all');
      assert.equal((await page(pathOf(await verifyLinkTo('leaving@example.org')))).statusCode, 200);
      const row = (await subscriber('leaving@example.org'))!;
      const unsubscribe = pathOf(unsubscribeLink('http://status.test', PEPPER, row));
      const manage = pathOf(manageLink('http://status.test', PEPPER, row));

      const confirm = await page(unsubscribe);
      assert.equal(confirm.statusCode, 200);
      assert.ok(confirm.body.includes(`<form method="post" action="${unsubscribe.replaceAll('&', '&amp;')}">`));
      assert.match(confirm.body, /<button type="submit"[^>]*>Unsubscribe<\/button>/);
      assert.ok(await subscriber('leaving@example.org'), 'GET changes nothing');

      const done = await post(unsubscribe, [['List-Unsubscribe', 'One-Click']], '203.0.113.10');
      assert.equal(done.statusCode, 200, done.body);
      assert.match(done.body, /You are unsubscribed/);
      assert.equal(await subscriber('leaving@example.org'), undefined);
      assert.deepEqual(await componentsOf(row.id), []);

      for (const dead of [unsubscribe, manage]) assert.equal((await page(dead)).statusCode, 400, dead);
      assert.equal((await post(unsubscribe, [['List-Unsubscribe', 'One-Click']], '203.0.113.10')).statusCode, 400);
      // Subscribing again makes a new subscriber whose links are new: the old ones stay dead.
      await subscribe('leaving@example.org', 'all');
      assert.equal((await page(manage)).statusCode, 400);
      assert.equal(await checkManageLink(PEPPER, Object.fromEntries(new URL(manage, 'http://x').searchParams), async (id) => subscriber('leaving@example.org').then((s) => (s?.id === id ? s : undefined))), null);
    });

    it('takes the one-click POST with any body: none, text, JSON that does not parse', async () => {
      for (const [i, request] of [
        { headers: {}, payload: undefined },
        { headers: { 'content-type': 'text/plain' }, payload: 'List-Unsubscribe=One-Click' },
        { headers: { 'content-type': 'application/json' }, payload: '{not json' },
        { headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x--' },
      ].entries()) {
        const email = `one-click-${i}@example.org`;
        await subscribe(email, 'all');
        const row = (await subscriber(email))!;
        const link = pathOf(unsubscribeLink('http://status.test', PEPPER, row));
        const response = await t.server.app.inject({ method: 'POST', url: link, headers: request.headers, ...(request.payload === undefined ? {} : { payload: request.payload }) });
        assert.equal(response.statusCode, 200, `${JSON.stringify(request.headers)}: ${response.body}`);
        assert.equal(await subscriber(email), undefined);
        assert.equal(await checkUnsubscribeLink(PEPPER, Object.fromEntries(new URL(link, 'http://x').searchParams), async () => row), row.id, 'the link was good');
      }
    });

    it(`throttles POST /subscribe to ${SUBSCRIBE_LIMIT_PER_HOUR} an hour per client address`, async () => {
      const ip = '198.51.100.77';
      for (let i = 0; i < SUBSCRIBE_LIMIT_PER_HOUR; i++) assert.equal((await subscribe(`throttle-${i}@example.org`, 'all', ip)).statusCode, 200);
      const refused = await subscribe('throttle-x@example.org', 'all', ip);
      assert.equal(refused.statusCode, 429);
      assert.ok(Number(refused.headers['retry-after']) > 0);
      assert.match(refused.body, /Too many requests/);
      assert.equal(await subscriber('throttle-x@example.org'), undefined);
      const throttled = await t.database.db.selectFrom('audit_events').selectAll().where('reason', '=', 'throttled').where('ip', '=', ip).execute();
      assert.deepEqual(throttled.map((e) => [e.action, e.outcome, e.status]), [['subscribers.create', 'denied', 429]]);
      assert.equal((await subscribe('throttle-y@example.org', 'all', '198.51.100.78')).statusCode, 200, 'another address is not held back');
    });

    it('audits the changes as an anonymous visitor, the address only as a digest', async () => {
      const events = await t.database.db.selectFrom('audit_events').selectAll().where('resource_type', '=', 'subscribers').where('actor_type', '=', 'anonymous').orderBy('seq').execute();
      const actions = new Set(events.map((e) => e.action));
      for (const action of ['subscribers.create', 'subscribers.update', 'subscribers.delete']) assert.ok(actions.has(action), action);
      const created = events.find((e) => e.action === 'subscribers.create')!;
      assert.equal(created.method, 'POST');
      assert.equal(created.path, '/subscribe');
      assert.match(created.ip ?? '', /^192\.0\.2\./);
      // No signed link's query in a path.
      assert.ok(events.every((e) => !(e.path ?? '').includes('?')));
      const all = await t.database.db.selectFrom('audit_events').selectAll().execute();
      const text = JSON.stringify(all);
      assert.ok(!/@example\.org/.test(text), 'an address in the clear in the audit trail');
      assert.ok(text.includes(personalDigest(PEPPER, 'ada@example.org')));
      const codes = (await t.database.db.selectFrom('subscribers').select('verify_code').execute()).map((r) => r.verify_code);
      assert.ok(codes.every((code) => !text.includes(code)));
    });

    it('enqueues a verification mail for POST /api/v1/subscribers without verify, none with verify: true', async () => {
      const response = await t.request({ method: 'POST', url: '/api/v1/subscribers', token: admin, body: { email: 'api@example.org' } });
      assert.equal(response.statusCode, 200, response.body);
      const id = json(response).data.id as number;
      const mails = await mailsTo('api@example.org');
      assert.equal(mails.length, 1);
      assert.ok(mails[0]!.key_id, 'the job names the key whose request caused it');
      const link = await verifyLinkTo('api@example.org');
      assert.match(link, new RegExp(`[?&]id=${id}&`));
      assert.equal((await page(pathOf(link))).statusCode, 200);
      assert.ok((await subscriber('api@example.org'))?.verified_at);

      // The existing address again: returned unchanged, no second mail.
      await t.request({ method: 'POST', url: '/api/v1/subscribers', token: admin, body: { email: 'api@example.org' } });
      assert.equal((await mailsTo('api@example.org')).length, 1);

      const verified = await t.request({ method: 'POST', url: '/api/v1/subscribers', token: admin, body: { email: 'api-verified@example.org', verify: true } });
      assert.equal(verified.statusCode, 200);
      assert.equal((await mailsTo('api-verified@example.org')).length, 0);

      // A refused request enqueues nothing (the job shares the request's transaction).
      const refused = await t.request({ method: 'POST', url: '/api/v1/subscribers', token: admin, body: { email: 'api-bad@example.org', components: [999_999] } });
      assert.equal(refused.statusCode, 400);
      assert.equal((await mailsTo('api-bad@example.org')).length, 0);
    });
  });
}
