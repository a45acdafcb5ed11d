/**
 * Resource limits on keys (a key limited to listed ids per resource), end to end through the API:
 * refusals on other ids and on creates, filtered lists, nested routes, body fields that reach a
 * limited resource, and setting limits on keys without escalation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { createServer } from '../../src/main.js';
import { buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

for (const dialect of await dialects()) {
  describe(`resource limits (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    const component: number[] = [];
    const incident: number[] = [];
    const metric: number[] = [];

    async function post(url: string, body: object, token = admin): Promise<number> {
      const response = await t.request({ method: 'POST', url, token, body });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data.id as number;
    }

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
      for (let i = 0; i < 3; i++) component.push(await post('/api/v1/components', { name: `c${i}`, status: 1 }));
      for (let i = 0; i < 2; i++) incident.push(await post('/api/v1/incidents', { name: `i${i}`, message: 'm', status: 1, visible: 1 }));
      for (let i = 0; i < 2; i++) metric.push(await post('/api/v1/metrics', { name: `m${i}`, suffix: 'ms', description: 'd', default_value: 0 }));
    });
    after(() => t.close());

    it('a components.manage key limited to one component may act on it and on no other', async () => {
      const [mine, other] = component as [number, number];
      const key = await t.key(['components.manage', 'components.delete'], { resources: { components: [mine] } });
      assert.equal((await t.request({ url: `/api/v1/components/${mine}`, token: key })).statusCode, 200);
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/components/${mine}`, token: key, body: { status: 2 } })).statusCode, 200);
      for (const [method, body] of [['GET', undefined], ['PUT', { status: 4 }], ['DELETE', undefined]] as const) {
        const response = await t.request({ method, url: `/api/v1/components/${other}`, token: key, body });
        assert.equal(response.statusCode, 403, `${method}: ${response.body}`);
        assert.equal(json(response).errors[0].detail, `This API key is limited to components ${mine}: it may not act on components ${other}.`);
      }
      const create = await t.request({ method: 'POST', url: '/api/v1/components', token: key, body: { name: 'new', status: 1 } });
      assert.equal(create.statusCode, 403);
      assert.match(json(create).errors[0].detail, /limited to components .*may not create components/);
      // Nothing changed on the refused component, and nothing was created.
      const shown = json(await t.request({ url: `/api/v1/components/${other}`, token: admin })).data;
      assert.equal(shown.status, 1);
      assert.equal(json(await t.request({ url: '/api/v1/components', token: admin })).meta.pagination.total, 3);
      const denied = await t.database.db.selectFrom('audit_events').select(['action', 'reason', 'resource_id']).where('reason', '=', 'resource_denied').execute();
      assert.ok(denied.some((e) => e.action === 'components.update' && e.resource_id === String(other)));
    });

    it('lists only the allowed ids, with a total and pages that agree', async () => {
      const key = await t.key(['components.read'], { resources: { components: [component[0]!, component[2]!] } });
      const page1 = json(await t.request({ url: '/api/v1/components', token: key, query: { per_page: '1' } }));
      assert.deepEqual(page1.data.map((c: { id: number }) => c.id), [component[0]]);
      assert.equal(page1.meta.pagination.total, 2);
      assert.equal(page1.meta.pagination.total_pages, 2);
      const page2 = json(await t.request({ url: '/api/v1/components', token: key, query: { per_page: '1', page: '2' } }));
      assert.deepEqual(page2.data.map((c: { id: number }) => c.id), [component[2]]);
      assert.equal(page2.meta.pagination.links.next_page, null);
      // A filter on an id outside the limit finds nothing.
      const filtered = json(await t.request({ url: '/api/v1/components', token: key, query: { id: String(component[1]) } }));
      assert.equal(filtered.meta.pagination.total, 0);
      // A limit on another resource leaves this list alone.
      const other = await t.key(['components.read'], { resources: { incidents: [incident[0]!] } });
      assert.equal(json(await t.request({ url: '/api/v1/components', token: other })).meta.pagination.total, 3);
    });

    it("keeps components outside a key's limit out of the groups it reads", async () => {
      const group = await post('/api/v1/components/groups', { name: 'hidden team', visible: 0 });
      const members: number[] = [];
      for (let i = 0; i < 2; i++) members.push(await post('/api/v1/components', { name: `g${i}`, status: 1, group_id: group }));
      const key = await t.key(['component-groups.read'], { resources: { components: [members[0]!] } });
      const shown = json(await t.request({ url: `/api/v1/components/groups/${group}`, token: key })).data;
      assert.deepEqual(shown.enabled_components.map((c: { id: number }) => c.id), [members[0]]);
      const listed = json(await t.request({ url: '/api/v1/components/groups', token: key })).data.find((g: { id: number }) => g.id === group);
      assert.deepEqual(listed.enabled_components.map((c: { id: number }) => c.id), [members[0]]);
      const unlimited = json(await t.request({ url: `/api/v1/components/groups/${group}`, token: admin })).data;
      assert.equal(unlimited.enabled_components.length, 2);
      for (const id of members) await t.request({ method: 'DELETE', url: `/api/v1/components/${id}`, token: admin });
    });

    it('answers 500 rather than an unfiltered list when a list handler forgets allowedIds', async () => {
      const fresh = await createServer(testConfig(), createLogger('silent'), t.database, t.clock);
      try {
        fresh.app.get(
          '/api/v1/components-unfiltered',
          { schema: { operationId: 'listComponentsUnfiltered' }, config: { access: { scope: 'components.read', action: 'components.list', limit: { resource: 'components', lists: true } } } },
          async () => ({ data: component }),
        );
        await fresh.app.ready();
        const limited = await fresh.keys.create({ name: 'limited', scopes: ['components.read'], resources: { components: [component[0]!] }, createdBy: 'cli' });
        const unlimited = await fresh.keys.create({ name: 'unlimited', scopes: ['components.read'], createdBy: 'cli' });
        assert.ok(limited.ok && unlimited.ok);
        const send = (token: string) => fresh.app.inject({ url: '/api/v1/components-unfiltered', headers: { accept: 'application/json', 'x-cachet-token': token } });
        const refused = await send(limited.token);
        assert.equal(refused.statusCode, 500);
        assert.equal(json(refused).data, undefined, 'the unfiltered list leaked');
        assert.equal((await send(unlimited.token)).statusCode, 200);
      } finally {
        await fresh.close();
      }
    });

    it('limits incident updates by their incident and metric points by their metric', async () => {
      const [mine, other] = incident as [number, number];
      const key = await t.key(['incident-updates.manage'], { resources: { incidents: [mine] } });
      const added = await t.request({ method: 'POST', url: `/api/v1/incidents/${mine}/updates`, token: key, body: { status: 2, message: 'looking' } });
      assert.equal(added.statusCode, 200, added.body);
      const refused = await t.request({ method: 'POST', url: `/api/v1/incidents/${other}/updates`, token: key, body: { status: 2, message: 'looking' } });
      assert.equal(refused.statusCode, 403);
      assert.match(json(refused).errors[0].detail, new RegExp(`limited to incidents ${mine}: it may not act on incidents ${other}`));
      assert.equal((await t.request({ url: `/api/v1/incidents/${other}/updates`, token: key })).statusCode, 403);

      const [m1, m2] = metric as [number, number];
      const points = await t.key(['metric-points.manage'], { resources: { metrics: [m1] } });
      assert.equal((await t.request({ method: 'POST', url: `/api/v1/metrics/${m1}/points`, token: points, body: { value: 3 } })).statusCode, 200);
      const denied = await t.request({ method: 'POST', url: `/api/v1/metrics/${m2}/points`, token: points, body: { value: 3 } });
      assert.equal(denied.statusCode, 403);
      assert.equal(json(denied).errors[0].title, 'Forbidden');
      assert.equal((await t.request({ url: `/api/v1/metrics/${m2}/points`, token: points })).statusCode, 403);
    });

    it("an incident write that names a component checks the key's components limit", async () => {
      const [mine, other] = component as [number, number];
      const key = await t.key(['incidents.manage', 'components.manage'], { resources: { components: [mine] } });
      const outside = await t.request({ method: 'POST', url: '/api/v1/incidents', token: key, body: { name: 'x', message: 'm', status: 1, visible: 1, component_id: other, component_status: 4 } });
      assert.equal(outside.statusCode, 403, outside.body);
      assert.match(json(outside).errors[0].detail, new RegExp(`limited to components ${mine}: it may not set component_id to ${other}`));
      assert.equal(json(await t.request({ url: `/api/v1/components/${other}`, token: admin })).data.status, 1, 'the refused write changed the component');
      const inside = await t.request({ method: 'POST', url: '/api/v1/incidents', token: key, body: { name: 'x', message: 'm', status: 1, visible: 1, component_id: mine, component_status: 3 } });
      assert.equal(inside.statusCode, 200, inside.body);
      const id = json(inside).data.id as number;
      // component_status alone changes the incident's own component, which the key must name.
      const bare = await t.request({ method: 'PUT', url: `/api/v1/incidents/${id}`, token: key, body: { component_status: 2 } });
      assert.equal(bare.statusCode, 403);
      assert.match(json(bare).errors[0].detail, /may not set component_status without naming component_id/);
      const named = await t.request({ method: 'PUT', url: `/api/v1/incidents/${id}`, token: key, body: { component_id: mine, component_status: 2 } });
      assert.equal(named.statusCode, 200, named.body);
      // A key limited on incidents only may not create one, but may update its own.
      const incidentsOnly = await t.key(['incidents.manage'], { resources: { incidents: [id] } });
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/incidents/${id}`, token: incidentsOnly, body: { name: 'renamed' } })).statusCode, 200);
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/incidents', token: incidentsOnly, body: { name: 'n', message: 'm', status: 1 } })).statusCode, 403);
    });

    it('validates resources on key create: known names, positive whole ids, at most 100', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ widgets: [1] }, /widgets.{0,3} cannot be limited/],
        [{ components: [0] }, /at least 1|positive whole numbers/],
        [{ components: [] }, /fewer than 1|at least one id/],
        [{ components: Array.from({ length: 101 }, (_, i) => i + 1) }, /more than 100/],
        [{ components: ['x'] }, /integer|positive whole numbers/],
        [{}, /empty/],
        [[1], /object/],
      ];
      for (const [resources, message] of cases) {
        const response = await t.request({ method: 'POST', url: '/api/v1/keys', token: admin, body: { purpose: 'test', name: 'bad', scopes: ['components.read'], resources } });
        assert.equal(response.statusCode, 400, `${JSON.stringify(resources)}: ${response.body}`);
        assert.match(JSON.stringify(json(response).errors[0].meta?.details ?? json(response).errors[0].detail), message, JSON.stringify(resources));
      }
      const created = await t.request({ method: 'POST', url: '/api/v1/keys', token: admin, body: { purpose: 'test', name: 'ok', scopes: ['components.read'], resources: { components: [9, 7, 7] } } });
      assert.equal(created.statusCode, 200, created.body);
      assert.deepEqual(json(created).data.resources, { components: [7, 9] });
      const shown = json(await t.request({ url: `/api/v1/keys/${json(created).data.id}`, token: admin })).data;
      assert.deepEqual(shown.resources, { components: [7, 9] });
    });

    it('a limited key cannot mint, widen or lift a limit beyond its own', async () => {
      const [a, b] = component as [number, number];
      const limited = await t.key(['components.read', 'keys.manage', 'keys.read'], { resources: { components: [a] } });
      const attempt = (body: object) => t.request({ method: 'POST', url: '/api/v1/keys', token: limited, body: { purpose: 'test', name: 'child', scopes: ['components.read'], ...body } });
      for (const body of [{}, { resources: { components: [a, b] } }, { resources: { incidents: [1] } }]) {
        const response = await attempt(body);
        assert.equal(response.statusCode, 403, `${JSON.stringify(body)}: ${response.body}`);
        assert.match(json(response).errors[0].detail, /A key cannot do this: .*components/);
      }
      const child = await attempt({ resources: { components: [a], incidents: [1] } });
      assert.equal(child.statusCode, 200, child.body);
      const childId = json(child).data.id as number;
      const lift = await t.request({ method: 'PUT', url: `/api/v1/keys/${childId}`, token: limited, body: { resources: {} } });
      assert.equal(lift.statusCode, 403, lift.body);
      const widen = await t.request({ method: 'PUT', url: `/api/v1/keys/${childId}`, token: limited, body: { resources: { components: [b] } } });
      assert.equal(widen.statusCode, 403, widen.body);
      // An unlimited key it may not touch at all.
      const adminId = (await t.server.keys.list()).find((k) => admin.startsWith(k.prefix))!.id;
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/keys/${adminId}`, token: limited, body: { name: 'mine now' } })).statusCode, 403);
      // A narrower change is allowed; rotation keeps the limit.
      const narrowed = await t.request({ method: 'PUT', url: `/api/v1/keys/${childId}`, token: limited, body: { resources: { components: [a] } } });
      assert.equal(narrowed.statusCode, 200, narrowed.body);
      assert.deepEqual(json(narrowed).data.resources, { components: [a] });
      const rotated = await t.request({ method: 'POST', url: `/api/v1/keys/${childId}/rotate`, token: limited, body: {} });
      assert.equal(rotated.statusCode, 200, rotated.body);
      assert.deepEqual(json(rotated).data.resources, { components: [a] });
    });

    it('a change to a key’s limit takes effect on the next request', async () => {
      const [a, b] = component as [number, number];
      const created = await t.request({ method: 'POST', url: '/api/v1/keys', token: admin, body: { purpose: 'test', name: 'moving', scopes: ['components.read'], resources: { components: [a] } } });
      const { id, token } = json(created).data as { id: number; token: string };
      assert.equal((await t.request({ url: `/api/v1/components/${b}`, token })).statusCode, 403);
      const moved = await t.request({ method: 'PUT', url: `/api/v1/keys/${id}`, token: admin, body: { resources: { components: [b] } } });
      assert.equal(moved.statusCode, 200, moved.body);
      assert.equal((await t.request({ url: `/api/v1/components/${b}`, token })).statusCode, 200);
      assert.equal((await t.request({ url: `/api/v1/components/${a}`, token })).statusCode, 403);
      await t.request({ method: 'PUT', url: `/api/v1/keys/${id}`, token: admin, body: { resources: {} } });
      assert.equal((await t.request({ url: `/api/v1/components/${a}`, token })).statusCode, 200);
    });
  });
}
