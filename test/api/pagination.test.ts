import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

// (An empty list has one page, as Laravel's paginator says.) Lists fetch one row more than the page and count only when that row is there or the page is
// empty past the start: totals must stay exact at every page size, page and filter.
for (const dialect of await dialects()) {
  describe(`pagination totals (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    const N = 7;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
      for (let i = 1; i <= N; i++) {
        const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: `C${i}`, status: 1 + (i % 2) } });
        assert.equal(response.statusCode, 200, response.body);
      }
    });
    after(() => t.close());

    it('reports the exact total, count and pages for every page size and page, filtered or not', async () => {
      for (const [filter, expected] of [['', N], ['&status=2', Math.ceil(N / 2)], ['&status=4', 0]] as const) {
        for (let perPage = 1; perPage <= N + 1; perPage++) {
          const pages = Math.ceil(expected / perPage);
          for (let page = 1; page <= pages + 1; page++) {
            const body = json(await t.request({ url: `/api/v1/components?per_page=${perPage}&page=${page}${filter}` }));
            const where = `per_page=${perPage} page=${page}${filter}`;
            assert.equal(body.meta.pagination.total, expected, where);
            assert.equal(body.meta.pagination.total_pages, Math.max(pages, 1), where);
            const count = Math.max(0, Math.min(perPage, expected - (page - 1) * perPage));
            assert.equal(body.data.length, count, where);
            assert.equal(body.meta.pagination.count, count, where);
          }
        }
      }
    });
  });
}
