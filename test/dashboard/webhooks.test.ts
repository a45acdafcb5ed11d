/**
 * Webhooks in the dashboard (admins only): created through the form with the signing secret shown
 * once (and never again), edited, rotated and deleted with confirmation, a disabled webhook marked
 * with its reason and enabled again, the delivery log with each answer; a user who is not an admin
 * is refused every page and form, and the refusal audited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, visitor, type Visitor } from '../helpers/dashboard.js';
import { dialects } from '../helpers/dialects.js';

const SECRET = /whsec_[A-Za-z0-9+/=]+/g;

for (const dialect of await dialects()) {
  describe(`dashboard: webhooks (${dialect})`, () => {
    let t: TestApp;
    let admin: Visitor;
    let user: Visitor;
    const ids = { admin: 0, user: 0 };
    /** Every secret a page has shown: none may appear on a later page. */
    const shown: string[] = [];

    before(async () => {
      t = await buildTestApp(dialect);
      ids.admin = (await createUser(t, 'admin@example.test', 'admin')).id;
      ids.user = (await createUser(t, 'user@example.test', 'user')).id;
      admin = visitor(t, '127.0.0.30');
      user = visitor(t, '127.0.0.31');
      assert.equal((await admin.signIn('admin@example.test')).statusCode, 303);
      assert.equal((await user.signIn('user@example.test')).statusCode, 303);
    });
    after(() => t.close());

    const stored = (id: number) => t.database.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const count = async () => Number((await t.database.db.selectFrom('webhooks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const newest = (action: string) => t.database.db.selectFrom('audit_events').selectAll().where('action', '=', action).orderBy('seq', 'desc').executeTakeFirstOrThrow();

    /** A page that must not show any secret shown before. */
    async function page(url: string) {
      const response = await admin.get(url);
      assert.equal(response.statusCode, 200, response.body);
      for (const secret of shown) assert.ok(!response.body.includes(secret), `${url} shows a secret again`);
      assert.ok(!response.body.includes('whsec_'), `${url} shows a secret`);
      return response.body;
    }

    async function createWebhook(name: string): Promise<{ id: number; secret: string }> {
      const response = await admin.submit('/dashboard/webhooks', { name, url: 'https://hooks.example.com/cachet', events: ['incident.created', 'schedule.started'] }, '/dashboard/webhooks/new');
      assert.equal(response.statusCode, 200, response.body);
      const secrets = response.body.match(SECRET) ?? [];
      assert.equal(secrets.length, 1, 'the answer shows the new secret');
      const id = Number(/action="\/dashboard\/webhooks\/(\d+)\/secret"/.exec(response.body)?.[1]);
      assert.ok(id > 0);
      shown.push(secrets[0]);
      return { id, secret: secrets[0] };
    }

    it('lets an admin create a webhook and shows its signing secret once, with a copy button', async () => {
      const form = await page('/dashboard/webhooks/new');
      assert.match(form, /name="events" value="\*"/);
      const response = await admin.submit('/dashboard/webhooks', { name: 'Chat relay', url: 'https://hooks.example.com/cachet', events: ['incident.created', 'schedule.started'] }, '/dashboard/webhooks/new');
      assert.equal(response.statusCode, 200, response.body);
      const [secret] = response.body.match(SECRET) ?? [];
      assert.ok(secret);
      shown.push(secret);
      assert.match(response.body, /you will not see it again/);
      assert.match(response.body, /data-copy="webhook-secret"/);
      const id = Number(/action="\/dashboard\/webhooks\/(\d+)\/secret"/.exec(response.body)?.[1]);
      const row = await stored(id);
      assert.equal(row.name, 'Chat relay');
      assert.deepEqual(JSON.parse(row.events), ['incident.created', 'schedule.started']);
      assert.equal(row.enabled, 1);

      const event = await newest('webhooks.create');
      assert.equal(event.actor_type, 'user');
      assert.equal(event.user_id, ids.admin);
      assert.ok(!event.changes?.includes('whsec_'));

      assert.match(await page('/dashboard/webhooks'), /Chat relay/);
      const detail = await page(`/dashboard/webhooks/${id}`);
      assert.match(detail, /Nothing delivered yet/);
    });

    it('refuses a bad target with the reason and creates nothing', async () => {
      const before = await count();
      const response = await admin.submit('/dashboard/webhooks', { name: 'Bad', url: 'ftp://hooks.example.com/x', events: ['*'] }, '/dashboard/webhooks/new');
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /http or https/);
      assert.ok(!response.body.includes('whsec_'));
      const none = await admin.submit('/dashboard/webhooks', { name: 'No events', url: 'https://hooks.example.com/x' }, '/dashboard/webhooks/new');
      assert.equal(none.statusCode, 400);
      assert.match(none.body, /at least one event/);
      assert.equal(await count(), before);
    });

    it('edits a webhook, and rotates its secret with confirmation, the new one shown once', async () => {
      const { id } = await createWebhook('Editable');
      const saved = await admin.submit(`/dashboard/webhooks/${id}`, { name: 'Edited', url: 'https://other.example.com/h', events: ['*'] }, `/dashboard/webhooks/${id}`);
      assert.equal(saved.statusCode, 303);
      const row = await stored(id);
      assert.deepEqual([row.name, row.url, JSON.parse(row.events)], ['Edited', 'https://other.example.com/h', ['*']]);

      const unconfirmed = await admin.submit(`/dashboard/webhooks/${id}/secret`, { grace: '1h' }, `/dashboard/webhooks/${id}`);
      assert.equal(unconfirmed.statusCode, 400);
      assert.match(unconfirmed.body, /Not rotated/);
      assert.equal(JSON.parse((await stored(id)).secrets).length, 1);

      const rotated = await admin.submit(`/dashboard/webhooks/${id}/secret`, { grace: '1h', confirm: 'yes' }, `/dashboard/webhooks/${id}`);
      assert.equal(rotated.statusCode, 200, rotated.body);
      const secrets = rotated.body.match(SECRET) ?? [];
      assert.equal(secrets.length, 1);
      assert.ok(!shown.includes(secrets[0]), 'a new secret');
      shown.push(secrets[0]);
      assert.equal(JSON.parse((await stored(id)).secrets).length, 2);
      assert.equal((await newest('webhooks.rotate')).user_id, ids.admin);
      assert.match(await page(`/dashboard/webhooks/${id}`), /signs until 2026-11-25 13:00:00 UTC/);
    });

    it('marks a disabled webhook with its reason, shows the delivery log, and enables it again', async () => {
      const { id } = await createWebhook('Failing');
      await t.database.db.updateTable('webhooks').set({ enabled: 0, failures: 20, disabled_at: '2026-11-25T11:00:00.000Z', disabled_reason: 'Disabled after 20 failed deliveries in a row; the last: answered 502.' }).where('id', '=', id).execute();
      await t.database.db
        .insertInto('webhook_deliveries')
        .values({ webhook_id: id, event_id: '0190d7a0-0000-7000-8000-000000000001', event_type: 'incident.created', attempt: 3, status: 502, error: 'answered 502', response: '<b>Bad gateway</b>', duration_ms: 12, at: '2026-11-25T10:59:00.000Z' })
        .execute();
      const body = await page(`/dashboard/webhooks/${id}`);
      assert.match(body, /Disabled since 2026-11-25 11:00:00 UTC/);
      assert.match(body, /20 failed deliveries in a row; the last: answered 502/);
      assert.match(body, new RegExp(`action="/dashboard/webhooks/${id}/enable"`));
      assert.match(body, /answered 502/);
      assert.ok(body.includes('&lt;b&gt;Bad gateway&lt;/b&gt;'), 'the answer is shown, escaped');
      assert.match(await page('/dashboard/webhooks'), /state-revoked/);

      const enabled = await admin.submit(`/dashboard/webhooks/${id}/enable`, {}, `/dashboard/webhooks/${id}`);
      assert.equal(enabled.statusCode, 303);
      const row = await stored(id);
      assert.deepEqual([row.enabled, row.failures, row.disabled_at, row.disabled_reason], [1, 0, null, null]);
      const event = await newest('webhooks.update');
      assert.equal(event.user_id, ids.admin);
      assert.deepEqual(JSON.parse(event.changes!).enabled, [false, true]);
    });

    it('deletes a webhook only when confirmed', async () => {
      const { id } = await createWebhook('Doomed');
      const unconfirmed = await admin.submit(`/dashboard/webhooks/${id}/delete`, {}, `/dashboard/webhooks/${id}`);
      assert.equal(unconfirmed.statusCode, 400);
      assert.ok(await stored(id));
      const deleted = await admin.submit(`/dashboard/webhooks/${id}/delete`, { confirm: 'yes' }, `/dashboard/webhooks/${id}`);
      assert.equal(deleted.statusCode, 303);
      assert.equal(await t.database.db.selectFrom('webhooks').select('id').where('id', '=', id).executeTakeFirst(), undefined);
      assert.equal((await admin.get(`/dashboard/webhooks/${id}`)).statusCode, 404);
    });

    it('refuses every webhook page and form to a user who is not an admin, and audits it', async () => {
      const { id } = await createWebhook('Admins only');
      for (const url of ['/dashboard/webhooks', '/dashboard/webhooks/new', `/dashboard/webhooks/${id}`]) {
        const response = await user.get(url);
        assert.equal(response.statusCode, 403, url);
        assert.ok(!response.body.includes('Admins only'), `${url} shows nothing of the webhook`);
      }
      const before = await count();
      const posted = await user.submit('/dashboard/webhooks', { name: 'Sneaky', url: 'https://hooks.example.com/x', events: ['*'] }, '/dashboard');
      assert.equal(posted.statusCode, 403);
      assert.ok(!posted.body.includes('whsec_'));
      assert.equal(await count(), before);
      for (const action of ['secret', 'delete', 'disable']) {
        assert.equal((await user.submit(`/dashboard/webhooks/${id}/${action}`, { confirm: 'yes' }, '/dashboard')).statusCode, 403, action);
      }
      assert.equal((await stored(id)).enabled, 1);
      const refusal = await t.database.db.selectFrom('audit_events').selectAll().where('user_id', '=', ids.user).where('reason', '=', 'admin_only').orderBy('seq', 'desc').executeTakeFirst();
      assert.ok(refusal, 'the refusal is audited');
      assert.equal(refusal.outcome, 'denied');
    });
  });
}
