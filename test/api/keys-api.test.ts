/**
 * The keys API: list, show, create (token once), update, revoke, self, rotation with a grace
 * period and proof of pickup, and the unauthenticated leak report. No key can create, widen or
 * manage a key stronger than itself: every attempt is refused and changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateToken } from '../../src/infra/token.js';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const HOUR = 3_600_000;

for (const dialect of await dialects()) {
  describe(`keys API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    const count = async () => (await t.server.keys.list()).length;
    /** Creates a key through the API; a purpose is added unless the body names one (it is required). */
    async function create(token: string, body: Record<string, unknown>) {
      return t.request({ method: 'POST', url: '/api/v1/keys', token, body: 'purpose' in body ? body : { purpose: 'test', ...body } });
    }

    it('requires a purpose: none, or a blank one, is a 400 and creates nothing', async () => {
      const before = await count();
      for (const body of [{ name: 'x', scopes: ['components.read'] }, { name: 'x', scopes: ['components.read'], purpose: '   ' }]) {
        const response = await t.request({ method: 'POST', url: '/api/v1/keys', token: admin, body });
        assert.equal(response.statusCode, 400, response.body);
        assert.match(response.body, /purpose/);
      }
      assert.equal(await count(), before);
    });

    it('shows a key its own resource limit and start time (/keys/self), and records them in the create event', async () => {
      const notBefore = new Date(t.clock.now().getTime() - HOUR).toISOString();
      const response = await create(admin, { name: 'limited', scopes: ['components.read'], resources: { components: [4, 2] }, not_before: notBefore });
      assert.equal(response.statusCode, 200, response.body);
      const { id, token } = json(response).data as { id: number; token: string };
      const self = json(await t.request({ url: '/api/v1/keys/self', token })).data;
      assert.deepEqual(self.resources, { components: [2, 4] });
      assert.equal(self.not_before, notBefore);
      assert.equal(self.status, 'active');
      const event = await t.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'keys.create').where('resource_id', '=', String(id)).executeTakeFirstOrThrow();
      const changes = JSON.parse(event.changes!) as Record<string, [unknown, unknown]>;
      assert.deepEqual(changes.resources, [null, { components: [2, 4] }]);
      assert.deepEqual(changes.not_before, [null, notBefore]);
      assert.ok(!event.changes!.includes(token.slice(12)));
      const plain = json(await t.request({ url: '/api/v1/keys/self', token: admin })).data;
      assert.equal(plain.resources, null);
      assert.equal(plain.not_before, null);
    });

    it('creates a key whose token is shown once, then lists and shows it by prefix only', async () => {
      const response = await create(admin, { name: 'monitor', scopes: ['components.manage'], expires: '30d', purpose: 'uptime checks', allowed_ips: ['10.0.0.0/8', '::1'] });
      assert.equal(response.statusCode, 200, response.body);
      const created = json(response).data;
      assert.match(created.token, /^cachet_/);
      assert.equal(created.prefix, created.token.slice(0, 12));
      assert.deepEqual(created.scopes, ['components.manage']);
      assert.deepEqual(created.allowed_ips, ['10.0.0.0/8', '::1']);
      assert.equal(created.expires_at, new Date(t.clock.now().getTime() + 30 * 24 * HOUR).toISOString());
      assert.equal(created.created_by, `key:${(await t.server.keys.list())[0]!.id}`);
      const list = await t.request({ url: '/api/v1/keys', token: admin });
      assert.equal(list.statusCode, 200);
      assert.ok(!list.body.includes(created.token.slice(12)), 'a list never shows a token');
      const shown = json(await t.request({ url: `/api/v1/keys/${created.id}`, token: admin })).data;
      assert.equal(shown.token, undefined);
      assert.equal(shown.purpose, 'uptime checks');
      // The new key works, from an allowed address only.
      assert.equal((await t.request({ url: '/api/v1/components', token: created.token, headers: {} })).statusCode, 403, 'inject comes from 127.0.0.1, outside 10/8 and ::1');
      // Nothing of the token reached the audit trail.
      const events = JSON.stringify(await t.database.db.selectFrom('audit_events').selectAll().execute());
      assert.ok(!events.includes(created.token.slice(12)));
    });

    it('refuses every escalation with a 403 or 400 and creates nothing', async () => {
      const keysManager = await t.key(['keys.manage', 'components.manage']);
      const restricted = await t.key(['keys.manage', 'components.read'], { allowedIps: ['127.0.0.0/8'] });
      const before = await count();
      const attempts: Array<[string, Record<string, unknown>, number, RegExp]> = [
        [keysManager, { name: 'x', scopes: ['*'] }, 403, /scopes it does not hold: \*/],
        [keysManager, { name: 'x', scopes: ['incidents.manage'] }, 403, /incidents.manage/],
        [keysManager, { name: 'x', scopes: ['components.delete'] }, 403, /components.delete/],
        [keysManager, { name: 'x', scopes: ['components.read'], expires: '91d' }, 400, /longest key lifetime/],
        [keysManager, { name: 'x', scopes: ['components.read'], expires: '5' }, 400, /duration/],
        [keysManager, { name: 'x', scopes: ['components.nope'] }, 400, /unknown scope/],
        [keysManager, { name: 'x', scopes: ['components.read'], allowed_ips: ['10.0.0.0/33'] }, 400, /10\.0\.0\.0\/33/],
        [restricted, { name: 'x', scopes: ['components.read'] }, 403, /any address/],
        [restricted, { name: 'x', scopes: ['components.read'], allowed_ips: ['0.0.0.0/0'] }, 403, /addresses outside/],
      ];
      for (const [token, body, status, message] of attempts) {
        const response = await create(token, body);
        assert.equal(response.statusCode, status, `${JSON.stringify(body)}: ${response.body}`);
        assert.match(JSON.stringify(json(response).errors[0]), message);
      }
      assert.equal(await count(), before, 'a refused key was stored');
      // Within its own limits the restricted key may mint.
      const narrower = await create(restricted, { name: 'ok', scopes: ['components.read'], allowed_ips: ['127.0.0.1'] });
      assert.equal(narrower.statusCode, 200, narrower.body);
      // The denials are audited with their reason.
      const denied = await t.database.db.selectFrom('audit_events').select('reason').where('action', '=', 'keys.create').where('outcome', '=', 'denied').execute();
      assert.ok(denied.length >= 5 && denied.every((e) => e.reason === 'escalation_denied'));
    });

    it('does not let a key widen itself, lift its restrictions or manage a stronger key', async () => {
      const manager = await t.key(['keys.manage', 'keys.delete', 'components.read'], { allowedIps: ['127.0.0.0/8'] });
      const self = json(await t.request({ url: '/api/v1/keys/self', token: manager })).data;
      const put = (id: number, body: Record<string, unknown>) => t.request({ method: 'PUT', url: `/api/v1/keys/${id}`, token: manager, body });
      assert.equal((await put(self.id, { scopes: ['*'] })).statusCode, 403);
      assert.equal((await put(self.id, { allowed_ips: ['0.0.0.0/0', '::/0'] })).statusCode, 403);
      assert.equal((await put(self.id, { allowed_ips: ['127.0.0.0/7'] })).statusCode, 403);
      const adminId = (await t.server.keys.list()).find((k) => admin.startsWith(k.prefix))!.id;
      assert.equal((await put(adminId, { name: 'renamed' })).statusCode, 403, 'a weaker key may not change a stronger one');
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/keys/${adminId}`, token: manager })).statusCode, 403);
      const unchanged = json(await t.request({ url: '/api/v1/keys/self', token: manager })).data;
      assert.deepEqual([unchanged.scopes, unchanged.allowed_ips], [self.scopes, self.allowed_ips]);
      // Narrowing itself is allowed, and takes effect on the next request.
      assert.equal((await put(self.id, { scopes: ['keys.manage', 'keys.delete'], name: 'narrowed' })).statusCode, 200);
      assert.equal((await t.request({ url: '/api/v1/components', token: manager })).statusCode, 403, 'the dropped scope is refused at once');
      const after = json(await t.request({ url: '/api/v1/keys/self', token: manager })).data;
      assert.deepEqual(after.scopes, ['keys.manage', 'keys.delete']);
      assert.equal(after.name, 'narrowed');
    });

    it('revokes a key: refused on the very next request, audited, 409 the second time', async () => {
      const victim = json(await create(admin, { name: 'victim', scopes: ['components.read'] })).data;
      assert.equal((await t.request({ url: '/api/v1/keys/self', token: victim.token })).statusCode, 200);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/keys/${victim.id}`, token: admin })).statusCode, 204);
      const refused = await t.request({ url: '/api/v1/keys/self', token: victim.token });
      assert.equal(refused.statusCode, 401);
      assert.match(json(refused).errors[0].detail, /revoked/);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/keys/${victim.id}`, token: admin })).statusCode, 409);
      assert.equal((await t.request({ method: 'DELETE', url: '/api/v1/keys/999999', token: admin })).statusCode, 404);
      const events = await t.database.db.selectFrom('audit_events').select(['action', 'outcome']).where('resource_type', '=', 'keys').where('resource_id', '=', String(victim.id)).orderBy('seq').execute();
      assert.deepEqual(events.map((e) => `${e.action}:${e.outcome}`), ['keys.create:allowed', 'keys.revoke:allowed', 'keys.revoke:failed']);
    });

    it('rotates a key: the successor inherits everything, the old one works through the grace only', async () => {
      const old = json(await create(admin, { name: 'deployer', scopes: ['components.read'], purpose: 'CI', expires: '30d', allowed_ips: ['127.0.0.1'] })).data;
      const rotated = await t.request({ method: 'POST', url: `/api/v1/keys/${old.id}/rotate`, token: admin, body: { grace: '2h' } });
      assert.equal(rotated.statusCode, 200, rotated.body);
      const successor = json(rotated).data;
      assert.deepEqual(
        [successor.name, successor.scopes, successor.purpose, successor.allowed_ips, successor.replaces_id],
        ['deployer', ['components.read'], 'CI', ['127.0.0.1'], old.id],
      );
      assert.equal(successor.expires_at, new Date(t.clock.now().getTime() + 30 * 24 * HOUR).toISOString());
      const before = json(await t.request({ url: `/api/v1/keys/${old.id}`, token: admin })).data;
      assert.equal(before.replaced_by_id, successor.id);
      assert.equal(before.expires_at, new Date(t.clock.now().getTime() + 2 * HOUR).toISOString());
      assert.equal(before.successor_first_used_at, null, 'not picked up yet');
      assert.equal((await t.request({ method: 'POST', url: `/api/v1/keys/${old.id}/rotate`, token: admin })).statusCode, 409, 'rotated once');

      // Both work inside the grace; the successor's first use is the proof of pickup.
      assert.equal((await t.request({ url: '/api/v1/components', token: old.token })).statusCode, 200);
      assert.equal((await t.request({ url: '/api/v1/components', token: successor.token })).statusCode, 200);
      await t.server.flushKeyUsage();
      const picked = json(await t.request({ url: `/api/v1/keys/${old.id}`, token: admin })).data;
      assert.equal(picked.successor_first_used_at, t.clock.now().toISOString());

      t.clock.advance(2 * HOUR);
      const late = await t.request({ url: '/api/v1/components', token: old.token });
      assert.equal(late.statusCode, 401);
      assert.match(json(late).errors[0].detail, /rotated/);
      assert.equal((await t.request({ url: '/api/v1/components', token: successor.token })).statusCode, 200);
      t.clock.advance(-2 * HOUR);
    });

    it('never extends a grace past the old key\'s own expiry, and refuses a grace past the policy', async () => {
      const shortLived = json(await create(admin, { name: 'short', scopes: ['components.read'], expires: '1h' })).data;
      const rotated = json(await t.request({ method: 'POST', url: `/api/v1/keys/${shortLived.id}/rotate`, token: admin, body: { grace: '24h' } })).data;
      const old = json(await t.request({ url: `/api/v1/keys/${shortLived.id}`, token: admin })).data;
      assert.equal(old.expires_at, shortLived.expires_at);
      assert.ok(rotated.id > shortLived.id);
      const other = json(await create(admin, { name: 'other', scopes: ['components.read'] })).data;
      for (const grace of ['91d', 'soon']) {
        const refused = await t.request({ method: 'POST', url: `/api/v1/keys/${other.id}/rotate`, token: admin, body: { grace } });
        assert.equal(refused.statusCode, 400, grace);
      }
      const unchanged = json(await t.request({ url: `/api/v1/keys/${other.id}`, token: admin })).data;
      assert.equal(unchanged.replaced_by_id, null);
    });

    it('takes leaked tokens without a key: the same 202 for live, revoked, unknown and garbage tokens', async () => {
      const leaked = json(await create(admin, { name: 'leaked', scopes: ['components.read'] })).data;
      const bodies = new Set<string>();
      for (const tokens of [[leaked.token], [leaked.token], [generateToken()], ['garbage', 'cachet_0000']]) {
        const response = await t.request({ method: 'POST', url: '/api/v1/keys/revoke', body: { tokens } });
        assert.equal(response.statusCode, 202, response.body);
        bodies.add(response.body);
      }
      assert.equal(bodies.size, 1, 'the answer reveals nothing');
      assert.equal((await t.request({ url: '/api/v1/components', token: leaked.token })).statusCode, 401);
      const shown = json(await t.request({ url: `/api/v1/keys/${leaked.id}`, token: admin })).data;
      assert.equal(shown.status, 'revoked');
      const event = await t.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'keys.revoke').where('resource_id', '=', String(leaked.id)).executeTakeFirstOrThrow();
      assert.equal(event.actor_type, 'anonymous');
      assert.equal(JSON.stringify(await t.database.db.selectFrom('audit_events').selectAll().execute()).includes(leaked.token.slice(12)), false);
    });
  });
}
