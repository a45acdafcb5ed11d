/**
 * The security table, walked over the live route table so that a new route is covered the moment
 * it is registered: wrong scope → 403 naming the scope, right scope and `*` pass, no key → 401
 * unless the route serves guests, and dead or tampered keys → 401 everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RouteEntry } from '../../src/app.js';
import { LIMITABLE, limitableResourceOf } from '../../src/http/limits.js';
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

/** One record of each limitable resource, created through the API (a new limitable resource needs an entry). */
const SEEDS: Record<string, { url: string; body: Record<string, unknown> }> = {
  components: { url: '/api/v1/components', body: { name: 'limited', status: 1 } },
  'component-groups': { url: '/api/v1/components/groups', body: { name: 'limited', visible: 1 } },
  incidents: { url: '/api/v1/incidents', body: { name: 'limited', message: 'm', status: 1, visible: 1 } },
  metrics: { url: '/api/v1/metrics', body: { name: 'limited', suffix: 'ms', description: 'd', default_value: 0, display_chart: 1 } },
  schedules: { url: '/api/v1/schedules', body: { name: 'limited', status: 0, scheduled_at: '2026-12-01 10:00' } },
  'incident-templates': { url: '/api/v1/incidents/templates', body: { name: 'limited', template: 'x' } },
};

