import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

for (const dialect of await dialects()) {
  describe(`component groups API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function createGroup(body: Record<string, unknown>) {
      const response = await t.request({ method: 'POST', url: '/api/v1/components/groups', token: admin, body });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    it('creates a group, echoing its fields', async () => {
      const data = await createGroup({ name: 'Foo', order: 1, collapsed: 1, visible: 1 });
      assert.deepEqual([data.name, data.order, data.collapsed, data.visible], ['Foo', 1, 1, 1]);
      assert.deepEqual(data.enabled_components, []);
      assert.equal(data.lowest_human_status, null);
    });

    it('defaults visible to 0 (hidden from guests), as Cachet does', async () => {
      const data = await createGroup({ name: 'Private' });
      assert.equal(data.visible, 0);
      assert.equal(data.collapsed, 0);
    });

    it('refuses a create without a name, or with collapsed 5, as 400', async () => {
      for (const body of [{}, { name: 'x', collapsed: 5 }, { name: 'x', order: 'first' }]) {
        const response = await t.request({ method: 'POST', url: '/api/v1/components/groups', token: admin, body });
        assert.equal(response.statusCode, 400, JSON.stringify(body));
        assert.ok(json(response).errors[0].meta.details.length > 0);
      }
    });

    it('shows hidden groups only to key holders, and lists accordingly', async () => {
      const open = await createGroup({ name: 'Open', visible: true });
      const hidden = await createGroup({ name: 'Closed', visible: false });
      const guestIds = json(await t.request({ url: '/api/v1/components/groups?per_page=100' })).data.map((g: { id: number }) => g.id);
      assert.ok(guestIds.includes(open.id) && !guestIds.includes(hidden.id));
      assert.equal((await t.request({ url: `/api/v1/components/groups/${hidden.id}` })).statusCode, 404);
      const reader = await t.key(['component-groups.read']);
      const keyIds = json(await t.request({ url: '/api/v1/components/groups?per_page=100', token: reader })).data.map((g: { id: number }) => g.id);
      assert.ok(keyIds.includes(open.id) && keyIds.includes(hidden.id));
      assert.equal((await t.request({ url: `/api/v1/components/groups/${hidden.id}`, token: reader })).statusCode, 200);
    });

    it('lists enabled member components in order and the lowest status first', async () => {
      const group = await createGroup({ name: 'Members', visible: 1 });
      const add = (body: Record<string, unknown>) => t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { group_id: group.id, ...body } });
      await add({ name: 'second', status: 1, order: 2 });
      await add({ name: 'first', status: 3, order: 1 });
      await add({ name: 'off', status: 4, order: 0, enabled: false });
      const data = json(await t.request({ url: `/api/v1/components/groups/${group.id}` })).data;
      assert.deepEqual(data.enabled_components.map((c: { name: string }) => c.name), ['first', 'second']);
      assert.deepEqual(data.enabled_components_lowest.map((c: { name: string }) => c.name), ['first', 'second']);
      assert.equal(data.lowest_human_status, 'Partial Outage');
      assert.match(data.created_at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    });

    it('updates only the fields given', async () => {
      const group = await createGroup({ name: 'Old', order: 4, visible: 1 });
      const response = await t.request({ method: 'PUT', url: `/api/v1/components/groups/${group.id}`, token: admin, body: { name: 'Lorem Ipsum Groupous' } });
      assert.equal(response.statusCode, 200);
      const data = json(response).data;
      assert.deepEqual([data.name, data.order, data.visible], ['Lorem Ipsum Groupous', 4, 1]);
      assert.equal((await t.request({ method: 'PUT', url: '/api/v1/components/groups/999999', token: admin, body: { name: 'x' } })).statusCode, 404);
    });

    it('sorts with a working order=asc|desc and filters exactly', async () => {
      await createGroup({ name: 'sort-b', order: 900, visible: 1 });
      await createGroup({ name: 'sort-a', order: 900, visible: 1 });
      const byOrder = json(await t.request({ url: '/api/v1/components/groups?order=900&sort=name' })).data.map((g: { name: string }) => g.name);
      assert.deepEqual(byOrder, ['sort-a', 'sort-b']);
      const byName = json(await t.request({ url: '/api/v1/components/groups?sort=name&order=desc&per_page=1000' })).data.map((g: { name: string }) => g.name);
      assert.deepEqual(byName, [...byName].sort().reverse());
      const exact = json(await t.request({ url: '/api/v1/components/groups?name=sort-a' })).data;
      assert.deepEqual(exact.map((g: { name: string }) => g.name), ['sort-a']);
    });

    it('deletes a group and ungroups its components instead of deleting them', async () => {
      const group = await createGroup({ name: 'Doomed', visible: 1 });
      const member = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'survivor', status: 1, group_id: group.id } })).data;
      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/components/groups/${group.id}`, token: admin });
      assert.equal(deleted.statusCode, 204);
      assert.equal((await t.request({ url: `/api/v1/components/groups/${group.id}`, token: admin })).statusCode, 404);
      const survivor = json(await t.request({ url: `/api/v1/components/${member.id}` })).data;
      assert.equal(survivor.group_id, 0);
    });
  });
}
