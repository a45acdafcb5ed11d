import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

interface SubscriptionBody {
  id: number;
  subscriber_id: number;
  component_id: number;
  created_at: string;
  updated_at: string;
}

interface SubscriberBody {
  id: number;
  email: string;
  phone_number: string | null;
  slack_webhook_url: string | null;
  global: boolean;
  verified_at: string | null;
  created_at: string;
  updated_at: string;
  subscriptions: SubscriptionBody[];
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

for (const dialect of await dialects()) {
  describe(`subscribers API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    /** Live components, in creation order; `deleted` is a soft-deleted one, `disabled` a disabled one. */
    let live: number[];
    let deleted: number;
    /** Every response body this suite received, searched for verify codes at the end. */
    const bodies: string[] = [];

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
      const ids: number[] = [];
      for (const [name, enabled] of [['One', true], ['Two', false], ['Three', true], ['Gone', true]] as const) {
        const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name, status: 1, enabled } });
        assert.equal(response.statusCode, 200, response.body);
        ids.push(json(response).data.id);
      }
      deleted = ids[3]!;
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/components/${deleted}`, token: admin })).statusCode, 204);
      live = ids.slice(0, 3);
    });
    after(() => t.close());

    async function send(options: Parameters<TestApp['request']>[0]) {
      const response = await t.request(options);
      bodies.push(response.body);
      return response;
    }

    async function subscribe(body: unknown, headers: Record<string, string> = {}): Promise<SubscriberBody> {
      const response = await send({ method: 'POST', url: '/api/v1/subscribers', token: admin, body, headers });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data as SubscriberBody;
    }

    function componentIdsOf(subscriber: SubscriberBody): number[] {
      return subscriber.subscriptions.map((s) => s.component_id).sort((a, b) => a - b);
    }

    async function storedSubscriptions(subscriberId: number) {
      return t.database.db.selectFrom('subscriptions').selectAll().where('subscriber_id', '=', subscriberId).execute();
    }

    it('refuses every subscriber route without a key (401): subscriber data is personal', async () => {
      for (const [method, url] of [
        ['GET', '/api/v1/subscribers'],
        ['POST', '/api/v1/subscribers'],
        ['DELETE', '/api/v1/subscribers/1'],
        ['DELETE', '/api/v1/subscriptions/1'],
      ] as const) {
        const response = await send({ method, url, ...(method === 'POST' ? { body: { email: 'anon@example.org' } } : {}) });
        assert.equal(response.statusCode, 401, `${method} ${url}`);
        assert.equal(json(response).errors[0].title, 'Unauthorized');
        assert.match(response.headers['content-type'] as string, /application\/json/);
      }
    });

    it('lists only with subscribers.read (or manage, which implies it)', async () => {
      const other = await t.key(['components.read', 'components.manage']);
      const denied = await send({ url: '/api/v1/subscribers', token: other });
      assert.equal(denied.statusCode, 403);
      assert.match(json(denied).errors[0].detail, /subscribers\.read/);
      for (const scopes of [['subscribers.read'], ['subscribers.manage']]) {
        const response = await send({ url: '/api/v1/subscribers', token: await t.key(scopes) });
        assert.equal(response.statusCode, 200, `${scopes.join(',')}: ${response.body}`);
        assert.ok(Array.isArray(json(response).data));
        assert.equal(json(response).meta.pagination.per_page, 20);
      }
    });

    it('checks each write scope: create needs manage, deleting a subscriber needs delete, a subscription manage', async () => {
      const reader = await t.key(['subscribers.read']);
      const deleter = await t.key(['subscribers.delete']);
      const manager = await t.key(['subscribers.manage']);
      assert.equal((await send({ method: 'POST', url: '/api/v1/subscribers', token: reader, body: { email: 'scoped@example.org' } })).statusCode, 403);
      assert.equal((await send({ method: 'POST', url: '/api/v1/subscribers', token: deleter, body: { email: 'scoped@example.org' } })).statusCode, 403);
      const created = json(await send({ method: 'POST', url: '/api/v1/subscribers', token: manager, body: { email: 'scoped@example.org' } })).data as SubscriberBody;
      assert.equal((await send({ method: 'DELETE', url: `/api/v1/subscriptions/${created.subscriptions[0]!.id}`, token: deleter })).statusCode, 403);
      assert.equal((await send({ method: 'DELETE', url: `/api/v1/subscriptions/${created.subscriptions[0]!.id}`, token: manager })).statusCode, 204);
      assert.equal((await send({ method: 'DELETE', url: `/api/v1/subscribers/${created.id}`, token: manager })).statusCode, 403);
      assert.equal((await send({ method: 'DELETE', url: `/api/v1/subscribers/${created.id}`, token: deleter })).statusCode, 204);
    });

    it('creates an unverified, global subscriber subscribed to every live component by default', async () => {
      const data = await subscribe({ email: 'support@alt-three.com' });
      assert.equal(typeof data.id, 'number');
      assert.equal(data.email, 'support@alt-three.com');
      assert.equal(data.verified_at, null);
      assert.equal(data.global, true);
      assert.equal(data.phone_number, null);
      assert.equal(data.slack_webhook_url, null);
      assert.equal(data.created_at, '2026-11-25 12:00:00');
      assert.deepEqual(componentIdsOf(data), live, 'disabled components included, deleted ones not');
      for (const s of data.subscriptions) {
        assert.equal(s.subscriber_id, data.id);
        assert.equal(s.created_at, '2026-11-25 12:00:00');
        assert.deepEqual(Object.keys(s).sort(), ['component_id', 'created_at', 'id', 'subscriber_id', 'updated_at']);
      }
      assert.deepEqual(Object.keys(data).sort(), ['created_at', 'email', 'global', 'id', 'phone_number', 'slack_webhook_url', 'subscriptions', 'updated_at', 'verified_at']);
    });

    it('creates an automatically verified subscriber, verified_at rendered in the request zone', async () => {
      const data = await subscribe({ email: 'verified@alt-three.com', verify: true });
      assert.equal(data.verified_at, '2026-11-25 12:00:00');
      const zoned = await subscribe({ email: 'zoned@alt-three.com', verify: 'true' }, { 'time-zone': 'America/Mexico_City' });
      assert.equal(zoned.verified_at, '2026-11-25 06:00:00');
      assert.equal(zoned.created_at, '2026-11-25 06:00:00');
      assert.equal((await subscribe({ email: 'unverified@alt-three.com', verify: false })).verified_at, null);
    });

    it('subscribes to the named components only, and is then not global', async () => {
      const [first, , third] = live as [number, number, number];
      const data = await subscribe({ email: 'subscriptions@alt-three.com', verify: true, components: [first, third] });
      assert.equal(data.subscriptions.length, 2);
      assert.deepEqual(componentIdsOf(data), [first, third]);
      assert.equal(data.global, false);
    });

    it('accepts components as a comma-separated string, deduplicating ids', async () => {
      const [first, , third] = live as [number, number, number];
      const data = await subscribe({ email: 'comma@example.org', components: `${third}, ${first},${third}` });
      assert.deepEqual(componentIdsOf(data), [first, third]);
    });

    it('accepts a form-encoded body with components[] fields', async () => {
      const [first, second] = live as [number, number];
      const one = await subscribe(`email=form%40example.org&components[]=${first}`, FORM);
      assert.equal(one.email, 'form@example.org');
      assert.deepEqual(componentIdsOf(one), [first]);
      const two = await subscribe(`email=form2%40example.org&components%5B%5D=${first}&components%5B%5D=${second}&verify=1`, FORM);
      assert.deepEqual(componentIdsOf(two), [first, second]);
      assert.notEqual(two.verified_at, null);
      const query = await send({ method: 'POST', url: `/api/v1/subscribers?email=query%40example.org&components[]=${second}`, token: admin });
      assert.equal(query.statusCode, 200, query.body);
      assert.deepEqual(componentIdsOf(json(query).data), [second]);
    });

    it('returns the existing subscriber unchanged (200, same id) for an email already subscribed', async () => {
      const created = await subscribe({ email: 'existing@example.org', components: [live[0]] });
      const again = await subscribe({ email: 'existing@example.org', verify: true, components: [live[1], live[2]] });
      assert.deepEqual(again, created);
    });

    it('matches emails case-insensitively and stores them trimmed and lower-cased', async () => {
      const created = await subscribe({ email: '  Mixed.Case@Example.ORG ' });
      assert.equal(created.email, 'mixed.case@example.org');
      const again = await subscribe({ email: 'mixed.case@example.org' });
      assert.equal(again.id, created.id);
      const upper = await subscribe({ email: 'MIXED.CASE@EXAMPLE.ORG' });
      assert.equal(upper.id, created.id);
      const rows = await t.database.db.selectFrom('subscribers').select('id').where('email', '=', 'mixed.case@example.org').execute();
      assert.equal(rows.length, 1);
    });

    it('survives concurrent creates of the same email: one subscriber, every response 200', async () => {
      const variants = ['race@example.org', 'Race@example.org', 'RACE@EXAMPLE.ORG', 'race@Example.org'];
      const responses = await Promise.all(
        Array.from({ length: 12 }, (_, i) => send({ method: 'POST', url: '/api/v1/subscribers', token: admin, body: { email: variants[i % variants.length], components: [live[0]] } })),
      );
      for (const response of responses) assert.equal(response.statusCode, 200, response.body);
      const ids = new Set(responses.map((r) => json(r).data.id));
      assert.equal(ids.size, 1);
      const id = [...ids][0] as number;
      assert.equal((await storedSubscriptions(id)).length, 1);
      for (const response of responses) assert.equal(json(response).data.subscriptions.length, 1);
    });

    it('refuses an invalid or missing email with 400 and meta.details', async () => {
      for (const [body, message] of [
        [{ email: 'not-an-email' }, 'The email must be a valid email address.'],
        [{ email: 'two@@example.org' }, 'The email must be a valid email address.'],
        [{ email: 'spaces in@example.org' }, 'The email must be a valid email address.'],
        [{ email: 'nodomain@' }, 'The email must be a valid email address.'],
        [{ email: 'user@localhost' }, 'The email must be a valid email address.'],
        [{ email: 'user@-bad.org' }, 'The email must be a valid email address.'],
        [{ email: `${'a'.repeat(65)}@example.org` }, 'The email must be a valid email address.'],
        [{ email: '   ' }, 'The email field is required.'],
        [{}, 'The email field is required.'],
        [{ email: null }, 'The email field is required.'],
      ] as const) {
        const response = await send({ method: 'POST', url: '/api/v1/subscribers', token: admin, body });
        assert.equal(response.statusCode, 400, `${JSON.stringify(body)} → ${response.body}`);
        const error = json(response).errors[0];
        assert.equal(error.status, 400);
        assert.ok(error.meta.details.includes(message), `${JSON.stringify(body)} → ${JSON.stringify(error.meta.details)}`);
      }
    });

    it('refuses unknown or deleted component ids with 400 naming them, creating nothing', async () => {
      const response = await send({ method: 'POST', url: '/api/v1/subscribers', token: admin, body: { email: 'unknown@example.org', components: [live[0], 999_999, deleted] } });
      assert.equal(response.statusCode, 400, response.body);
      const details: string[] = json(response).errors[0].meta.details;
      assert.ok(details.some((d) => d.includes('999999') && d.includes(String(deleted)) && !d.includes(`${live[0]},`)), JSON.stringify(details));
      const stored = await t.database.db.selectFrom('subscribers').select('id').where('email', '=', 'unknown@example.org').execute();
      assert.equal(stored.length, 0);
      const bad = await send({ method: 'POST', url: '/api/v1/subscribers', token: admin, body: { email: 'unknown@example.org', components: '1,x' } });
      assert.equal(bad.statusCode, 400);
      assert.ok(json(bad).errors[0].meta.details.length > 0);
    });

    it('deletes a subscriber with its subscriptions (204), then 404s', async () => {
      const created = await subscribe({ email: 'delete-me@example.org' });
      assert.ok((await storedSubscriptions(created.id)).length > 0);
      const response = await send({ method: 'DELETE', url: `/api/v1/subscribers/${created.id}`, token: admin });
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, '');
      assert.equal((await storedSubscriptions(created.id)).length, 0);
      assert.equal(await t.database.db.selectFrom('subscribers').select('id').where('id', '=', created.id).executeTakeFirst(), undefined);
      const again = await send({ method: 'DELETE', url: `/api/v1/subscribers/${created.id}`, token: admin });
      assert.equal(again.statusCode, 404);
      assert.equal(json(again).errors[0].title, 'Not Found');
      assert.equal((await send({ method: 'DELETE', url: '/api/v1/subscribers/abc', token: admin })).statusCode, 404);
      // The email is free again: subscribing it creates a new subscriber.
      assert.notEqual((await subscribe({ email: 'delete-me@example.org' })).id, created.id);
    });

    it('deletes one subscription (204), leaving the subscriber and its other subscriptions, then 404s', async () => {
      const created = await subscribe({ email: 'unsubscribe@example.org', components: [live[0], live[1]] });
      const [gone, kept] = created.subscriptions as [SubscriptionBody, SubscriptionBody];
      const response = await send({ method: 'DELETE', url: `/api/v1/subscriptions/${gone.id}`, token: admin });
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, '');
      assert.deepEqual((await storedSubscriptions(created.id)).map((s) => s.id), [kept.id]);
      assert.equal((await send({ method: 'DELETE', url: `/api/v1/subscriptions/${gone.id}`, token: admin })).statusCode, 404);
      assert.equal((await send({ method: 'DELETE', url: '/api/v1/subscriptions/0', token: admin })).statusCode, 404);
    });

    it('answers 405 for methods the subscriber paths do not have', async () => {
      assert.equal((await send({ url: '/api/v1/subscribers/1', token: admin })).statusCode, 405);
      assert.equal((await send({ method: 'PUT', url: '/api/v1/subscriptions/1', token: admin, body: {} })).statusCode, 405);
    });

    it('lists subscribers with their subscriptions, paginated', async () => {
      const first = json(await send({ url: '/api/v1/subscribers?per_page=2', token: admin }));
      assert.equal(first.data.length, 2);
      assert.equal(first.meta.pagination.per_page, 2);
      assert.ok(first.meta.pagination.total >= 10);
      assert.ok(first.meta.pagination.links.next_page.includes('page=2'));
      for (const subscriber of first.data as SubscriberBody[]) assert.ok(Array.isArray(subscriber.subscriptions));
      const byEmail = json(await send({ url: '/api/v1/subscribers?per_page=1000&sort=email&order=desc', token: admin })).data as SubscriberBody[];
      const emails = byEmail.map((s) => s.email);
      assert.deepEqual(emails, [...emails].sort().reverse());
      const listed = byEmail.find((s) => s.email === 'subscriptions@alt-three.com')!;
      assert.deepEqual(componentIdsOf(listed), [live[0], live[2]]);
    });

    it('never gives a 500 for wrong-type, unicode, oversized or null input', async () => {
      const cases: unknown[] = [
        { email: 12345 },
        { email: true },
        { email: { nested: 'a@b.org' } },
        { email: ['a@b.org', 'c@d.org'] },
        { email: 'fuzz1@example.org', components: null },
        { email: 'fuzz2@example.org', components: { 0: 1 } },
        { email: 'fuzz3@example.org', components: [-1] },
        { email: 'fuzz4@example.org', components: [1.5] },
        { email: 'fuzz5@example.org', components: [1e20] },
        { email: 'fuzz6@example.org', components: '99999999999999999999' },
        { email: 'fuzz7@example.org', components: [null] },
        { email: 'fuzz8@example.org', components: [[1]] },
        { email: 'fuzz9@example.org', components: true },
        { email: 'fuzz10@example.org', components: Array.from({ length: 5000 }, (_, i) => i + 1) },
        { email: 'fuzz11@example.org', components: Array.from({ length: 3000 }, (_, i) => i + 1).join(',') },
        { email: 'fuzz12@example.org', components: ',,,' },
        { email: 'fuzz13@example.org', verify: 'maybe' },
        { email: 'fuzz14@example.org', verify: null },
        { email: 'üñîçøðé@exämple.de' },
        { email: '用户@例子.广告' },
        { email: '😀@example.org' },
        { email: 'nul\u0000byte@example.org' },
        { email: 'ctl\u0007@example.org' },
        { email: 'rtl\u202e@example.org' },
        { email: '\ud800@example.org' },
        { email: `${'x'.repeat(64)}@${'y'.repeat(63)}.${'z'.repeat(63)}.${'w'.repeat(63)}.org` },
        { email: `${'x'.repeat(10_000)}@example.org` },
        { email: 'a@b.org'.repeat(200_000) },
        [{ email: 'array@example.org' }],
        'null',
        '"just a string"',
        '{"email": "broken@example.org"',
      ];
      for (const body of cases) {
        const response = await send({ method: 'POST', url: '/api/v1/subscribers', token: admin, body, headers: { 'content-type': 'application/json' } });
        const label = JSON.stringify(body)?.slice(0, 120);
        assert.ok(response.statusCode < 500, `${label} → ${response.statusCode} ${response.body.slice(0, 300)}`);
        assert.ok([200, 400, 413].includes(response.statusCode), `${label} → ${response.statusCode}`);
        if (response.statusCode !== 200) assert.ok(Array.isArray(json(response).errors), label);
      }
      for (const url of ['/api/v1/subscribers/99999999999', '/api/v1/subscribers/-1', '/api/v1/subscribers/%00', '/api/v1/subscriptions/1e3', '/api/v1/subscriptions/%F0%9F%98%80']) {
        const response = await send({ method: 'DELETE', url, token: admin });
        assert.equal(response.statusCode, 404, `${url} → ${response.body}`);
      }
      // Not collected by `send`: the pagination links echo the query, `sort=verify_code` included.
      for (const query of ['per_page=0', 'per_page=abc', 'page=-1', 'sort=verify_code', 'order=sideways', 'per_page=99999999999']) {
        const response = await t.request({ url: `/api/v1/subscribers?${query}`, token: admin });
        assert.ok(response.statusCode === 200 || response.statusCode === 400, `${query} → ${response.statusCode}`);
      }
      const form = await send({ method: 'POST', url: '/api/v1/subscribers', token: admin, headers: FORM, body: 'email=%E0%A4%A&components[]=%00&components[]=abc' });
      assert.ok(form.statusCode < 500, form.body);
    });

    it('never exposes verify_code, by name or by value, in any response', async () => {
      await subscribe({ email: 'secret@example.org' });
      await send({ url: '/api/v1/subscribers?per_page=1000', token: admin });
      await send({ url: '/api/v1/openapi.json' });
      const codes = (await t.database.db.selectFrom('subscribers').select('verify_code').execute()).map((r) => r.verify_code);
      assert.ok(codes.length >= 10);
      assert.equal(new Set(codes).size, codes.length, 'each subscriber gets its own code');
      for (const code of codes) assert.ok(code.length >= 40, 'codes carry at least 256 bits');
      assert.ok(bodies.length > 50);
      for (const body of bodies) {
        assert.ok(!body.includes('verify_code'), `verify_code named in ${body.slice(0, 200)}`);
        for (const code of codes) assert.ok(!body.includes(code), 'a verify code value leaked');
      }
    });
  });
}
