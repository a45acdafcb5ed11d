/**
 * The key review and narrowing, from history built through real requests (from several client
 * addresses): the findings and suggestions per key, `narrow` applied and then enforced, and a
 * narrowing tried in report-only mode first (audited would-be refusals; applied after a quiet
 * period, not after one with a refusal). The review reads audit data only and shows no token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scopeOfAction } from '../../src/features/keys/keys.review.js';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const DAY = 86_400_000;

for (const dialect of await dialects()) {
  describe(`key review (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    let a: number;
    let b: number;
    const tokens: string[] = [];
    // Looked up on the database, not with a request: a request would be a use of the key.
    const keyIdOf = async (token: string) => (await t.server.keys.lookup([token])).get(token)!.id;

    function call(method: string, url: string, token: string, ip: string, body?: unknown) {
      return t.server.app.inject({ method: method as 'GET', url, remoteAddress: ip, headers: { 'x-cachet-token': token, accept: 'application/json' }, ...(body ? { payload: body } : {}) });
    }
    async function key(scopes: string[]) {
      const token = await t.key(scopes);
      tokens.push(token);
      return { token, id: await keyIdOf(token) };
    }
    async function review() {
      const response = await call('GET', '/api/v1/keys/review', admin, '127.0.0.1');
      assert.equal(response.statusCode, 200, response.body);
      for (const token of tokens) assert.ok(!response.body.includes(token) && !response.body.includes(token.slice(12)), 'no token in the review');
      return json(response).data as Array<{ id: number; findings: Array<{ code: string; severity: string }>; suggestion: { scopes: string[]; resources: Record<string, number[]> | null; allowed_ips: string[] | null } | null; usage: { shadow_denials: number } }>;
    }
    const codes = (entry: { findings: Array<{ code: string }> }) => entry.findings.map((f) => f.code).sort();

    let star: { token: string; id: number };
    let never: { token: string; id: number };
    let spread: { token: string; id: number };

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
      tokens.push(admin);
      a = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'A', status: 1 } })).data.id;
      b = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'B', status: 1 } })).data.id;
      star = await key(['*']);
      never = await key(['components.read']);
      spread = await key(['components.manage']);
      // The `*` key only reads components, from one address.
      assert.equal((await call('GET', '/api/v1/components', star.token, '10.0.0.5')).statusCode, 200);
      assert.equal((await call('GET', `/api/v1/components/${a}`, star.token, '10.0.0.5')).statusCode, 200);
      // The spread key: two addresses, two component ids, a read and a write.
      assert.equal((await call('GET', `/api/v1/components/${a}`, spread.token, '10.0.0.6')).statusCode, 200);
      assert.equal((await call('PUT', `/api/v1/components/${b}`, spread.token, '10.0.0.7', { status: 2 })).statusCode, 200);
    });
    after(() => t.close());

    it('derives from each event the scope its route declares, for every API route', () => {
      const wrong: string[] = [];
      for (const route of t.server.app.routeTable) {
        const access = route.access;
        if (!access || !route.url.startsWith('/api') || route.method === 'HEAD') continue;
        const path = route.url.replace(/:[a-z]+/g, '7');
        const derived = scopeOfAction({ action: access.action, key_id: 1, resource_id: route.url.includes(':') ? '7' : null, path });
        const declared = access.scope === 'public' ? null : access.scope;
        if (derived !== declared) wrong.push(`${route.method} ${route.url}: ${String(derived)} instead of ${String(declared)}`);
      }
      assert.deepEqual(wrong, []);
    });

    it('names exactly the expected findings and suggestions', async () => {
      const all = await review();
      const byId = new Map(all.map((r) => [r.id, r]));
      const s = byId.get(star.id)!;
      assert.deepEqual(codes(s), ['no_ip_restriction', 'no_purpose', 'wildcard']);
      assert.equal(s.findings.find((f) => f.code === 'wildcard')!.severity, 'high');
      assert.deepEqual(s.suggestion, { scopes: ['components.read'], resources: null, allowed_ips: ['10.0.0.5/32'] }, 'it listed components, so no resource limit is suggested');
      const n = byId.get(never.id)!;
      assert.deepEqual(codes(n), ['never_used', 'no_purpose']);
      assert.equal(n.suggestion, null, 'an unused key is never narrowed to nothing');
      const p = byId.get(spread.id)!;
      assert.deepEqual(codes(p), ['no_ip_restriction', 'no_purpose', 'no_resource_limit']);
      assert.deepEqual(p.suggestion, { scopes: ['components.manage'], resources: { components: [a, b].sort((x, y) => x - y) }, allowed_ips: ['10.0.0.6/32', '10.0.0.7/32'] });
    });

    it('applies a narrowing: the `*` key becomes components.read from its one address, and its next out-of-scope request is refused', async () => {
      const dry = await call('POST', `/api/v1/keys/${star.id}/narrow`, admin, '127.0.0.1', {});
      assert.equal(dry.statusCode, 200, dry.body);
      assert.deepEqual(json(dry).data.changes, { scopes: [['*'], ['components.read']], allowed_ips: [null, ['10.0.0.5/32']] });
      assert.equal(json(dry).data.applied, false);
      assert.deepEqual((await t.server.keys.show(star.id))!.scopes, ['*'], 'a dry run changes nothing');
      const applied = await call('POST', `/api/v1/keys/${star.id}/narrow`, admin, '127.0.0.1', { apply: true });
      assert.equal(applied.statusCode, 200, applied.body);
      const view = (await t.server.keys.show(star.id))!;
      assert.deepEqual([view.scopes, view.allowed_ips], [['components.read'], ['10.0.0.5/32']]);
      assert.equal((await call('GET', '/api/v1/components', star.token, '10.0.0.5')).statusCode, 200);
      assert.equal((await call('POST', '/api/v1/components', star.token, '10.0.0.5', { name: 'C', status: 1 })).statusCode, 403);
      assert.equal((await call('GET', '/api/v1/components', star.token, '10.0.0.9')).statusCode, 403);
      // The dry run is an event too (what was looked at), without changes; the applied narrowing is one change.
      const narrowed = await t.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'keys.narrow').where('resource_id', '=', String(star.id)).orderBy('seq').execute();
      assert.deepEqual(narrowed.map((e) => e.changes === null), [true, false]);
      const event = narrowed[1]!;
      assert.deepEqual(JSON.parse(event.changes!).scopes, [['*'], ['components.read']]);
      // Narrowing an unused key is refused: there is nothing to narrow it to.
      assert.equal((await call('POST', `/api/v1/keys/${never.id}/narrow`, admin, '127.0.0.1', { apply: true })).statusCode, 409);
    });

    it('refuses a narrowing to a key without keys.manage, and audits the refusal', async () => {
      const reader = await key(['keys.read']);
      assert.equal((await call('POST', `/api/v1/keys/${spread.id}/narrow`, reader.token, '127.0.0.1', { apply: true })).statusCode, 403);
      assert.equal((await call('GET', '/api/v1/keys/review', reader.token, '127.0.0.1')).statusCode, 200);
    });

    describe('report-only (shadow) narrowing', () => {
      it('audits every request the narrower key would refuse, serves it, and does not apply the narrowing at the end', async () => {
        const k = await key(['components.manage']);
        assert.equal((await call('GET', `/api/v1/components/${a}`, k.token, '10.0.0.8')).statusCode, 200);
        const started = await call('POST', `/api/v1/keys/${k.id}/narrow`, admin, '127.0.0.1', { shadow: '14d' });
        assert.equal(started.statusCode, 200, started.body);
        assert.deepEqual(json(started).data.shadow.scopes, ['components.read']);
        // During the period: a write the narrowed key could not make still succeeds, and is audited as a would-be refusal.
        const write = await call('PUT', `/api/v1/components/${a}`, k.token, '10.0.0.8', { status: 3 });
        assert.equal(write.statusCode, 200, write.body);
        const elsewhere = await call('GET', `/api/v1/components/${b}`, k.token, '10.0.0.99');
        assert.equal(elsewhere.statusCode, 200);
        const shadowed = await t.database.db.selectFrom('audit_events').select(['action', 'outcome', 'reason']).where('key_id', '=', k.id).where('reason', 'like', 'shadow_denied%').orderBy('seq').execute();
        assert.deepEqual(shadowed, [
          { action: 'components.update', outcome: 'allowed', reason: 'shadow_denied: scope components.manage' },
          { action: 'components.show', outcome: 'allowed', reason: 'shadow_denied: address 10.0.0.99' },
        ]);
        const during = (await review()).find((r) => r.id === k.id)!;
        assert.equal(during.usage.shadow_denials, 2);
        assert.ok(codes(during).includes('shadow_denied') && codes(during).includes('shadow_running'));
        t.clock.advance(15 * DAY);
        await t.server.sweepKeyExpiry();
        const after = (await t.server.keys.show(k.id))!;
        assert.deepEqual(after.scopes, ['components.manage'], 'a period with refusals is not applied');
        const row = await t.database.db.selectFrom('api_keys').select(['shadow', 'shadow_result']).where('id', '=', k.id).executeTakeFirstOrThrow();
        assert.equal(row.shadow, null);
        assert.equal(JSON.parse(row.shadow_result!).outcome, 'cancelled');
        assert.equal(JSON.parse(row.shadow_result!).denials, 2);
      });

      it('applies the narrowing after a quiet period, and the key is then held to it', async () => {
        const k = await key(['components.manage', 'incidents.read']);
        assert.equal((await call('GET', `/api/v1/components/${a}`, k.token, '10.0.1.1')).statusCode, 200);
        assert.equal((await call('POST', `/api/v1/keys/${k.id}/narrow`, admin, '127.0.0.1', { shadow: '7d' })).statusCode, 200);
        t.clock.advance(DAY);
        assert.equal((await call('GET', `/api/v1/components/${a}`, k.token, '10.0.1.1')).statusCode, 200);
        t.clock.advance(7 * DAY);
        await t.server.sweepKeyExpiry();
        const view = (await t.server.keys.show(k.id))!;
        assert.deepEqual([view.scopes, view.allowed_ips, view.resources], [['components.read'], ['10.0.1.1/32'], { components: [a] }]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal((await call('PUT', `/api/v1/components/${a}`, k.token, '10.0.1.1', { status: 1 })).statusCode, 403);
        assert.equal((await call('GET', `/api/v1/components/${b}`, k.token, '10.0.1.1')).statusCode, 403);
        const events = await t.database.db.selectFrom('audit_events').select(['action', 'changes']).where('resource_id', '=', String(k.id)).where('action', 'in', ['keys.shadow', 'keys.narrow']).orderBy('seq').execute();
        // The request that started the period (its route's action, the shadow in its changes), its end, and the narrowing applied.
        assert.deepEqual(events.map((e) => e.action), ['keys.narrow', 'keys.shadow', 'keys.narrow']);
        assert.equal(JSON.parse(events[0]!.changes!).shadow[0], null);
        assert.deepEqual(JSON.parse(events[2]!.changes!).scopes, [['components.manage', 'incidents.read'], ['components.read']]);
      });
    });
  });
}
