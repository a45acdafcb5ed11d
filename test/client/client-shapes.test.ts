/**
 * Requests shaped the way the public Cachet clients send them (reference §3.2–3.3): fields in the
 * query string on writes (cachet-url-monitor), form bodies and echoed objects (zabbix-cachet), a
 * JSON body on GET (python-cachetclient), `"True"`/`"False"` booleans, `Y-m-d H:i:s` dates (cachet-client).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

for (const dialect of await dialects()) {
  describe(`client request shapes (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    let componentId: number;
    let metricId: number;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
      componentId = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'Website', status: 1, link: 'https://example.com' } })).data.id;
      metricId = json(await t.request({ method: 'POST', url: '/api/v1/metrics', token: admin, body: { name: 'RTT', suffix: 'ms', default_value: 0 } })).data.id;
    });
    after(() => t.close());

    it('cachet-url-monitor: every write field in the query string, no body', async () => {
      const status = await t.request({ method: 'PUT', url: `/api/v1/components/${componentId}?id=${componentId}&status=3`, token: admin });
      assert.equal(status.statusCode, 200, status.body);
      assert.equal(json(status).data.status, 3);

      const point = await t.request({ method: 'POST', url: `/api/v1/metrics/${metricId}/points?id=${metricId}&value=123.5&timestamp=${Math.floor(t.clock.now().getTime() / 1000)}`, token: admin });
      assert.equal(point.statusCode, 200, point.body);
      assert.equal(json(point).data.value, 123.5);

      const incident = await t.request({
        method: 'POST',
        url: `/api/v1/incidents?name=Website%20down&message=Timeout&status=1&visible=True&component_id=${componentId}&component_status=4&notify=True`,
        token: admin,
      });
      assert.equal(incident.statusCode, 200, incident.body);
      const created = json(incident).data;
      assert.equal(created.visible, 1);
      assert.equal(json(await t.request({ url: `/api/v1/components/${componentId}` })).data.status, 4);

      const update = await t.request({ method: 'POST', url: `/api/v1/incidents/${created.id}/updates?status=4&message=Recovered`, token: admin });
      assert.equal(update.statusCode, 200, update.body);
      assert.equal(json(await t.request({ url: `/api/v1/incidents/${created.id}` })).data.status, 4);
    });

    it('zabbix-cachet: form-encoded creates and a GET object echoed back on PUT', async () => {
      const form = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, headers: FORM, body: 'name=Zabbix%20host&link=&description=trigger&status=1&group_id=0' });
      assert.equal(form.statusCode, 200, form.body);
      const fetched = json(await t.request({ url: `/api/v1/components/${json(form).data.id}`, token: admin })).data;
      const echoed = await t.request({ method: 'PUT', url: `/api/v1/components/${fetched.id}`, token: admin, body: { ...fetched, status: 2 } });
      assert.equal(echoed.statusCode, 200, echoed.body);
      assert.equal(json(echoed).data.status, 2);
      assert.equal(json(echoed).data.status_name, 'Performance Issues');

      const group = await t.request({ method: 'POST', url: '/api/v1/components/groups', token: admin, headers: FORM, body: 'name=Zabbix&visible=1' });
      assert.equal(group.statusCode, 200, group.body);

      const incident = await t.request({
        method: 'POST',
        url: '/api/v1/incidents',
        token: admin,
        headers: FORM,
        body: `visible=1&notify=true&name=Trigger&message=Problem&status=1&component_id=${fetched.id}&component_status=3`,
      });
      assert.equal(incident.statusCode, 200, incident.body);
      const incidentData = json(incident).data;
      assert.equal(typeof incidentData.human_status, 'string');
      // zabbix-cachet's PUT names no component: the status is for the incident's own component.
      const put = await t.request({ method: 'PUT', url: `/api/v1/incidents/${incidentData.id}`, token: admin, body: { message: 'Resolved', status: 4, component_status: 1 } });
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(json(put).data.status, 4);
      assert.equal(json(await t.request({ url: `/api/v1/components/${fetched.id}` })).data.status, 1);
      const unlinked = json(await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'no component', message: 'm', status: 1 } })).data;
      const orphan = await t.request({ method: 'PUT', url: `/api/v1/incidents/${unlinked.id}`, token: admin, body: { component_status: 2 } });
      assert.equal(orphan.statusCode, 400);
    });

    it('python-cachetclient: filters as a JSON body on GET, and per_page=total to de-paginate', async () => {
      const listed = await t.request({ url: '/api/v1/components', token: admin, headers: { 'content-type': 'application/json' }, body: { id: componentId } });
      assert.equal(listed.statusCode, 200, listed.body);
      assert.deepEqual(json(listed).data.map((c: { id: number }) => c.id), [componentId]);
      const first = json(await t.request({ url: '/api/v1/components?per_page=1', token: admin }));
      const all = json(await t.request({ url: `/api/v1/components?per_page=${first.meta.pagination.total}`, token: admin }));
      assert.equal(all.data.length, first.meta.pagination.total);
    });

    it('cachet-client: 1/0 booleans, occurred_at with seconds, schedules in Y-m-d H:i', async () => {
      const incident = await t.request({
        method: 'POST',
        url: '/api/v1/incidents',
        token: admin,
        body: { name: 'Planned', message: 'm', status: 2, visible: 0, stickied: 1, notify: 0, occurred_at: '2026-11-20 08:30:15' },
      });
      assert.equal(incident.statusCode, 200, incident.body);
      const data = json(incident).data;
      assert.equal(data.occurred_at, '2026-11-20 08:30:15');
      assert.equal(data.stickied, true);
      const schedule = await t.request({ method: 'POST', url: '/api/v1/schedules', token: admin, body: { name: 'Upgrade', message: 'db', status: 0, scheduled_at: '2026-12-01 02:00' } });
      assert.equal(schedule.statusCode, 200, schedule.body);
      assert.equal(json(schedule).data.scheduled_at, '2026-12-01 02:00:00');
      const count = json(await t.request({ url: '/api/v1/incidents?per_page=1', token: admin }));
      assert.ok(count.meta.pagination.total >= 1);
    });

    it('"False" and "false" mean false', async () => {
      const incident = await t.request({ method: 'POST', url: '/api/v1/incidents?name=Quiet&message=m&status=1&visible=False&notify=false', token: admin });
      assert.equal(incident.statusCode, 200, incident.body);
      assert.equal(json(incident).data.visible, 0);
      const guest = json(await t.request({ url: '/api/v1/incidents?per_page=1000' })).data.map((i: { id: number }) => i.id);
      assert.ok(!guest.includes(json(incident).data.id));
    });

    it('cachet-monitor: JSON with a mis-cased field name is accepted and the unknown field ignored', async () => {
      const response = await t.request({
        method: 'POST',
        url: '/api/v1/incidents',
        token: admin,
        body: { id: 0, name: 'Monitor', message: 'down', status: 1, Visible: true, notify: true, component_id: componentId, component_status: 4 },
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(typeof json(response).data.id, 'number');
    });
  });
}