/** The route's URL with its limit parameter set to `id` (other parameters 1). */
function urlWithId(route: RouteEntry, id: number): string {
  const param = route.access!.limit!.param!;
  return route.url.replace(new RegExp(`:${param}(?=/|$)`), String(id)).replace(/:[^/]+/g, '1');
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

    it('guards a route however its path is spelled: a percent-encoded /api is the same route and gets the same refusal', async () => {
      for (const route of routes) {
        const open = (route.access!.scope === 'public' && !route.access!.requiresKey) || route.access!.guest;
        if (open) continue;
        const hasBody = route.method === 'POST' || route.method === 'PUT';
        // The router decodes %61 to "a": this URL reaches the same handler as /api/….
        const url = concreteUrl(route).replace(/^\/api/, '/%61pi');
        const response = await t.request({ method: route.method, url, ...(hasBody ? { body: {} } : {}) });
        assert.equal(response.statusCode, 401, `${route.method} ${url}: ${response.body.slice(0, 200)}`);
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

    describe('resource limits', () => {
      /** Two records of each limitable resource: keys are limited to the first. */
      const ids = new Map<string, { allowed: number; other: number }>();
      const limitedKeys = new Map<string, string>();
      before(async () => {
        for (const resource of Object.keys(LIMITABLE)) {
          const seed = SEEDS[resource];
          assert.ok(seed, `no seed for limitable resource ${resource}: add one to SEEDS`);
          const made: number[] = [];
          for (let i = 0; i < 2; i++) {
            const response = await t.request({ method: 'POST', url: seed.url, token: everything, body: { ...seed.body, name: `${String(seed.body.name)}-${i}` } });
            assert.equal(response.statusCode, 200, `seeding ${resource}: ${response.body}`);
            made.push(json(response).data.id as number);
          }
          ids.set(resource, { allowed: made[0]!, other: made[1]! });
        }
      });
      /** A key with the route's scope, limited to the first record of the route's resource. */
      async function limitedKey(route: RouteEntry): Promise<string> {
        const { scope, limit } = route.access!;
        const name = `${scope}|${limit!.resource}`;
        if (!limitedKeys.has(name)) limitedKeys.set(name, await t.key([scope], { resources: { [limit!.resource]: [ids.get(limit!.resource)!.allowed] } }));
        return limitedKeys.get(name)!;
      }
      const limitedRoutes = () => routes.filter((r) => r.access?.limit);

      it('every route of a limitable resource declares its limit', () => {
        assert.ok(limitedRoutes().length >= 30, `only ${limitedRoutes().length} limited routes`);
        for (const route of routes) {
          const scope = route.access!.scope;
          const resource = scope === 'public' ? null : limitableResourceOf(scope.split('.')[0]!);
          assert.equal(route.access!.limit?.resource ?? null, resource, `${route.method} ${route.url}`);
        }
      });

      it('every list of a limited resource shows only the allowed ids, and its count agrees', async () => {
        const lists = limitedRoutes().filter((r) => r.access!.limit!.lists);
        assert.ok(lists.length >= Object.keys(LIMITABLE).length, 'a limitable resource without a list route');
        for (const route of lists) {
          const { allowed } = ids.get(route.access!.limit!.resource)!;
          const all = json(await t.request({ url: route.url, token: everything, query: { per_page: '1000' } }));
          assert.ok(all.meta.pagination.total >= 2, `${route.url}: the unlimited key should see both records`);
          const response = await t.request({ url: route.url, token: await limitedKey(route), query: { per_page: '1' } });
          assert.equal(response.statusCode, 200, `${route.url}: ${response.body}`);
          const body = json(response);
          assert.deepEqual(body.data.map((item: { id: number }) => item.id), [allowed], `${route.url} shows ids outside the limit`);
          assert.equal(body.meta.pagination.total, 1, `${route.url}: total counts ids outside the limit`);
          assert.equal(body.meta.pagination.total_pages, 1, `${route.url}: pages count ids outside the limit`);
        }
      });

      it('lets a limited key act on its id, refuses another id (403 resource_denied) and refuses creates', async () => {
        for (const route of limitedRoutes()) {
          const limit = route.access!.limit!;
          const { allowed, other } = ids.get(limit.resource)!;
          const token = await limitedKey(route);
          const hasBody = route.method === 'POST' || route.method === 'PUT';
          const sendTo = (url: string) => t.request({ method: route.method, url, token, ...(hasBody ? { body: {} } : {}) });
          if (limit.lists) continue;
          if (limit.creates) {
            const response = await sendTo(route.url);
            assert.equal(response.statusCode, 403, `${route.method} ${route.url} create by a limited key: ${response.body}`);
            assert.match(json(response).errors[0].detail, new RegExp(`limited to ${limit.resource} ${allowed}\\b`));
            continue;
          }
          const refusedResponse = await sendTo(urlWithId(route, other));
          assert.equal(refusedResponse.statusCode, 403, `${route.method} ${urlWithId(route, other)}: ${refusedResponse.body}`);
          assert.match(json(refusedResponse).errors[0].detail, new RegExp(`limited to ${limit.resource} ${allowed}\\b`));
          const allowedResponse = await sendTo(urlWithId(route, allowed));
          assert.ok(![401, 403].includes(allowedResponse.statusCode), `${route.method} ${urlWithId(route, allowed)}: ${allowedResponse.statusCode} ${allowedResponse.body}`);
        }
        // The refusals are audited with their reason.
        const events = await t.database.db.selectFrom('audit_events').select(['reason', 'outcome']).where('reason', '=', 'resource_denied').execute();
        assert.ok(events.length > 0 && events.every((e) => e.outcome === 'denied'));
      });
    });

    it('answers a path that is no route with 404, with or without a key, with or without a body', async () => {
      for (const [method, token, body] of [
        ['GET', undefined, undefined],
        ['GET', everything, undefined],
        ['POST', undefined, { status: 1 }],
        ['POST', everything, { component_status: 1 }],
        ['POST', everything, undefined],
      ] as const) {
        const response = await t.request({ method, url: '/api/v1/no-such-route', token, body });
        assert.equal(response.statusCode, 404, `${method} ${token ? 'with' : 'without'} a key: ${response.body}`);
      }
    });

    it('answers 400, not 500, to a write without a body on a route whose fields need more scopes', async () => {
      for (const method of ['POST', 'PUT'] as const) {
        const response = await t.request({ method, url: method === 'POST' ? '/api/v1/incidents' : '/api/v1/incidents/1', token: everything });
        assert.ok([400, 404].includes(response.statusCode), `${method}: ${response.statusCode} ${response.body}`);
      }
      const post = await t.request({ method: 'POST', url: '/api/v1/incidents', token: everything });
      assert.equal(post.statusCode, 400, post.body);
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
