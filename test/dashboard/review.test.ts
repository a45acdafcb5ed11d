/** The key review in the dashboard: an admin sees the findings and narrows a key, at once or report-only; a user may not. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';
import { createUser, visitor, type Visitor } from '../helpers/dashboard.js';

for (const dialect of await dialects()) {
  describe(`dashboard key review (${dialect})`, () => {
    let t: TestApp;
    let admin: Visitor;
    let ids: number[];
    let tokens: string[];

    before(async () => {
      t = await buildTestApp(dialect);
      await createUser(t, 'admin@example.test', 'admin');
      await createUser(t, 'user@example.test', 'user');
      admin = visitor(t, '10.2.0.1');
      await admin.signIn('admin@example.test');
      tokens = [await t.key(['components.manage']), await t.key(['components.manage']), await t.key(['incidents.read'])];
      ids = await Promise.all(tokens.map(async (token) => (await t.server.keys.lookup([token])).get(token)!.id));
      for (const token of tokens.slice(0, 2)) assert.equal((await t.request({ url: '/api/v1/components', token })).statusCode, 200);
    });
    after(() => t.close());

    it('shows every key with findings, escapes what it shows, and never a token', async () => {
      const page = await admin.get('/dashboard/keys/review');
      assert.equal(page.statusCode, 200);
      for (const id of ids) assert.match(page.body, new RegExp(`href="/dashboard/keys/${id}"`));
      assert.match(page.body, /unused_scopes/);
      assert.match(page.body, /never_used/);
      for (const token of tokens) assert.ok(!page.body.includes(token.slice(12)));
    });

    it('narrows a key now, and starts a report-only narrowing of another, each audited with the admin as actor', async () => {
      const now = await admin.submit(`/dashboard/keys/${ids[0]}/narrow`, { mode: 'apply' }, '/dashboard/keys/review');
      assert.equal(now.statusCode, 303);
      assert.deepEqual((await t.server.keys.show(ids[0]!))!.scopes, ['components.read']);
      const shadow = await admin.submit(`/dashboard/keys/${ids[1]}/narrow`, { mode: 'shadow', for: '7d' }, '/dashboard/keys/review');
      assert.equal(shadow.statusCode, 303);
      const row = await t.database.db.selectFrom('api_keys').select(['scopes', 'shadow']).where('id', '=', ids[1]!).executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(row.scopes), ['components.manage'], 'report-only: the key is unchanged');
      assert.deepEqual(JSON.parse(row.shadow!).scopes, ['components.read']);
      const events = await t.database.db.selectFrom('audit_events').select(['action', 'actor_type', 'resource_id']).where('action', 'in', ['keys.narrow', 'keys.shadow']).orderBy('seq').execute();
      assert.deepEqual(events.map((e) => [e.action, e.actor_type, e.resource_id]), [['keys.narrow', 'user', String(ids[0])], ['keys.shadow', 'user', String(ids[1])]]);
    });

    it('refuses a user (403, audited)', async () => {
      const user = visitor(t, '10.2.0.2');
      await user.signIn('user@example.test');
      assert.equal((await user.get('/dashboard/keys/review')).statusCode, 403);
      // Admins' areas are not offered to a user (they would answer 403).
      const userNav = (await user.get('/dashboard')).body;
      const adminNav = (await admin.get('/dashboard')).body;
      for (const area of ['settings', 'webhooks', 'notifications']) {
        assert.ok(adminNav.includes(`href="/dashboard/${area}"`), `an admin is offered ${area}`);
        assert.ok(!userNav.includes(`href="/dashboard/${area}"`), `a user is not offered ${area}`);
      }
      assert.ok(!(await user.get('/dashboard/keys')).body.includes('href="/dashboard/keys/review"'));
    });
  });
}
