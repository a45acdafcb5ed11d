import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';
import { assertNoServerErrors } from '../helpers/fuzz.js';

const BASE = { name: 'Database upgrade', status: 0, scheduled_at: '2026-12-01 10:00' };

for (const dialect of await dialects()) {
  describe(`schedules API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function create(body: Record<string, unknown>, headers: Record<string, string> = {}) {
      const response = await t.request({ method: 'POST', url: '/api/v1/schedules', token: admin, body, headers });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function details(method: string, url: string, body: unknown): Promise<string[]> {
      const response = await t.request({ method, url, token: admin, body });
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)} → ${response.body}`);
      return json(response).errors[0].meta.details;
    }

    it('creates a schedule as the Cachet 2.4 test does and renders every field', async () => {
      t.clock.set(new Date('2026-11-25T12:00:00Z'));
      const data = await create({ name: 'Test schedule', message: 'Foo bar, baz.', status: 1, scheduled_at: '2026-11-26 09:30' });
      assert.equal(typeof data.id, 'number');
      assert.deepEqual(
        { ...data, id: undefined },
        {
          id: undefined,
          name: 'Test schedule',
          message: 'Foo bar, baz.',
          status: 1,
          scheduled_at: '2026-11-26 09:30:00',
          completed_at: null,
          created_at: '2026-11-25 12:00:00',
          updated_at: '2026-11-25 12:00:00',
          deleted_at: null,
          components: [],
          human_status: 'In Progress',
        },
      );
    });

    it('names each status', async () => {
      for (const [status, label] of [[0, 'Upcoming'], [1, 'In Progress'], [2, 'Complete']] as const) {
        assert.equal((await create({ ...BASE, status })).human_status, label);
      }
    });

    it('accepts Y-m-d H:i, Y-m-d H:i:s, Y-m-d and ISO 8601 dates', async () => {
      const cases: Array<[string, string]> = [
        ['2026-12-01 10:00', '2026-12-01 10:00:00'],
        ['2026-12-01 10:00:45', '2026-12-01 10:00:45'],
        ['2026-12-01', '2026-12-01 00:00:00'],
        ['2026-12-01T10:00:00Z', '2026-12-01 10:00:00'],
        ['2026-12-01T10:00:00+02:00', '2026-12-01 08:00:00'],
        [' 2026-12-01 10:00 ', '2026-12-01 10:00:00'],
      ];
      for (const [input, rendered] of cases) {
        assert.equal((await create({ ...BASE, scheduled_at: input })).scheduled_at, rendered, input);
      }
    });

    it('reads and renders wall times in the Time-Zone header zone', async () => {
      const zone = { 'time-zone': 'America/Mexico_City' };
      const data = await create({ ...BASE, scheduled_at: '2026-12-01 10:00', completed_at: '2026-12-01 11:30' }, zone);
      assert.equal(data.scheduled_at, '2026-12-01 10:00:00');
      assert.equal(data.completed_at, '2026-12-01 11:30:00');
      const utc = json(await t.request({ url: `/api/v1/schedules/${data.id}` })).data;
      assert.equal(utc.scheduled_at, '2026-12-01 16:00:00');
      assert.equal(utc.completed_at, '2026-12-01 17:30:00');
      const tokyo = json(await t.request({ url: `/api/v1/schedules/${data.id}`, headers: { 'time-zone': 'Asia/Tokyo' } })).data;
      assert.equal(tokyo.scheduled_at, '2026-12-02 01:00:00');
    });

    it('refuses unparseable dates with 400 naming each field', async () => {
      for (const bad of ['garbage', '2026-13-01 10:00', '2026-02-30 10:00', '2026-12-01 25:00', '01/12/2026', '1764583200', 'tomorrow', '99999-01-01 00:00', '日本']) {
        const messages = await details('POST', '/api/v1/schedules', { ...BASE, scheduled_at: bad });
        assert.ok(messages.some((m) => m.startsWith('The scheduled at is not a valid date')), `${bad}: ${messages.join(' | ')}`);
      }
      const both = await details('POST', '/api/v1/schedules', { ...BASE, scheduled_at: 'x', completed_at: 'y' });
      assert.equal(both.length, 2);
      assert.ok(both[1]!.startsWith('The completed at is not a valid date'));
      const numeric = await details('POST', '/api/v1/schedules', { ...BASE, scheduled_at: 20261201 });
      assert.ok(numeric[0]!.startsWith('The scheduled at is not a valid date'));
    });

    it('refuses missing or out-of-range fields with 400', async () => {
      const all = await details('POST', '/api/v1/schedules', {});
      for (const field of ['name', 'status', 'scheduled at']) assert.ok(all.includes(`The ${field} field is required.`), all.join(' | '));
      assert.ok((await details('POST', '/api/v1/schedules', { ...BASE, scheduled_at: '' })).includes('The scheduled at field is required.'));
      assert.ok((await details('POST', '/api/v1/schedules', { ...BASE, status: 3 })).includes('The status may not be greater than 2.'));
      assert.ok((await details('POST', '/api/v1/schedules', { ...BASE, status: -1 })).includes('The status must be at least 0.'));
      assert.ok((await details('POST', '/api/v1/schedules', { ...BASE, status: 'soon' })).includes('The status must be an integer.'));
      assert.ok((await details('POST', '/api/v1/schedules', { ...BASE, name: '' })).includes('The name field is required.'));
    });

    it('accepts and ignores components and notify', async () => {
      const data = await create({ ...BASE, components: [1, 2], notify: true });
      assert.deepEqual(data.components, []);
      const asMap = await create({ ...BASE, components: { 1: 2 }, notify: 'false' });
      assert.deepEqual(asMap.components, []);
    });

    it('renders completed_at as null until it is set, and can clear it again', async () => {
      const created = await create(BASE);
      assert.equal(created.completed_at, null);
      assert.equal(json(await t.request({ url: `/api/v1/schedules/${created.id}` })).data.completed_at, null);
      const done = json(await t.request({ method: 'PUT', url: `/api/v1/schedules/${created.id}`, token: admin, body: { status: 2, completed_at: '2026-12-01 12:00' } })).data;
      assert.equal(done.completed_at, '2026-12-01 12:00:00');
      assert.equal(done.human_status, 'Complete');
      const cleared = json(await t.request({ method: 'PUT', url: `/api/v1/schedules/${created.id}`, token: admin, body: { completed_at: '' } })).data;
      assert.equal(cleared.completed_at, null);
      assert.equal(cleared.status, 2);
    });

    it('updates only the fields given', async () => {
      t.clock.set(new Date('2026-11-25T12:00:00Z'));
      const created = await create({ ...BASE, message: 'Keep me', status: 1 });
      t.clock.set(new Date('2026-11-25T13:00:00Z'));
      const response = await t.request({ method: 'PUT', url: `/api/v1/schedules/${created.id}`, token: admin, body: { name: 'Updated schedule' } });
      assert.equal(response.statusCode, 200, response.body);
      const data = json(response).data;
      assert.equal(data.name, 'Updated schedule');
      assert.equal(data.message, 'Keep me');
      assert.equal(data.status, 1);
      assert.equal(data.scheduled_at, created.scheduled_at);
      assert.equal(data.created_at, '2026-11-25 12:00:00');
      assert.equal(data.updated_at, '2026-11-25 13:00:00');
      const moved = json(await t.request({ method: 'PUT', url: `/api/v1/schedules/${created.id}`, token: admin, body: { scheduled_at: '2026-12-24 08:15:00' } })).data;
      assert.equal(moved.scheduled_at, '2026-12-24 08:15:00');
    });

    it('accepts a schedule echoed back from a GET as an update', async () => {
      const created = await create(BASE);
      const echoed = { ...created, status: 1, human_status: 'x', created_at: 'nonsense' };
      const response = await t.request({ method: 'PUT', url: `/api/v1/schedules/${created.id}`, token: admin, body: echoed });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(json(response).data.status, 1);
      assert.equal(json(response).data.scheduled_at, created.scheduled_at);
    });

    it('refuses a bad update with 400 and an unknown schedule with 404', async () => {
      const created = await create(BASE);
      await details('PUT', `/api/v1/schedules/${created.id}`, { scheduled_at: 'never' });
      await details('PUT', `/api/v1/schedules/${created.id}`, { status: 9 });
      assert.equal(json(await t.request({ url: `/api/v1/schedules/${created.id}` })).data.scheduled_at, '2026-12-01 10:00:00');
      for (const id of ['999999', 'abc', '0']) {
        assert.equal((await t.request({ method: 'PUT', url: `/api/v1/schedules/${id}`, token: admin, body: { name: 'x' } })).statusCode, 404, id);
        assert.equal((await t.request({ url: `/api/v1/schedules/${id}` })).statusCode, 404, id);
      }
    });

    it('soft-deletes: 204, then gone from the API but kept with deleted_at', async () => {
      const created = await create({ ...BASE, name: 'Doomed' });
      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/schedules/${created.id}`, token: admin });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, '');
      assert.equal((await t.request({ url: `/api/v1/schedules/${created.id}` })).statusCode, 404);
      const listed = json(await t.request({ url: '/api/v1/schedules?per_page=1000' })).data.map((s: { id: number }) => s.id);
      assert.ok(!listed.includes(created.id));
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/schedules/${created.id}`, token: admin, body: { name: 'x' } })).statusCode, 404);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/schedules/${created.id}`, token: admin })).statusCode, 404);
      const row = await t.database.db.selectFrom('schedules').select('deleted_at').where('id', '=', created.id).executeTakeFirstOrThrow();
      assert.ok(row.deleted_at !== null);
    });

    it('lists schedules to guests with pagination and sorting', async () => {
      const fresh = await buildTestApp(dialect);
      try {
        const token = await fresh.key(['*']);
        for (const [name, at] of [['b', '2026-12-02 10:00'], ['c', '2026-12-03 10:00'], ['a', '2026-12-01 10:00']] as const) {
          const response = await fresh.request({ method: 'POST', url: '/api/v1/schedules', token, body: { name, status: 0, scheduled_at: at } });
          assert.equal(response.statusCode, 200, response.body);
        }
        const names = async (query: string) => json(await fresh.request({ url: `/api/v1/schedules?${query}` })).data.map((s: { name: string }) => s.name);
        assert.deepEqual(await names(''), ['b', 'c', 'a']);
        assert.deepEqual(await names('sort=scheduled_at'), ['a', 'b', 'c']);
        assert.deepEqual(await names('sort=scheduled_at&order=desc'), ['c', 'b', 'a']);
        assert.deepEqual(await names('sort=name&order=desc'), ['c', 'b', 'a']);
        assert.deepEqual(await names('sort=message'), ['b', 'c', 'a'], 'an unsortable column is ignored');
        const page = json(await fresh.request({ url: '/api/v1/schedules?per_page=2' }));
        assert.deepEqual({ ...page.meta.pagination, links: undefined }, { total: 3, count: 2, per_page: 2, current_page: 1, total_pages: 2, links: undefined });
        assert.ok(page.meta.pagination.links.next_page.includes('page=2'));
      } finally {
        await fresh.close();
      }
    });

    it('never answers hostile input with a 500', async () => {
      await assertNoServerErrors(t, { method: 'POST', url: '/api/v1/schedules', token: admin }, { ...BASE, message: 'm', completed_at: '2026-12-01 12:00', components: [1], notify: false });
      const target = await create(BASE);
      await assertNoServerErrors(t, { method: 'PUT', url: `/api/v1/schedules/${target.id}`, token: admin }, { name: 'n', status: 1, scheduled_at: '2026-12-01 10:00', completed_at: '' });
      for (const query of ['per_page=0', 'page=-1', 'page=1e400', 'order=sideways', 'sort=日本']) {
        assert.ok((await t.request({ url: `/api/v1/schedules?${query}` })).statusCode < 500, query);
      }
      const unicode = await create({ ...BASE, name: 'Wartung 🛠️ 日本', message: '**bold** ünïcödé' });
      assert.equal(json(await t.request({ url: `/api/v1/schedules/${unicode.id}` })).data.name, 'Wartung 🛠️ 日本');
    });
  });
}
