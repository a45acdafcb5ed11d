import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

for (const dialect of await dialects()) {
  describe(`components API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function create(body: Record<string, unknown>) {
      const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    it('creates a component with every field and returns 200 with data.id', async () => {
      const data = await create({ name: 'Foo', description: 'Bar', status: 1, link: 'http://example.com', order: 1, group_id: 1, enabled: true });
      assert.equal(typeof data.id, 'number');
      assert.equal(data.name, 'Foo');
      assert.equal(data.description, 'Bar');
      assert.equal(data.link, 'http://example.com');
      assert.equal(data.status_name, 'Operational');
      assert.deepEqual(data.tags, []);
      assert.match(data.created_at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    });

    it('defaults enabled to true and splits tags into slug → name', async () => {
      const data = await create({ name: 'Tagged', status: 1, tags: 'Foo,Bar' });
      assert.equal(data.enabled, true);
      assert.deepEqual(data.tags, { bar: 'Bar', foo: 'Foo' });
    });

    it('round-trips meta and honours enabled:0', async () => {
      const data = await create({ name: 'Meta', status: 1, enabled: 0, meta: { uuid: '172ff3fb-41f7-49d3-8bcd-f57b53627fa0' } });
      assert.equal(data.enabled, false);
      assert.deepEqual(data.meta, { uuid: '172ff3fb-41f7-49d3-8bcd-f57b53627fa0' });
    });

    it('refuses a create without status or with status 5 as 400 with meta.details', async () => {
      for (const body of [{ name: 'x' }, { name: 'x', status: 5 }, {}]) {
        const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body });
        assert.equal(response.statusCode, 400);
        const error = json(response).errors[0];
        assert.equal(error.status, 400);
        assert.ok(Array.isArray(error.meta.details) && error.meta.details.length > 0);
      }
      const missing = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: {} }));
      assert.ok(missing.errors[0].meta.details.includes('The name field is required.'));
      assert.ok(missing.errors[0].meta.details.includes('The status field is required.'));
    });

    it('updates only the fields given, replaces tags and meta', async () => {
      const created = await create({ name: 'Before', status: 1, enabled: false, tags: 'One', meta: { a: 1 } });
      const response = await t.request({ method: 'PUT', url: `/api/v1/components/${created.id}`, token: admin, body: { name: 'After', tags: 'Hello', meta: { b: 2 } } });
      assert.equal(response.statusCode, 200);
      const data = json(response).data;
      assert.equal(data.name, 'After');
      assert.equal(data.enabled, false);
      assert.equal(data.status, 1);
      assert.deepEqual(data.tags, { hello: 'Hello' });
      assert.deepEqual(data.meta, { b: 2 });
    });

    it('ignores unknown fields and nulls on update (a GET body echoed back, as zabbix-cachet does)', async () => {
      const created = await create({ name: 'Echo', status: 2, description: 'd' });
      const echoed = { ...created, status: 3, description: null, created_at: 'whatever', status_name: 'x', tags: { a: 'A' } };
      const response = await t.request({ method: 'PUT', url: `/api/v1/components/${created.id}`, token: admin, body: echoed });
      assert.equal(response.statusCode, 200, response.body);
      const data = json(response).data;
      assert.equal(data.status, 3);
      assert.equal(data.description, 'd');
      assert.deepEqual(data.tags, { a: 'A' });
    });

    it('accepts form-encoded bodies and query-string fields on writes', async () => {
      const form = await t.request({
        method: 'POST',
        url: '/api/v1/components',
        token: admin,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'name=Form&status=1&group_id=0&enabled=True',
      });
      assert.equal(form.statusCode, 200, form.body);
      assert.equal(json(form).data.enabled, true);
      const id = json(form).data.id;
      const viaQuery = await t.request({ method: 'PUT', url: `/api/v1/components/${id}?status=4&enabled=0`, token: admin });
      assert.equal(viaQuery.statusCode, 200, viaQuery.body);
      assert.equal(json(viaQuery).data.status, 4);
      assert.equal(json(viaQuery).data.enabled, false);
    });

    it('coerces the booleans Cachet clients send', async () => {
      for (const [value, expected] of [[1, true], ['1', true], [true, true], ['true', true], ['True', true], [0, false], ['0', false], ['false', false], ['False', false]] as const) {
        const data = await create({ name: `bool-${String(value)}`, status: 1, enabled: value });
        assert.equal(data.enabled, expected, `enabled=${JSON.stringify(value)}`);
      }
      const bad = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'x', status: 1, enabled: 'maybe' } });
      assert.equal(bad.statusCode, 400);
    });

    it('shows a component, and 404s for a missing or deleted one', async () => {
      const created = await create({ name: 'Shown', status: 1 });
      const shown = await t.request({ url: `/api/v1/components/${created.id}` });
      assert.equal(shown.statusCode, 200);
      assert.equal(json(shown).data.name, 'Shown');
      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/components/${created.id}`, token: admin });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, '');
      assert.equal((await t.request({ url: `/api/v1/components/${created.id}` })).statusCode, 404);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/components/${created.id}`, token: admin })).statusCode, 404);
      const missing = await t.request({ url: '/api/v1/components/999999' });
      assert.equal(missing.statusCode, 404);
      assert.equal(json(missing).errors[0].title, 'Not Found');
      assert.equal((await t.request({ url: '/api/v1/components/abc' })).statusCode, 404);
    });

    it('hides disabled components from guests but not from a key with components.read', async () => {
      const hidden = await create({ name: 'Hidden', status: 1, enabled: false });
      const guestList = json(await t.request({ url: '/api/v1/components?per_page=1000' })).data as Array<{ id: number }>;
      assert.ok(!guestList.some((c) => c.id === hidden.id));
      assert.equal((await t.request({ url: `/api/v1/components/${hidden.id}` })).statusCode, 404);
      const reader = await t.key(['components.read']);
      const keyList = json(await t.request({ url: '/api/v1/components?per_page=1000', token: reader })).data as Array<{ id: number }>;
      assert.ok(keyList.some((c) => c.id === hidden.id));
      assert.equal((await t.request({ url: `/api/v1/components/${hidden.id}`, token: reader })).statusCode, 200);
    });

    it('filters by exact column values and by tag slugs', async () => {
      const a = await create({ name: 'Filter A', status: 2, tags: 'Hello World' });
      const b = await create({ name: 'Filter B', status: 2, tags: 'Foo,Bar' });
      const byName = json(await t.request({ url: '/api/v1/components', query: { name: 'Filter A' } })).data;
      assert.deepEqual(byName.map((c: { id: number }) => c.id), [a.id]);
      const byTag = json(await t.request({ url: '/api/v1/components?tags[]=foo' })).data.map((c: { id: number }) => c.id);
      assert.ok(byTag.includes(b.id) && !byTag.includes(a.id));
      const byStatusAndPage = await t.request({ url: '/api/v1/components?status=2&page=1' });
      assert.equal(byStatusAndPage.statusCode, 200);
      assert.ok(json(byStatusAndPage).data.every((c: { status: number }) => c.status === 2));
    });

    it('reads filters from a JSON body on GET (python-cachetclient)', async () => {
      const target = await create({ name: 'Body Filter', status: 1 });
      const response = await t.request({ url: '/api/v1/components', headers: { 'content-type': 'application/json' }, body: { name: 'Body Filter' } });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(json(response).data.map((c: { id: number }) => c.id), [target.id]);
    });

    it('paginates with exact totals and links that keep the other parameters', async () => {
      for (let i = 0; i < 5; i++) await create({ name: `Page ${i}`, status: 1, group_id: 77 });
      const first = json(await t.request({ url: '/api/v1/components?group_id=77&per_page=2' }));
      assert.deepEqual({ ...first.meta.pagination, links: undefined }, { total: 5, count: 2, per_page: 2, current_page: 1, total_pages: 3, links: undefined });
      assert.equal(first.meta.pagination.links.previous_page, null);
      const next = new URL(first.meta.pagination.links.next_page);
      assert.equal(next.pathname, '/api/v1/components');
      assert.equal(next.searchParams.get('group_id'), '77');
      assert.equal(next.searchParams.get('per_page'), '2');
      assert.equal(next.searchParams.get('page'), '2');
      const last = json(await t.request({ url: '/api/v1/components?group_id=77&per_page=2&page=3' }));
      assert.equal(last.meta.pagination.count, 1);
      assert.equal(last.meta.pagination.links.next_page, null);
      assert.ok(last.meta.pagination.links.previous_page.includes('page=2'));
      const beyond = json(await t.request({ url: '/api/v1/components?group_id=77&per_page=2&page=9' }));
      assert.equal(beyond.data.length, 0);
      assert.equal(beyond.meta.pagination.total, 5);
    });

    it('caps per_page at the documented maximum and defaults it to 20', async () => {
      const capped = json(await t.request({ url: '/api/v1/components?per_page=99999999' }));
      assert.equal(capped.meta.pagination.per_page, 1000);
      const plain = json(await t.request({ url: '/api/v1/components' }));
      assert.equal(plain.meta.pagination.per_page, 20);
    });

    it('sorts ascending and descending on allowed columns and ignores unknown ones', async () => {
      await create({ name: 'zzz sort', status: 1, group_id: 88 });
      await create({ name: 'aaa sort', status: 1, group_id: 88 });
      const asc = json(await t.request({ url: '/api/v1/components?group_id=88&sort=name&order=asc' })).data.map((c: { name: string }) => c.name);
      assert.deepEqual(asc, ['aaa sort', 'zzz sort']);
      const desc = json(await t.request({ url: '/api/v1/components?group_id=88&sort=name&order=desc' })).data.map((c: { name: string }) => c.name);
      assert.deepEqual(desc, ['zzz sort', 'aaa sort']);
      const unknown = await t.request({ url: '/api/v1/components?group_id=88&sort=name;drop table components' });
      assert.equal(unknown.statusCode, 200);
      assert.deepEqual(json(unknown).data.map((c: { name: string }) => c.name), ['zzz sort', 'aaa sort']);
    });
  });
}
