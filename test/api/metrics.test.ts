import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';
import { assertNoServerErrors } from '../helpers/fuzz.js';

const MINIMAL = { name: 'Response time', suffix: 'ms', default_value: 0 };

for (const dialect of await dialects()) {
  describe(`metrics API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function create(body: Record<string, unknown>) {
      const response = await t.request({ method: 'POST', url: '/api/v1/metrics', token: admin, body });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function details(method: string, url: string, body: unknown): Promise<string[]> {
      const response = await t.request({ method, url, token: admin, body });
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)} → ${response.body}`);
      const error = json(response).errors[0];
      assert.equal(error.status, 400);
      assert.ok(Array.isArray(error.meta.details) && error.meta.details.length > 0);
      return error.meta.details;
    }

    it('creates a metric as Cachet 2.4 tests do (view alias, display_chart 1) and renders every field', async () => {
      const data = await create({ name: 'Foo', suffix: 'foo', description: 'Lorem ipsum', default_value: 1, display_chart: 1, places: 0, view: 0, threshold: 5, order: 1 });
      assert.equal(typeof data.id, 'number');
      assert.deepEqual(
        { ...data, id: undefined },
        {
          id: undefined,
          name: 'Foo',
          suffix: 'foo',
          description: 'Lorem ipsum',
          default_value: 1,
          calc_type: 0,
          display_chart: true,
          places: 0,
          default_view: 0,
          threshold: 5,
          order: 1,
          visible: 1,
          created_at: '2026-11-25 12:00:00',
          updated_at: '2026-11-25 12:00:00',
          default_view_name: 'Last Hour',
        },
      );
    });

    it('applies Cachet defaults to a minimal metric', async () => {
      const data = await create(MINIMAL);
      assert.equal(data.description, '');
      assert.equal(data.calc_type, 0);
      assert.equal(data.display_chart, true);
      assert.equal(data.places, 2);
      assert.equal(data.default_view, 1);
      assert.equal(data.default_view_name, 'Last 12 Hours');
      assert.equal(data.threshold, 5);
      assert.equal(data.order, 0);
      assert.equal(data.visible, 1);
    });

    it('keeps fractional default values and lets default_view win over view', async () => {
      const data = await create({ ...MINIMAL, default_value: 2.75, default_view: 3, view: 2, display_chart: 'false', calc_type: 1 });
      assert.equal(data.default_value, 2.75);
      assert.equal(data.default_view, 3);
      assert.equal(data.default_view_name, 'Month');
      assert.equal(data.display_chart, false);
      assert.equal(data.calc_type, 1);
    });

    it('accepts form-encoded bodies', async () => {
      const response = await t.request({
        method: 'POST',
        url: '/api/v1/metrics',
        token: admin,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'name=Form&suffix=req&default_value=3&display_chart=0&threshold=10',
      });
      assert.equal(response.statusCode, 200, response.body);
      const data = json(response).data;
      assert.equal(data.default_value, 3);
      assert.equal(data.display_chart, false);
      assert.equal(data.threshold, 10);
    });

    it('refuses a create without name, suffix or default_value as 400 naming each field', async () => {
      const all = await details('POST', '/api/v1/metrics', {});
      for (const field of ['name', 'suffix', 'default value']) assert.ok(all.includes(`The ${field} field is required.`), all.join(' | '));
      assert.ok((await details('POST', '/api/v1/metrics', { name: 'x', default_value: 1 })).includes('The suffix field is required.'));
      assert.ok((await details('POST', '/api/v1/metrics', { name: 'x', suffix: 'ms' })).includes('The default value field is required.'));
      assert.ok((await details('POST', '/api/v1/metrics', { name: 'x', suffix: '', default_value: 1 })).includes('The suffix field is required.'));
    });

    it('accepts every threshold that divides 60 and refuses others naming the rule', async () => {
      for (const threshold of [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]) {
        assert.equal((await create({ ...MINIMAL, threshold })).threshold, threshold);
      }
      for (const threshold of [7, 0, -5, 8, 45, 90, 120, 2_147_483_648]) {
        const messages = await details('POST', '/api/v1/metrics', { ...MINIMAL, threshold });
        assert.ok(messages.some((m) => /threshold must divide 60/.test(m)), `${threshold}: ${messages.join(' | ')}`);
      }
      const decimal = await details('POST', '/api/v1/metrics', { ...MINIMAL, threshold: 2.5 });
      assert.ok(decimal.includes('The threshold must be an integer.'));
    });

    it('refuses out-of-range enumerations and non-numeric values', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ places: 5 }, 'The places may not be greater than 4.'],
        [{ places: -1 }, 'The places must be at least 0.'],
        [{ calc_type: 2 }, 'The calc type may not be greater than 1.'],
        [{ default_view: 4 }, 'The default view may not be greater than 3.'],
        [{ view: 9 }, 'The view may not be greater than 3.'],
        [{ visible: 3 }, 'The visible may not be greater than 2.'],
        [{ default_value: 'abc' }, 'The default value must be a number.'],
        [{ display_chart: 'maybe' }, 'The display chart field must be true or false.'],
        [{ order: 'first' }, 'The order must be an integer.'],
      ];
      for (const [change, message] of cases) {
        const messages = await details('POST', '/api/v1/metrics', { ...MINIMAL, ...change });
        assert.ok(messages.includes(message), `${JSON.stringify(change)}: ${messages.join(' | ')}`);
      }
      for (const huge of ['1e999', 1e300, '-1e16', 'NaN', 'Infinity']) {
        await details('POST', '/api/v1/metrics', { ...MINIMAL, default_value: huge });
      }
    });

    it('shows a metric and 404s for a missing or non-numeric id', async () => {
      const created = await create({ ...MINIMAL, name: 'Shown' });
      const shown = await t.request({ url: `/api/v1/metrics/${created.id}` });
      assert.equal(shown.statusCode, 200);
      assert.equal(json(shown).data.name, 'Shown');
      for (const id of ['0', '999999', 'abc', '99999999999']) {
        const missing = await t.request({ url: `/api/v1/metrics/${id}` });
        assert.equal(missing.statusCode, 404, id);
        assert.equal(json(missing).errors[0].title, 'Not Found');
      }
    });

    it('updates only the fields given; view is an alias of default_view', async () => {
      const created = await create({ ...MINIMAL, name: 'Before', places: 3, visible: 0 });
      t.clock.advance(60_000);
      const response = await t.request({ method: 'PUT', url: `/api/v1/metrics/${created.id}`, token: admin, body: { name: 'Foo', view: 2 } });
      assert.equal(response.statusCode, 200, response.body);
      const data = json(response).data;
      assert.equal(data.name, 'Foo');
      assert.equal(data.default_view, 2);
      assert.equal(data.default_view_name, 'Week');
      assert.equal(data.places, 3);
      assert.equal(data.visible, 0);
      assert.equal(data.suffix, 'ms');
      assert.equal(data.created_at, created.created_at);
      assert.notEqual(data.updated_at, created.updated_at);
    });

    it('accepts a metric echoed back from a GET as an update', async () => {
      const created = await create({ ...MINIMAL, name: 'Echo' });
      const echoed = { ...created, description: null, threshold: 15, default_view_name: 'whatever', created_at: 'nonsense' };
      const response = await t.request({ method: 'PUT', url: `/api/v1/metrics/${created.id}`, token: admin, body: echoed });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(json(response).data.threshold, 15);
      assert.equal(json(response).data.default_view_name, 'Last 12 Hours');
    });

    it('refuses a bad update with 400 and a missing metric with 404', async () => {
      const created = await create({ ...MINIMAL, name: 'Strict' });
      const messages = await details('PUT', `/api/v1/metrics/${created.id}`, { threshold: 7 });
      assert.ok(messages.some((m) => /threshold must divide 60/.test(m)));
      await details('PUT', `/api/v1/metrics/${created.id}`, { places: 5 });
      await details('PUT', `/api/v1/metrics/${created.id}`, { suffix: '' });
      assert.equal(json(await t.request({ url: `/api/v1/metrics/${created.id}` })).data.threshold, 5, 'nothing changed');
      const missing = await t.request({ method: 'PUT', url: '/api/v1/metrics/999999', token: admin, body: { name: 'x' } });
      assert.equal(missing.statusCode, 404);
    });

    it('deletes a metric together with its points', async () => {
      const metric = await create({ ...MINIMAL, name: 'Doomed' });
      const other = await create({ ...MINIMAL, name: 'Survivor' });
      for (const [id, value] of [[metric.id, 1], [metric.id, 2], [other.id, 3]] as const) {
        const point = await t.request({ method: 'POST', url: `/api/v1/metrics/${id}/points`, token: admin, body: { value } });
        assert.equal(point.statusCode, 200, point.body);
      }
      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/metrics/${metric.id}`, token: admin });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, '');
      assert.equal((await t.request({ url: `/api/v1/metrics/${metric.id}` })).statusCode, 404);
      assert.equal((await t.request({ url: `/api/v1/metrics/${metric.id}/points` })).statusCode, 404);
      const orphans = await t.database.db.selectFrom('metric_points').select('id').where('metric_id', '=', metric.id).execute();
      assert.deepEqual(orphans, []);
      assert.equal(json(await t.request({ url: `/api/v1/metrics/${other.id}/points` })).data.length, 1, "another metric's points stay");
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/metrics/${metric.id}`, token: admin })).statusCode, 404);
    });

    it('hides non-public metrics from guests but not from a key with metrics.read', async () => {
      const forKeys = await create({ ...MINIMAL, name: 'Key holders only', visible: 0 });
      const hidden = await create({ ...MINIMAL, name: 'Hidden', visible: 2 });
      const shown = await create({ ...MINIMAL, name: 'Public', visible: 1 });
      const guestIds = json(await t.request({ url: '/api/v1/metrics?per_page=1000' })).data.map((m: { id: number }) => m.id);
      assert.ok(guestIds.includes(shown.id));
      assert.ok(!guestIds.includes(forKeys.id) && !guestIds.includes(hidden.id));
      const guestPage = json(await t.request({ url: '/api/v1/metrics?per_page=1000' }));
      assert.equal(guestPage.meta.pagination.total, guestPage.data.length, 'the guest total counts public metrics only');
      for (const metric of [forKeys, hidden]) assert.equal((await t.request({ url: `/api/v1/metrics/${metric.id}` })).statusCode, 404);

      const reader = await t.key(['metrics.read']);
      const keyIds = json(await t.request({ url: '/api/v1/metrics?per_page=1000', token: reader })).data.map((m: { id: number }) => m.id);
      for (const metric of [forKeys, hidden, shown]) {
        assert.ok(keyIds.includes(metric.id));
        assert.equal((await t.request({ url: `/api/v1/metrics/${metric.id}`, token: reader })).statusCode, 200);
      }
    });

    it('sorts on the allowed columns in both directions and ignores others', async () => {
      const fresh = await buildTestApp(dialect);
      try {
        const token = await fresh.key(['*']);
        for (const [name, value] of [['b', 2], ['c', 3], ['a', 1]] as const) {
          assert.equal((await fresh.request({ method: 'POST', url: '/api/v1/metrics', token, body: { name, suffix: 's', default_value: value } })).statusCode, 200);
        }
        const names = async (query: string) => json(await fresh.request({ url: `/api/v1/metrics?${query}` })).data.map((m: { name: string }) => m.name);
        assert.deepEqual(await names(''), ['b', 'c', 'a'], 'default order is id');
        assert.deepEqual(await names('sort=name'), ['a', 'b', 'c']);
        assert.deepEqual(await names('sort=name&order=desc'), ['c', 'b', 'a']);
        assert.deepEqual(await names('sort=default_value&order=desc'), ['c', 'b', 'a']);
        assert.deepEqual(await names('sort=suffix;drop'), ['b', 'c', 'a']);
        const paged = json(await fresh.request({ url: '/api/v1/metrics?per_page=2&page=2' }));
        assert.deepEqual({ ...paged.meta.pagination, links: undefined }, { total: 3, count: 1, per_page: 2, current_page: 2, total_pages: 2, links: undefined });
      } finally {
        await fresh.close();
      }
    });

    it('renders times in the Time-Zone header zone', async () => {
      t.clock.set(new Date('2026-11-25T12:00:00Z'));
      const created = await create({ ...MINIMAL, name: 'Zoned' });
      const zoned = json(await t.request({ url: `/api/v1/metrics/${created.id}`, headers: { 'time-zone': 'America/Mexico_City' } })).data;
      assert.equal(created.created_at, '2026-11-25 12:00:00');
      assert.equal(zoned.created_at, '2026-11-25 06:00:00');
      assert.equal((await t.request({ url: `/api/v1/metrics/${created.id}`, headers: { 'time-zone': 'Mars/Olympus' } })).statusCode, 400);
    });

    it('never answers hostile input with a 500', async () => {
      await assertNoServerErrors(t, { method: 'POST', url: '/api/v1/metrics', token: admin }, { ...MINIMAL, description: 'd', places: 2, threshold: 5, visible: 1, display_chart: true, view: 1, order: 0, calc_type: 0 });
      const target = await create({ ...MINIMAL, name: 'Fuzzed' });
      await assertNoServerErrors(t, { method: 'PUT', url: `/api/v1/metrics/${target.id}`, token: admin }, { name: 'n', suffix: 's', default_value: 1, threshold: 5, default_view: 1 });
      for (const query of ['per_page=0', 'per_page=abc', 'page=-1', 'order=sideways', 'sort=日本', 'per_page=1e400']) {
        assert.ok((await t.request({ url: `/api/v1/metrics?${query}` })).statusCode < 500, query);
      }
      const unicode = await create({ ...MINIMAL, name: '日本語 🚀', suffix: 'µs' });
      assert.equal(json(await t.request({ url: `/api/v1/metrics/${unicode.id}` })).data.name, '日本語 🚀');
    });
  });
}
