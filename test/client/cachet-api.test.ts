/**
 * The only Cachet client on npm, `cachet-api`, driven against the real server over HTTP:
 * what it does must work unchanged, and a wrong key must fail with the 401 envelope.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

interface CachetClient {
  getComponentById(id: number): Promise<{ id: number; name: string; status: number }>;
  reportIncident(incident: Record<string, unknown>): Promise<{ data: { id: number; name: string; status: number; component_id: number } }>;
  getIncidentsByComponentId(id: number): Promise<Array<{ id: number }>>;
  publishMetricPoint(point: Record<string, unknown>): Promise<{ data: { value: number; created_at: string } }>;
  deleteIncidentById(id: number): Promise<unknown>;
}
type CachetClientConstructor = new (options: { url: string; apiKey: string; timeout?: number }) => CachetClient;

const CachetAPI = createRequire(import.meta.url)('cachet-api') as CachetClientConstructor;

for (const dialect of await dialects()) {
  describe(`cachet-api client (${dialect})`, () => {
    let t: TestApp;
    let url: string;
    let componentId: number;
    let metricId: number;

    before(async () => {
      t = await buildTestApp(dialect);
      url = await t.server.app.listen({ port: 0, host: '127.0.0.1' });
      const admin = await t.key(['*']);
      componentId = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'API', status: 1 } })).data.id;
      metricId = json(await t.request({ method: 'POST', url: '/api/v1/metrics', token: admin, body: { name: 'Latency', suffix: 'ms', default_value: 0, threshold: 5 } })).data.id;
    });
    after(() => t.close());

    it('reads a component, reports an incident with a component status, lists it, publishes a point and deletes the incident', async () => {
      const token = await t.key(['components.manage', 'incidents.manage', 'incidents.delete', 'metric-points.manage']);
      const client = new CachetAPI({ url, apiKey: token, timeout: 5000 });

      const component = await client.getComponentById(componentId);
      assert.equal(component.name, 'API');

      const reported = await client.reportIncident({
        name: 'Database down',
        message: 'Investigating elevated errors',
        status: 'Investigating',
        visible: true,
        notify: false,
        component_id: componentId,
        component_status: 'Partial Outage',
      });
      assert.equal(reported.data.name, 'Database down');
      assert.equal(reported.data.status, 1);
      assert.equal((await client.getComponentById(componentId)).status, 3, 'the incident set the component status');

      const listed = await client.getIncidentsByComponentId(componentId);
      assert.ok(listed.some((incident) => incident.id === reported.data.id));

      const timestamp = Math.floor(Date.parse('2026-11-25T11:58:00Z') / 1000);
      const point = await client.publishMetricPoint({ id: metricId, value: 3.37, timestamp });
      assert.equal(point.data.value, 3.37);
      assert.equal(point.data.created_at, '2026-11-25 11:58:00');

      await client.deleteIncidentById(reported.data.id);
      assert.ok(!(await client.getIncidentsByComponentId(componentId)).some((incident) => incident.id === reported.data.id));
    });

    it('fails every call with the 401 envelope when the key is wrong', async () => {
      const valid = await t.key(['*']);
      const wrong = valid.slice(0, -1) + (valid.endsWith('a') ? 'b' : 'a');
      const client = new CachetAPI({ url, apiKey: wrong });
      const calls: Array<() => Promise<unknown>> = [
        () => client.getComponentById(componentId),
        () => client.reportIncident({ name: 'x', message: 'y', status: 'Investigating', visible: true }),
        () => client.getIncidentsByComponentId(componentId),
        () => client.publishMetricPoint({ id: metricId, value: 1 }),
        () => client.deleteIncidentById(1),
      ];
      for (const call of calls) {
        await assert.rejects(call, (err: Error) => /401|Unauthorized|errors/i.test(String(err.message ?? err)) || /401/.test(JSON.stringify(err)));
      }
      const raw = await fetch(`${url}/api/v1/components/${componentId}`, { headers: { 'X-Cachet-Token': wrong } });
      assert.equal(raw.status, 401);
      const body = (await raw.json()) as { errors: Array<{ status: number; title: string }> };
      assert.equal(body.errors[0]!.status, 401);
      assert.equal(body.errors[0]!.title, 'Unauthorized');
    });
  });
}
