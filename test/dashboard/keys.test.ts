/**
 * API keys in the dashboard: created through the form with the token shown once (and never again),
 * rotated and revoked with confirmation, rotation policies with a webhook secret shown once. The
 * same checks as the API hold (no escalation past what the user may grant), a user reaches only
 * their own keys (another's is a 404, audited as not_owner), and every action is audited with the
 * user as actor.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, visitor, type Visitor } from '../helpers/dashboard.js';
import { dialects } from '../helpers/dialects.js';

const TOKEN = /cachet_[0-9A-Za-z]{49}/g;
const HOUR = 3_600_000;

/** The tokens a page shows. */
function tokensIn(page: LightMyRequestResponse): string[] {
  return page.body.match(TOKEN) ?? [];
}

/** The id of the key a token page or list links to first. */
function keyIdIn(page: LightMyRequestResponse): number {
  const match = /href="\/dashboard\/keys\/(\d+)"/.exec(page.body);
  assert.ok(match, 'the page links to the key');
  return Number(match[1]);
}

for (const dialect of await dialects()) {
  describe(`dashboard: API keys (${dialect})`, () => {
    let t: TestApp;
    let admin: Visitor;
    let alice: Visitor;
    let bob: Visitor;
    const ids = { admin: 0, alice: 0, bob: 0 };
    /** Every token a page has shown: none may appear on any later page. */
    const shown: string[] = [];

    before(async () => {
      t = await buildTestApp(dialect);
      ids.admin = (await createUser(t, 'admin@example.test', 'admin')).id;
      ids.alice = (await createUser(t, 'alice@example.test', 'user')).id;
      ids.bob = (await createUser(t, 'bob@example.test', 'user')).id;
      admin = visitor(t, '127.0.0.10');
      alice = visitor(t, '127.0.0.11');
      bob = visitor(t, '127.0.0.12');
      for (const [v, email] of [[admin, 'admin@example.test'], [alice, 'alice@example.test'], [bob, 'bob@example.test']] as const) {
        assert.equal((await v.signIn(email)).statusCode, 303);
      }
    });
    after(() => t.close());

    const keyCount = async () => Number((await t.database.db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const stored = (id: number) => t.database.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const events = (action: string) => t.database.db.selectFrom('audit_events').selectAll().where('action', '=', action).orderBy('seq').execute();

    /** Sends the new-key form as `v`; the form's defaults for what `form` leaves out. */
    function create(v: Visitor, form: Record<string, string | string[]>) {
      return v.submit('/dashboard/keys', { name: 'key', purpose: 'tests', expires: '30d', ...form }, '/dashboard/keys/new');
    }

    /** Creates a key as `v` and returns its id and token. */
    async function created(v: Visitor, form: Record<string, string | string[]>): Promise<{ id: number; token: string }> {
      const page = await create(v, form);
      assert.equal(page.statusCode, 200, page.body);
      const [token] = tokensIn(page);
      assert.ok(token);
      shown.push(token);
      return { id: keyIdIn(page), token };
    }

    it('creates a key with two scopes through the form: the token once, working within those scopes only', async () => {
      const page = await create(admin, { name: 'monitor', purpose: 'uptime checks', scopes: ['components.read', 'incidents.read'] });
      assert.equal(page.statusCode, 200, page.body);
      assert.match(page.headers['cache-control'] as string, /no-store/);
      const tokens = tokensIn(page);
      assert.equal(tokens.length, 1, 'the token is on the page once');
      const token = tokens[0]!;
      shown.push(token);
      assert.match(token, /^cachet_[0-9A-Za-z]{49}$/);
      assert.match(page.body, /you will not see it again/);
      assert.match(page.body, /data-copy="new-token"/);

      assert.equal((await t.request({ url: '/api/v1/components', token })).statusCode, 200);
      assert.equal((await t.request({ url: '/api/v1/subscribers', token })).statusCode, 403, 'subscribers.read was not granted');

      const id = keyIdIn(page);
      const row = await stored(id);
      assert.deepEqual(JSON.parse(row.scopes), ['components.read', 'incidents.read']);
      assert.equal(row.owner_user_id, ids.admin);
      assert.equal(row.created_by, `user:${ids.admin}`);
      assert.equal(row.purpose, 'uptime checks');
      assert.equal(row.expires_at, new Date(t.clock.now().getTime() + 30 * 24 * HOUR).toISOString());

      const [event] = (await events('keys.create')).filter((e) => e.resource_id === String(id));
      assert.ok(event, 'the creation is audited');
      assert.equal(event.actor_type, 'user');
      assert.equal(event.user_id, ids.admin);
      assert.equal(event.outcome, 'allowed');

      for (const url of ['/dashboard/keys', `/dashboard/keys/${id}`]) {
        const later = await admin.get(url);
        assert.equal(later.statusCode, 200);
        assert.ok(!later.body.includes(token.slice(12)), `${url} never shows the token`);
        assert.ok(later.body.includes(row.prefix), `${url} shows the prefix`);
      }
    });

    it("shows a key's use: counts by action and outcome, addresses, and a link to its audit events", async () => {
      const { id, token } = await created(admin, { name: 'reader', scopes: ['components.read'] });
      await t.request({ url: '/api/v1/components', token });
      await t.request({ url: '/api/v1/incidents', token });
      const page = await admin.get(`/dashboard/keys/${id}`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /2 requests/);
      assert.match(page.body, /<td>components\.list<\/td><td><span class="outcome-allowed">allowed<\/span><\/td><td>1<\/td>/);
      assert.match(page.body, /<td>incidents\.list<\/td><td><span class="outcome-denied">denied<\/span><\/td><td>1<\/td>/);
      assert.match(page.body, /<code>127\.0\.0\.1<\/code>/);
      assert.ok(page.body.includes(`href="/dashboard/audit?key_id=${id}"`));
    });

    it('refuses a form with no scope checked: 400, the entered values kept, nothing created', async () => {
      const before = await keyCount();
      const page = await create(admin, { name: 'no scopes', purpose: 'kept purpose' });
      assert.equal(page.statusCode, 400);
      assert.match(page.body, /Choose at least one scope/);
      assert.match(page.body, /value="kept purpose"/);
      assert.equal(tokensIn(page).length, 0);
      assert.equal(await keyCount(), before);
    });

    it('refuses `*` without its separate confirmation (400, nothing created) and grants it with it', async () => {
      const before = await keyCount();
      const refused = await create(admin, { name: 'everything', scopes: ['*'] });
      assert.equal(refused.statusCode, 400);
      assert.match(refused.body, /confirm it with its own checkbox/);
      assert.match(refused.body, /name="scopes" value="\*" checked/, 'the choice is kept for the user to confirm');
      assert.equal(await keyCount(), before);
      const { id } = await created(admin, { name: 'everything', scopes: ['*'], confirm_all: 'yes' });
      assert.deepEqual(JSON.parse((await stored(id)).scopes), ['*']);
    });

    it('refuses a missing purpose, a lifetime past the maximum and a bad resource limit, creating nothing', async () => {
      const before = await keyCount();
      const cases: Array<[Record<string, string | string[]>, RegExp]> = [
        [{ purpose: '', scopes: ['components.read'] }, /purpose is required/],
        [{ scopes: ['components.read'], expires: '91d' }, /longest key lifetime of 90d/],
        [{ scopes: ['components.read'], resources: '7,9' }, /RESOURCE:ID/],
        [{ scopes: ['components.read'], allowed_ips: '10.0.0.0/33' }, /not an IPv4 or IPv6 CIDR/],
      ];
      for (const [form, message] of cases) {
        const page = await create(admin, form);
        assert.equal(page.statusCode, 400, JSON.stringify(form));
        assert.match(page.body, message);
      }
      assert.equal(await keyCount(), before);
      const page = await admin.get('/dashboard/keys/new');
      assert.match(page.body, /at most 90d/);
    });

    it('creates a key with address ranges, resource limits and a rate limit', async () => {
      const { id } = await created(admin, { scopes: ['components.manage'], allowed_ips: '10.0.0.0/8, 192.168.1.0/24', resources: 'components:7,9', rate_limit: '60' });
      const row = await stored(id);
      assert.deepEqual(JSON.parse(row.allowed_ips!), ['10.0.0.0/8', '192.168.1.0/24']);
      assert.deepEqual(JSON.parse(row.resources!), { components: [7, 9] });
      assert.equal(row.rate_limit, 60);
      const list = await admin.get('/dashboard/keys');
      assert.match(list.body, /only components:7,9/);
      assert.match(list.body, /60 requests\/min/);
    });

    it('offers a user no key or audit scopes, and refuses them when sent anyway (403, nothing created, audited)', async () => {
      const form = await alice.get('/dashboard/keys/new');
      assert.equal(form.statusCode, 200);
      assert.match(form.body, /value="components\.read"/);
      for (const scope of ['keys.read', 'keys.manage', 'keys.delete', 'audit.read', '*']) assert.ok(!form.body.includes(`value="${scope}"`), `${scope} is not offered`);
      const before = await keyCount();
      for (const scopes of [['keys.manage'], ['audit.read', 'components.read'], ['*']]) {
        const page = await create(alice, { scopes, confirm_all: 'yes' });
        assert.equal(page.statusCode, 403, scopes.join());
        assert.match(page.body, /cannot grant/);
        assert.equal(tokensIn(page).length, 0);
      }
      assert.equal(await keyCount(), before);
      const denied = (await events('keys.create')).filter((e) => e.outcome === 'denied' && e.user_id === ids.alice);
      assert.equal(denied.length, 3);
      assert.ok(denied.every((e) => e.reason === 'escalation_denied' && e.actor_type === 'user' && e.status === 403));
    });

    it("hides a user's key from another user: show, rotate, revoke and policy are 404s audited as not_owner, and the key is unchanged", async () => {
      const { id, token } = await created(alice, { name: "alice's key", scopes: ['components.read'] });
      const missing = await bob.get('/dashboard/keys/999999');
      assert.equal(missing.statusCode, 404);
      const asked = await bob.get(`/dashboard/keys/${id}`);
      assert.equal(asked.statusCode, 404);
      assert.equal(asked.body.replace(/name="_csrf" value="[^"]+"/g, ''), missing.body.replace(/name="_csrf" value="[^"]+"/g, ''), 'the same page as for no such key');
      assert.ok(!asked.body.includes("alice's key") && !asked.body.includes('alice&#39;s key'));
      const before = await stored(id);
      const attempts: Array<[string, Record<string, string>, string]> = [
        [`/dashboard/keys/${id}/rotate`, { grace: '1h', confirm: 'yes' }, 'keys.rotate'],
        [`/dashboard/keys/${id}/revoke`, { confirm: 'yes' }, 'keys.revoke'],
        [`/dashboard/keys/${id}/rotation`, { every: '30d', grace: '1h', webhook_url: 'https://hooks.example.test/k' }, 'keys.update'],
      ];
      for (const [url, form] of attempts) assert.equal((await bob.submit(url, form, '/dashboard/keys')).statusCode, 404, url);
      assert.deepEqual(await stored(id), before, 'nothing changed');
      assert.equal((await t.request({ url: '/api/v1/components', token })).statusCode, 200);
      for (const action of ['keys.show', 'keys.rotate', 'keys.revoke', 'keys.update']) {
        const refusals = (await events(action)).filter((e) => e.resource_id === String(id) && e.user_id === ids.bob);
        assert.equal(refusals.length, 1, action);
        assert.equal(refusals[0]!.outcome, 'denied');
        assert.equal(refusals[0]!.reason, 'not_owner');
        assert.equal(refusals[0]!.actor_type, 'user');
        assert.equal(refusals[0]!.status, 404);
      }
      const list = await bob.get('/dashboard/keys?all=1');
      assert.ok(!list.body.includes(`/dashboard/keys/${id}"`), "another user's key is not listed");
      const own = await alice.get('/dashboard/keys');
      assert.ok(own.body.includes(`/dashboard/keys/${id}"`), 'the owner sees it');
      assert.equal((await admin.get(`/dashboard/keys/${id}`)).statusCode, 200, 'an admin sees every key');
    });

    it('rotates with confirmation: the successor token once, the old key working through the grace', async () => {
      const { id, token } = await created(alice, { name: 'rotating', scopes: ['components.read'] });
      const unconfirmed = await alice.submit(`/dashboard/keys/${id}/rotate`, { grace: '1h' }, `/dashboard/keys/${id}`);
      assert.equal(unconfirmed.statusCode, 400);
      assert.match(unconfirmed.body, /tick the box/);
      assert.equal((await stored(id)).replaced_by_id, null);

      const page = await alice.submit(`/dashboard/keys/${id}/rotate`, { grace: '1h', confirm: 'yes' }, `/dashboard/keys/${id}`);
      assert.equal(page.statusCode, 200, page.body);
      const tokens = tokensIn(page);
      assert.equal(tokens.length, 1);
      const successor = tokens[0]!;
      shown.push(successor);
      assert.notEqual(successor, token);
      assert.match(page.body, /you will not see it again/);
      const old = await stored(id);
      assert.ok(old.replaced_by_id !== null);
      assert.equal(old.expires_at, new Date(t.clock.now().getTime() + HOUR).toISOString());
      const next = await stored(old.replaced_by_id);
      assert.equal(next.owner_user_id, ids.alice);
      assert.equal(next.created_by, `user:${ids.alice}`);
      assert.equal((await t.request({ url: '/api/v1/components', token })).statusCode, 200, 'the old key works during the grace');
      assert.equal((await t.request({ url: '/api/v1/components', token: successor })).statusCode, 200);

      const [event] = (await events('keys.rotate')).filter((e) => e.resource_id === String(id) && e.outcome === 'allowed');
      assert.equal(event?.actor_type, 'user');
      assert.equal(event.user_id, ids.alice);
      const detail = await alice.get(`/dashboard/keys/${id}`);
      assert.match(detail.body, new RegExp(`rotated .* to key ${old.replaced_by_id}; not picked up yet`));
      assert.equal(tokensIn(detail).length, 0);
    });

    it('revokes only with confirmation, and the token then stops working', async () => {
      const { id, token } = await created(alice, { name: 'revocable', scopes: ['components.read'] });
      const unconfirmed = await alice.submit(`/dashboard/keys/${id}/revoke`, {}, `/dashboard/keys/${id}`);
      assert.equal(unconfirmed.statusCode, 400);
      assert.match(unconfirmed.body, /Not revoked/);
      assert.equal((await stored(id)).revoked_at, null);
      assert.equal((await t.request({ url: '/api/v1/components', token })).statusCode, 200);

      const done = await alice.submit(`/dashboard/keys/${id}/revoke`, { confirm: 'yes' }, `/dashboard/keys/${id}`);
      assert.equal(done.statusCode, 303);
      assert.equal(done.headers.location, `/dashboard/keys/${id}`);
      assert.notEqual((await stored(id)).revoked_at, null);
      assert.equal((await t.request({ url: '/api/v1/components', token })).statusCode, 401);
      const [event] = (await events('keys.revoke')).filter((e) => e.resource_id === String(id) && e.outcome === 'allowed');
      assert.equal(event?.actor_type, 'user');
      assert.equal(event.user_id, ids.alice);
      const page = await alice.get(`/dashboard/keys/${id}`);
      assert.match(page.body, /state-revoked/);
      assert.ok(!(await alice.get('/dashboard/keys')).body.includes(`/dashboard/keys/${id}"`), 'a revoked key leaves the default list');
      assert.ok((await alice.get('/dashboard/keys?all=1')).body.includes(`/dashboard/keys/${id}"`));
    });

    it('sets a rotation policy with a webhook, its signing secret shown once, and removes it', async () => {
      const { id } = await created(alice, { name: 'scheduled', scopes: ['components.read'] });
      const hostTarget = await alice.submit(`/dashboard/keys/${id}/rotation`, { every: '30d', grace: '1h', webhook_url: 'file:///etc/passwd' }, `/dashboard/keys/${id}`);
      assert.equal(hostTarget.statusCode, 400);
      assert.equal((await stored(id)).rotation, null);

      const page = await alice.submit(`/dashboard/keys/${id}/rotation`, { every: '7d', grace: '1h', webhook_url: 'https://hooks.example.test/rotate', retire_after_pickup: '10m' }, `/dashboard/keys/${id}`);
      assert.equal(page.statusCode, 200, page.body);
      const secret = /whsec_[A-Za-z0-9+/=]+/.exec(page.body)?.[0];
      assert.ok(secret);
      assert.match(page.body, /you will not see it again/);
      const row = await stored(id);
      assert.deepEqual(JSON.parse(row.rotation!), { every: '7d', grace: '1h', deliver: { type: 'webhook', url: 'https://hooks.example.test/rotate' }, retire_after_pickup: '10m' });
      const detail = await alice.get(`/dashboard/keys/${id}`);
      assert.ok(!detail.body.includes(secret) && !detail.body.includes('whsec_'), 'the secret is never shown again');
      assert.match(detail.body, /every 7d, grace 1h, retire 10m after pickup/);
      const [event] = (await events('keys.update')).filter((e) => e.resource_id === String(id) && e.outcome === 'allowed');
      assert.equal(event?.user_id, ids.alice);
      assert.ok(!event.changes?.includes(secret));

      const removed = await alice.submit(`/dashboard/keys/${id}/rotation`, { remove: 'yes' }, `/dashboard/keys/${id}`);
      assert.equal(removed.statusCode, 303);
      assert.equal((await stored(id)).rotation, null);
    });

    it('escapes a key name with markup on the list and the key page', async () => {
      const { id } = await created(admin, { name: '<script>alert(1)</script>', scopes: ['components.read'] });
      for (const url of ['/dashboard/keys', `/dashboard/keys/${id}`]) {
        const page = await admin.get(url);
        assert.ok(!page.body.includes('<script>alert(1)</script>'), url);
        assert.ok(page.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), url);
      }
    });

    it('never shows a token again on any later page', async () => {
      assert.ok(shown.length >= 5);
      const keyIds = (await t.database.db.selectFrom('api_keys').select('id').execute()).map((row) => row.id);
      const pages = ['/dashboard', '/dashboard/keys?all=1', '/dashboard/audit', ...keyIds.map((id) => `/dashboard/keys/${id}`)];
      for (const url of pages) {
        const page = await admin.get(url);
        assert.equal(page.statusCode, 200, url);
        assert.equal(tokensIn(page).length, 0, url);
        for (const token of shown) assert.ok(!page.body.includes(token.slice(12)), url);
      }
    });
  });
}
