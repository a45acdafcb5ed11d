/** Bad input is a clear 4xx and changes nothing; never a 500. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

for (const dialect of await dialects()) {
  describe(`bad input (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function componentCount(): Promise<number> {
      return json(await t.request({ url: '/api/v1/components', token: admin })).meta.pagination.total;
    }

    it('answers malformed JSON with 400 and stores nothing', async () => {
      const before = await componentCount();
      const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, headers: { 'content-type': 'application/json' }, body: '{"name": "x", "status": 1' });
      assert.equal(response.statusCode, 400);
      assert.match(json(response).errors[0].detail, /not valid JSON/);
      assert.equal(await componentCount(), before);
    });

    it('answers a JSON array or scalar body with 400', async () => {
      for (const body of ['[1,2]', '"text"', '42']) {
        const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, headers: { 'content-type': 'application/json' }, body });
        assert.equal(response.statusCode, 400, body);
      }
    });

    it('answers a 2 MB body with 413', async () => {
      const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'x'.repeat(2 * 1024 * 1024), status: 1 } });
      assert.equal(response.statusCode, 413);
      assert.equal(json(response).errors[0].status, 413);
    });

    it('answers an unsupported content type with 415', async () => {
      const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, headers: { 'content-type': 'application/xml' }, body: '<x/>' });
      assert.equal(response.statusCode, 415);
    });

    it('answers bad paging with 400 and never 500', async () => {
      for (const query of ['per_page=-1', 'per_page=0', 'per_page=abc', 'page=0', 'page=-3', 'per_page=1e400', 'page=Infinity', 'order=sideways', 'status=abc', 'id=99999999999999999999']) {
        const response = await t.request({ url: `/api/v1/components?${query}` });
        assert.equal(response.statusCode, 400, `${query}: ${response.body}`);
        assert.ok(json(response).errors[0].meta.details.length > 0);
      }
      for (const query of ['sort=name;drop table components', "sort=' or 1=1 --", 'sort=' + 'x'.repeat(64), 'unknown=1', 'name=%00%ff']) {
        const response = await t.request({ url: `/api/v1/components?${query}` });
        assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
      }
      const huge = json(await t.request({ url: '/api/v1/components?per_page=99999999999' }));
      assert.equal(huge.meta.pagination.per_page, 1000, 'a huge per_page is clamped to the maximum');
      const infinite = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'x', status: '1e999' } });
      assert.equal(infinite.statusCode, 400);
      assert.ok((await componentCount()) >= 0, 'the table survived');
    });

    it('answers wrong types, huge numbers, nulls, unicode and oversized strings on every component write without a 500', async () => {
      const created = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'fuzz', status: 1 } })).data;
      const values: unknown[] = [null, true, -1, 1e308, 2 ** 53, -(2 ** 53), 3.5, '', ' ', 'x'.repeat(70_000), '💥 ünïcødé ✓', '\u0000', [], [1, 'a'], {}, { nested: { deep: [1] } }];
      const fields = ['name', 'status', 'description', 'link', 'order', 'group_id', 'enabled', 'meta', 'tags'];
      for (const field of fields) {
        for (const value of values) {
          for (const [method, url] of [['POST', '/api/v1/components'], ['PUT', `/api/v1/components/${created.id}`], ['POST', '/api/v1/components/groups']] as const) {
            const body = method === 'POST' ? { name: 'fuzz', status: 1, [field]: value } : { [field]: value };
            const response = await t.request({ method, url, token: admin, body });
            assert.ok(response.statusCode < 500, `${method} ${url} ${field}=${JSON.stringify(value).slice(0, 40)}: ${response.statusCode} ${response.body.slice(0, 200)}`);
          }
        }
      }
    });

    it('answers deeply nested JSON with 400, not a stack overflow', async () => {
      for (const depth of [33, 10_000, 200_000]) {
        const body = `{"name":"x","status":1,"meta":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
        const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, headers: { 'content-type': 'application/json' }, body });
        assert.equal(response.statusCode, 400, `depth ${depth}: ${response.body.slice(0, 200)}`);
        assert.match(json(response).errors[0].meta.details[0], /nested/);
      }
      const fine = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'x', status: 1, meta: { a: { b: { c: [1, [2, [3]]] } } } } });
      assert.equal(fine.statusCode, 200);
    });

    it('answers malformed URLs and overlong ids in the error envelope', async () => {
      for (const [url, status] of [['/api/v1/components/' + '9'.repeat(200), 404], ['/api/v1/%E0%A4%A', 400], ['/api/v1/components/%ff%fe', 400]] as const) {
        const response = await t.request({ url });
        assert.equal(response.statusCode, status, url);
        assert.equal(json(response).errors[0].status, status, url);
      }
    });

    it('answers an unknown Time-Zone with 400', async () => {
      const response = await t.request({ url: '/api/v1/components', headers: { 'time-zone': 'Mars/Olympus_Mons' } });
      assert.equal(response.statusCode, 400);
      assert.match(json(response).errors[0].detail, /Time-Zone/);
    });

    it('renders times in the Time-Zone header zone', async () => {
      const created = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'tz', status: 1 } })).data;
      assert.equal(created.created_at, '2026-11-25 12:00:00');
      const mexico = json(await t.request({ url: `/api/v1/components/${created.id}`, headers: { 'time-zone': 'America/Mexico_City' } })).data;
      assert.equal(mexico.created_at, '2026-11-25 06:00:00');
    });
  });
}
