/**
 * The security table, walked over the live route table so that a new route is covered the moment
 * it is registered: wrong scope → 403 naming the scope, right scope and `*` pass, no key → 401
 * unless the route serves guests, and dead or tampered keys → 401 everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RouteEntry } from '../../src/app.js';
import { ALL_SCOPES, isScope, type Scope } from '../../src/http/scopes.js';
import { generateToken } from '../../src/infra/token.js';
import { createLogger } from '../../src/logger.js';
import { createServer } from '../../src/main.js';
import { buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

/** Every scope except the one the route needs and those that imply it. */
function allBut(required: Scope): Scope[] {
  const [resource, verb] = required.split('.');
  return ALL_SCOPES.filter((s) => s !== '*' && s !== required && !(verb === 'read' && s === `${resource}.manage`));
}

function concreteUrl(route: RouteEntry): string {
  // Key 1 is the test's own `*` key: keys routes address a key that does not exist, so none is revoked or rotated.
  return route.url.replace(/:[^/]+/g, route.url.startsWith('/api/v1/keys/') ? '999999' : '1');
}

function changeOneCharacter(token: string): string {
  const i = token.length - 10;
  return token.slice(0, i) + (token[i] === 'a' ? 'b' : 'a') + token.slice(i + 1);
}

for (const dialect of await dialects()) {
  describe(`route-table security (${dialect})`, () => {
    let t: TestApp;
    let routes: RouteEntry[];
    let everything: string;

    before(async () => {
      t = await buildTestApp(dialect);
      routes = t.server.app.routeTable.filter((r) => r.url.startsWith('/api') && r.method !== 'HEAD');
      everything = await t.key(['*']);
    });
    after(() => t.close());

    function send(route: RouteEntry, token?: string) {
      const hasBody = route.method === 'POST' || route.method === 'PUT';
      return t.request({ method: route.method, url: concreteUrl(route), token, ...(hasBody ? { body: {} } : {}) });
    }

    it('finds every API route, and each declares a known scope and an action', () => {
      assert.ok(routes.length >= 14, `only ${routes.length} routes`);
      for (const route of routes) {
        assert.ok(route.access, `${route.method} ${route.url} has no access rule`);
        assert.ok(route.access.scope === 'public' || isScope(route.access.scope), `${route.method} ${route.url}: bad scope ${route.access.scope}`);
        assert.match(route.access.action, /^[a-z-]+\.[a-z]+$/, `${route.method} ${route.url}: bad action`);
        // The one write without a key is the leak report, and it says so.
        if (route.method !== 'GET' && !(route.method === 'POST' && route.url === '/api/v1/keys/revoke' && route.access.publicWrite === true)) {
          assert.notEqual(route.access.scope, 'public', `${route.method} ${route.url} is a public write`);
        }
        if (route.method !== 'GET') assert.ok(!route.access.guest, `${route.method} ${route.url} lets guests write`);
      }
    });

    it('refuses to register an /api route that declares no scope', async () => {
      const fresh = await createServer(testConfig(), createLogger('silent'), t.database);
      try {
        assert.throws(() => fresh.app.get('/api/v1/unguarded', async () => 'x'), /declares no access scope/);
        assert.doesNotThrow(() => fresh.app.get('/not-api', async () => 'x'));
      } finally {
        await fresh.close();
      }
    });

    it('gives 403 naming the scope to a key holding every scope but the one a route needs', async () => {
      const keys = new Map<Scope, string>();
      for (const route of routes) {
        const scope = route.access!.scope;
        if (scope === 'public') continue;
        if (!keys.has(scope)) keys.set(scope, await t.key(allBut(scope)));
        const response = await send(route, keys.get(scope));
        assert.equal(response.statusCode, 403, `${route.method} ${route.url} with all but ${scope}: ${response.body}`);
        assert.ok(json(response).errors[0].detail.includes(scope), `${route.method} ${route.url}: detail does not name ${scope}`);
      }
    });

    it('lets the exact scope and * through (any status but 401/403)', async () => {
      for (const route of routes) {
        const scope = route.access!.scope;
        const exact = scope === 'public' ? everything : await t.key([scope]);
        for (const token of [exact, everything]) {
          const response = await send(route, token);
          // Past the route's guard a keys route may still refuse to touch a stronger key (escalation).
          const escalation = response.statusCode === 403 && route.url.startsWith('/api/v1/keys') && json(response).errors[0].detail.startsWith('A key cannot do this');
          assert.ok(![401, 403].includes(response.statusCode) || escalation, `${route.method} ${route.url} with ${scope}: ${response.statusCode} ${response.body}`);
        }
      }
    });

    it('gives 401 without a key on every route that does not serve guests', async () => {
      for (const route of routes) {
        const response = await send(route);
        const open = (route.access!.scope === 'public' && !route.access!.requiresKey) || route.access!.guest;
        if (open) assert.notEqual(response.statusCode, 401, `${route.method} ${route.url}`);
        else {
          assert.equal(response.statusCode, 401, `${route.method} ${route.url}`);
          assert.equal(json(response).errors[0].title, 'Unauthorized');
        }
      }
    });

    it('gives 401 on every route to a tampered, unknown, expired or revoked key', async () => {
      const expiring = await t.key(['*'], { expires: '1h' });
      const revoked = await t.key(['*']);
      const revokedId = (await t.server.keys.list()).find((k) => revoked.startsWith(k.prefix) && k.status === 'active')!.id;
      assert.ok((await t.server.keys.revoke(revokedId)).ok);
      await t.server.verifier.refresh();
      t.clock.advance(2 * 3_600_000);
      const cases: Array<[string, string, RegExp]> = [
        ['tampered', changeOneCharacter(everything), /malformed|checksum/],
        ['unknown', generateToken(), /not recognised/],
        ['expired', expiring, /expired/],
        ['revoked', revoked, /revoked/],
      ];
      try {
        for (const route of routes) {
          for (const [label, token, detail] of cases) {
            const response = await send(route, token);
            assert.equal(response.statusCode, 401, `${label} key on ${route.method} ${route.url}`);
            assert.match(json(response).errors[0].detail, detail);
          }
        }
      } finally {
        t.clock.advance(-2 * 3_600_000);
      }
    });

    it('accepts the key as Authorization: Bearer as well as X-Cachet-Token', async () => {
      const bearer = await t.request({ method: 'POST', url: '/api/v1/components', headers: { authorization: `Bearer ${everything}` }, body: { name: 'bearer', status: 1 } });
      assert.equal(bearer.statusCode, 200, bearer.body);
      const basic = await t.request({ method: 'POST', url: '/api/v1/components', headers: { authorization: 'Basic dXNlcjpwYXNz' }, body: { name: 'basic', status: 1 } });
      assert.equal(basic.statusCode, 401);
      const reader = await t.key(['components.read']);
      const both = await t.request({ url: '/api/v1/components', token: reader, headers: { authorization: `Bearer ${everything}` } });
      assert.equal(both.statusCode, 401, 'two different keys must not be resolved by picking one');
      const same = await t.request({ url: '/api/v1/components', token: reader, headers: { authorization: `Bearer ${reader}` } });
      assert.equal(same.statusCode, 200);
    });
  });
}
