import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API response rows, read loosely: the assertions check their shape
type Row = Record<string, any>;

for (const dialect of await dialects()) {
  describe(`incident updates API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function createIncident(body: Record<string, unknown> = {}): Promise<Row> {
      const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Incident', message: 'm', status: 1, ...body } });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function post(incidentId: number, body: Record<string, unknown>): Promise<Row> {
      const response = await t.request({ method: 'POST', url: `/api/v1/incidents/${incidentId}/updates`, token: admin, body });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    const incidentStatus = async (id: number) => json(await t.request({ url: `/api/v1/incidents/${id}`, token: admin })).data.status as number;

    it('creates an update, and the incident takes its status (Cachet 2.4 test)', async () => {
      const incident = await createIncident();
      const data = await post(incident.id, { status: 4, message: 'Incident fixed!' });
      assert.equal(data.incident_id, incident.id);
      assert.equal(data.status, 4);
      assert.equal(data.message, 'Incident fixed!');
      assert.equal(data.user_id, null);
      assert.equal(data.human_status, 'Fixed');
      assert.match(data.created_at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.match(data.permalink, new RegExp(`^http://[^/]+/incidents/${incident.id}#update-${data.id}$`));
      assert.deepEqual(Object.keys(data).sort(), ['created_at', 'human_status', 'id', 'incident_id', 'message', 'permalink', 'status', 'updated_at', 'user_id']);
      assert.equal(await incidentStatus(incident.id), 4);
    });

    it('refuses status 0, a missing message and bad types as 400 with meta.details', async () => {
      const incident = await createIncident();
      const url = `/api/v1/incidents/${incident.id}/updates`;
      const empty = await t.request({ method: 'POST', url, token: admin, body: {} });
      assert.equal(empty.statusCode, 400);
      const details = json(empty).errors[0].meta.details as string[];
      assert.ok(details.includes('The status field is required.') && details.includes('The message field is required.'), details.join());
      for (const body of [{ status: 0, message: 'm' }, { status: 5, message: 'm' }, { status: 'x', message: 'm' }, { status: 1, message: '' }, { status: 1 }, { message: 'm' }, { status: 1, message: {} }]) {
        const response = await t.request({ method: 'POST', url, token: admin, body });
        assert.equal(response.statusCode, 400, JSON.stringify(body));
        assert.ok(json(response).errors[0].meta.details.length > 0);
      }
      assert.equal(await incidentStatus(incident.id), 1);
    });

    it('lists an incident’s updates newest first, paginated, to guests', async () => {
      const incident = await createIncident();
      const ids: number[] = [];
      for (const status of [1, 2, 3]) {
        ids.push((await post(incident.id, { status, message: `step ${status}` })).id);
        t.clock.advance(1000);
      }
      const list = json(await t.request({ url: `/api/v1/incidents/${incident.id}/updates` }));
      assert.deepEqual(list.data.map((u: Row) => u.id), [...ids].reverse());
      assert.equal(list.meta.pagination.total, 3);
      const page = json(await t.request({ url: `/api/v1/incidents/${incident.id}/updates?per_page=2&page=2` }));
      assert.deepEqual(page.data.map((u: Row) => u.id), [ids[0]]);
      assert.ok(page.meta.pagination.links.previous_page.includes(`/incidents/${incident.id}/updates`));
      const byStatus = json(await t.request({ url: `/api/v1/incidents/${incident.id}/updates?sort=status&order=asc` }));
      assert.deepEqual(byStatus.data.map((u: Row) => u.status), [1, 2, 3]);
      const other = await createIncident();
      assert.deepEqual(json(await t.request({ url: `/api/v1/incidents/${other.id}/updates` })).data, []);
    });

    it('shows an update only under its own incident (another incident’s update is a 404)', async () => {
      const mine = await createIncident({ name: 'Mine' });
      const theirs = await createIncident({ name: 'Theirs' });
      const update = await post(theirs.id, { status: 2, message: 'theirs' });
      assert.equal(json(await t.request({ url: `/api/v1/incidents/${theirs.id}/updates/${update.id}` })).data.message, 'theirs');
      const wrong = `/api/v1/incidents/${mine.id}/updates/${update.id}`;
      assert.equal((await t.request({ url: wrong })).statusCode, 404);
      assert.equal((await t.request({ method: 'PUT', url: wrong, token: admin, body: { message: 'hijacked', status: 4 } })).statusCode, 404);
      assert.equal((await t.request({ method: 'DELETE', url: wrong, token: admin })).statusCode, 404);
      const still = json(await t.request({ url: `/api/v1/incidents/${theirs.id}/updates/${update.id}` })).data;
      assert.equal(still.message, 'theirs');
      assert.equal(await incidentStatus(mine.id), 1);
      for (const path of [`/api/v1/incidents/${theirs.id}/updates/999999`, `/api/v1/incidents/${theirs.id}/updates/abc`, '/api/v1/incidents/999999/updates', '/api/v1/incidents/abc/updates']) {
        const response = await t.request({ url: path });
        assert.equal(response.statusCode, 404, path);
        assert.equal(json(response).errors[0].title, 'Not Found');
      }
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/incidents/999999/updates', token: admin, body: { status: 1, message: 'm' } })).statusCode, 404);
    });

    it('changes only the fields given; a new status becomes the incident’s', async () => {
      const incident = await createIncident();
      const update = await post(incident.id, { status: 2, message: 'Identified' });
      const url = `/api/v1/incidents/${incident.id}/updates/${update.id}`;
      const renamed = await t.request({ method: 'PUT', url, token: admin, body: { message: 'Root cause found' } });
      assert.equal(renamed.statusCode, 200, renamed.body);
      assert.deepEqual([json(renamed).data.message, json(renamed).data.status], ['Root cause found', 2]);
      assert.equal(await incidentStatus(incident.id), 2);
      const restatused = await t.request({ method: 'PUT', url, token: admin, body: { status: 3 } });
      assert.equal(restatused.statusCode, 200, restatused.body);
      assert.deepEqual([json(restatused).data.message, json(restatused).data.status, json(restatused).data.human_status], ['Root cause found', 3, 'Watching']);
      assert.equal(await incidentStatus(incident.id), 3);
      for (const body of [{ status: 0 }, { status: 9 }, { message: '' }, { status: 'abc' }]) {
        assert.equal((await t.request({ method: 'PUT', url, token: admin, body })).statusCode, 400, JSON.stringify(body));
      }
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/incidents/${incident.id}/updates/999999`, token: admin, body: { message: 'x' } })).statusCode, 404);
    });

    it('deletes an update (hard) and 404s afterwards', async () => {
      const incident = await createIncident();
      const update = await post(incident.id, { status: 3, message: 'Watching' });
      const url = `/api/v1/incidents/${incident.id}/updates/${update.id}`;
      const deleted = await t.request({ method: 'DELETE', url, token: admin });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, '');
      assert.equal((await t.request({ url })).statusCode, 404);
      assert.equal((await t.request({ method: 'DELETE', url, token: admin })).statusCode, 404);
      assert.equal(await t.database.db.selectFrom('incident_updates').select('id').where('id', '=', update.id).executeTakeFirst(), undefined);
      assert.deepEqual(json(await t.request({ url: `/api/v1/incidents/${incident.id}` })).data.updates, []);
    });

    it('hides the updates of a hidden incident from guests, not from key holders', async () => {
      const hidden = await createIncident({ visible: false });
      const update = await post(hidden.id, { status: 2, message: 'secret' });
      assert.equal((await t.request({ url: `/api/v1/incidents/${hidden.id}/updates` })).statusCode, 404);
      assert.equal((await t.request({ url: `/api/v1/incidents/${hidden.id}/updates/${update.id}` })).statusCode, 404);
      const reader = await t.key(['incident-updates.read']);
      assert.equal(json(await t.request({ url: `/api/v1/incidents/${hidden.id}/updates`, token: reader })).data.length, 1);
      assert.equal((await t.request({ url: `/api/v1/incidents/${hidden.id}/updates/${update.id}`, token: reader })).statusCode, 200);
      const writer = await t.key(['incident-updates.manage']);
      const added = await t.request({ method: 'POST', url: `/api/v1/incidents/${hidden.id}/updates`, token: writer, body: { status: 4, message: 'fixed' } });
      assert.equal(added.statusCode, 200, added.body);
    });

    it('treats the updates of a deleted incident as gone', async () => {
      const incident = await createIncident();
      const update = await post(incident.id, { status: 2, message: 'x' });
      await t.request({ method: 'DELETE', url: `/api/v1/incidents/${incident.id}`, token: admin });
      assert.equal((await t.request({ url: `/api/v1/incidents/${incident.id}/updates`, token: admin })).statusCode, 404);
      assert.equal((await t.request({ url: `/api/v1/incidents/${incident.id}/updates/${update.id}`, token: admin })).statusCode, 404);
      assert.equal((await t.request({ method: 'POST', url: `/api/v1/incidents/${incident.id}/updates`, token: admin, body: { status: 4, message: 'm' } })).statusCode, 404);
    });

    it('needs a key with incident-updates.manage to write', async () => {
      const incident = await createIncident();
      const url = `/api/v1/incidents/${incident.id}/updates`;
      assert.equal((await t.request({ method: 'POST', url, body: { status: 1, message: 'm' } })).statusCode, 401);
      const reader = await t.key(['incident-updates.read', 'incidents.manage']);
      assert.equal((await t.request({ method: 'POST', url, token: reader, body: { status: 1, message: 'm' } })).statusCode, 403);
    });

    it('never answers a 500 to wrong-type, unicode, oversized or null input', async () => {
      const incident = await createIncident();
      const update = await post(incident.id, { status: 1, message: 'target' });
      const bodies: unknown[] = [
        { status: null, message: null },
        { status: [], message: 'm' },
        { status: {}, message: 'm' },
        { status: 1e30, message: 'm' },
        { status: '4', message: 12345 },
        { status: 1, message: 'x'.repeat(70_000) },
        { status: 1, message: ['a', 'b'] },
        { status: 2, message: '🛠️ Ремонт 修理 \u0000', component_id: 'x', component_status: 99 },
        [],
        'null',
      ];
      for (const body of bodies) {
        for (const [method, url] of [['POST', `/api/v1/incidents/${incident.id}/updates`], ['PUT', `/api/v1/incidents/${incident.id}/updates/${update.id}`]] as const) {
          const response = await t.request({ method, url, token: admin, body, headers: typeof body === 'string' ? { 'content-type': 'application/json' } : {} });
          assert.ok(response.statusCode < 500, `${method} ${JSON.stringify(body).slice(0, 80)} → ${response.statusCode} ${response.body.slice(0, 200)}`);
        }
      }
      const unicode = await post(incident.id, { status: 2, message: '🛠️ Ремонт 修理' });
      assert.equal(json(await t.request({ url: `/api/v1/incidents/${incident.id}/updates/${unicode.id}` })).data.message, '🛠️ Ремонт 修理');
    });
  });
}
