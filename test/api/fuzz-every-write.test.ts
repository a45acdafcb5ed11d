/**
 * Never a 500 for bad input, on every write route the server has: the route table says which
 * routes write, the OpenAPI document says which fields each takes, and every field of every body
 * gets every hostile value in turn. A new write route is covered the day it is registered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';
import { assertNoServerErrors } from '../helpers/fuzz.js';

/** One of each resource, so that id 1 exists wherever a path names one. */
async function seed(t: TestApp, token: string): Promise<void> {
  const steps: Array<[string, Record<string, unknown>]> = [
    ['/api/v1/components/groups', { name: 'group', visible: 1 }],
    ['/api/v1/components', { name: 'component', status: 1, group_id: 1 }],
    ['/api/v1/incidents/templates', { name: 'template', template: 'Hello {{ name }}' }],
    ['/api/v1/incidents', { name: 'incident', message: 'm', status: 1, component_id: 1, component_status: 2 }],
    ['/api/v1/incidents/1/updates', { status: 2, message: 'update' }],
    ['/api/v1/metrics', { name: 'metric', suffix: 'ms', default_value: 0 }],
    ['/api/v1/metrics/1/points', { value: 1 }],
    ['/api/v1/schedules', { name: 'schedule', status: 0, scheduled_at: '2026-12-01 02:00' }],
    ['/api/v1/subscribers', { email: 'fuzz@example.com', components: [1] }],
  ];
  for (const [url, body] of steps) {
    const response = await t.request({ method: 'POST', url, token, body });
    assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
  }
}

/** A plausible value for each property of a body schema, from its type. */
function plausible(schema: { type?: string | string[]; minimum?: number; anyOf?: unknown[] }): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'integer' || type === 'number') return Math.max(1, schema.minimum ?? 1);
  if (type === 'boolean') return true;
  if (type === 'object') return {};
  if (type === 'array') return [];
  return 'text';
}

for (const dialect of await dialects()) {
  describe(`fuzzing every write route (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
      await seed(t, admin);
    });
    after(() => t.close());

    it('answers hostile values in every field of every POST and PUT without a 5xx', async () => {
      const doc = json(await t.request({ url: '/api/v1/openapi.json' }));
      const writes = t.server.app.routeTable.filter((r) => (r.method === 'POST' || r.method === 'PUT') && r.url.startsWith('/api/v1'));
      assert.ok(writes.length >= 16, `only ${writes.length} write routes`);
      for (const route of writes) {
        const openApiPath = route.url.replace(/:([a-z_]+)/g, '{$1}');
        const operation = doc.paths[openApiPath]?.[route.method.toLowerCase()];
        const properties = (operation?.requestBody?.content?.['application/json']?.schema?.properties ?? {}) as Record<string, { type?: string }>;
        assert.ok(Object.keys(properties).length > 0, `${route.method} ${route.url} documents no body fields`);
        const base = Object.fromEntries(Object.entries(properties).map(([name, schema]) => [name, plausible(schema)]));
        await assertNoServerErrors(t, { method: route.method, url: route.url.replace(/:[a-z_]+/g, '1'), token: admin }, base);
      }
    });
  });
}
