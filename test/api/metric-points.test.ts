import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';
import { assertNoServerErrors } from '../helpers/fuzz.js';

/** Unix seconds of an ISO instant. */
const unix = (iso: string) => Date.parse(iso) / 1000;

for (const dialect of await dialects()) {
  describe(`metric points API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function metric(extra: Record<string, unknown> = {}): Promise<{ id: number }> {
      const response = await t.request({ method: 'POST', url: '/api/v1/metrics', token: admin, body: { name: 'Latency', suffix: 'ms', default_value: 0, ...extra } });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function point(metricId: number, body: Record<string, unknown>, headers: Record<string, string> = {}) {
      const response = await t.request({ method: 'POST', url: `/api/v1/metrics/${metricId}/points`, token: admin, body, headers });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function list(metricId: number, query = '') {
      const response = await t.request({ url: `/api/v1/metrics/${metricId}/points${query}` });
      assert.equal(response.statusCode, 200, response.body);
      return json(response);
    }

    it('creates a point with counter 1, calculated_value and a time rounded to 30 s', async () => {
      const m = await metric();
      t.clock.set(new Date('2026-11-25T12:00:14Z'));
      const data = await point(m.id, { value: 7.5 });
      assert.equal(typeof data.id, 'number');
      assert.deepEqual(
        { ...data, id: undefined },
        { id: undefined, metric_id: m.id, value: 7.5, counter: 1, calculated_value: 7.5, created_at: '2026-11-25 12:00:00', updated_at: '2026-11-25 12:00:14' },
      );
      t.clock.set(new Date('2026-11-25T12:10:15Z'));
      assert.equal((await point(m.id, { value: 1 })).created_at, '2026-11-25 12:10:30', 'a half-way time rounds up');
    });

    it('rounds a given timestamp to the nearest 30 seconds and renders it in UTC by default', async () => {
      const m = await metric();
      t.clock.set(new Date('2026-11-25T15:00:00Z'));
      assert.equal((await point(m.id, { value: 1, timestamp: unix('2026-11-25T10:34:44Z') })).created_at, '2026-11-25 10:34:30');
      assert.equal((await point(m.id, { value: 2, timestamp: unix('2026-11-25T10:34:45Z') })).created_at, '2026-11-25 10:35:00');
      assert.equal((await point(m.id, { value: 3, timestamp: String(unix('2026-11-25T10:40:10Z')) })).created_at, '2026-11-25 10:40:00', 'a numeric string is accepted');
      assert.equal((await point(m.id, { value: 4, timestamp: unix('2026-11-25T10:50:00Z') + 0.9 })).created_at, '2026-11-25 10:50:00', 'fractional seconds are accepted');
    });

    it('renders created_at in the Time-Zone header zone without changing the instant', async () => {
      const m = await metric();
      const timestamp = unix('2026-11-25T10:00:00Z');
      const zoned = await point(m.id, { value: 1, timestamp }, { 'time-zone': 'America/Mexico_City' });
      assert.equal(zoned.created_at, '2026-11-25 04:00:00');
      const plain = (await list(m.id)).data[0];
      assert.equal(plain.created_at, '2026-11-25 10:00:00');
    });

    it('aggregates the same value within the threshold window into one point', async () => {
      const m = await metric({ threshold: 5 });
      t.clock.set(new Date('2026-11-25T12:00:00Z'));
      const first = await point(m.id, { value: 3.5 });
      t.clock.set(new Date('2026-11-25T12:02:00Z'));
      const second = await point(m.id, { value: 3.5 });
      assert.equal(second.id, first.id);
      assert.equal(second.counter, 2);
      assert.equal(second.calculated_value, 7);
      assert.equal(second.value, 3.5);
      assert.equal(second.created_at, first.created_at, 'the aggregated point keeps its time');
      assert.equal(second.updated_at, '2026-11-25 12:02:00');
      const page = await list(m.id);
      assert.equal(page.meta.pagination.total, 1);
      assert.equal(page.data[0].counter, 2);
    });

    it('starts a new point for a different value or outside the window (threshold − 1 minutes, from the start of the minute)', async () => {
      const m = await metric({ threshold: 5 });
      t.clock.set(new Date('2026-11-25T13:00:00Z'));
      const first = await point(m.id, { value: 10 });
      assert.notEqual((await point(m.id, { value: 11 })).id, first.id, 'a different value');
      t.clock.set(new Date('2026-11-25T13:04:59Z'));
      assert.equal((await point(m.id, { value: 10 })).id, first.id, 'window starts at 13:00:00, which includes the first point');
      t.clock.set(new Date('2026-11-25T13:05:00Z'));
      const later = await point(m.id, { value: 10 });
      assert.notEqual(later.id, first.id, 'window starts at 13:01:00');
      assert.equal(later.counter, 1);
      const other = await metric({ threshold: 5 });
      assert.notEqual((await point(other.id, { value: 10 })).id, later.id, 'another metric never aggregates into this one');
    });

    it('aggregates concurrent writes of the same value into one point without losing a count', async () => {
      const m = await metric({ threshold: 5 });
      t.clock.set(new Date('2026-11-25T20:00:00Z'));
      const responses = await Promise.all(
        Array.from({ length: 12 }, () => t.request({ method: 'POST', url: `/api/v1/metrics/${m.id}/points`, token: admin, body: { value: 9 } })),
      );
      assert.deepEqual(responses.map((r) => r.statusCode), Array(12).fill(200));
      const page = await list(m.id);
      assert.equal(page.meta.pagination.total, 1, JSON.stringify(page.data));
      assert.equal(page.data[0].counter, 12);
    });

    it('sizes the window from the metric threshold', async () => {
      const m = await metric({ threshold: 1 });
      t.clock.set(new Date('2026-11-25T14:00:50Z'));
      const first = await point(m.id, { value: 5 });
      assert.equal(first.created_at, '2026-11-25 14:01:00');
      t.clock.set(new Date('2026-11-25T14:01:10Z'));
      const second = await point(m.id, { value: 5 });
      assert.equal(second.id, first.id, 'same minute: the rounded 14:01:00 point is in the window');
      t.clock.set(new Date('2026-11-25T14:02:05Z'));
      assert.notEqual((await point(m.id, { value: 5 })).id, first.id);
    });

    it('measures the window from a given timestamp and never aggregates into a later point', async () => {
      const m = await metric({ threshold: 10 });
      t.clock.set(new Date('2026-11-25T18:00:00Z'));
      const backfilled = await point(m.id, { value: 2, timestamp: unix('2026-11-25T09:00:00Z') });
      const near = await point(m.id, { value: 2, timestamp: unix('2026-11-25T09:05:00Z') });
      assert.equal(near.id, backfilled.id);
      assert.equal(near.counter, 2);
      const earlier = await point(m.id, { value: 2, timestamp: unix('2026-11-25T08:58:00Z') });
      assert.notEqual(earlier.id, backfilled.id, 'the 09:00 point is after 08:58, so not in its window');
      const now = await point(m.id, { value: 2 });
      assert.notEqual(now.id, backfilled.id, 'now (18:00) is far from 09:00');
    });

    it('lists points newest first (14:00, 13:00, 16:00 → 16:00, 14:00, 13:00) and paginates', async () => {
      const m = await metric();
      for (const at of ['14:00', '13:00', '16:00']) await point(m.id, { value: 1, timestamp: unix(`2026-11-20T${at}:00Z`) });
      const page = await list(m.id);
      assert.deepEqual(page.data.map((p: { created_at: string }) => p.created_at), ['2026-11-20 16:00:00', '2026-11-20 14:00:00', '2026-11-20 13:00:00']);
      const second = await list(m.id, '?per_page=2&page=2');
      assert.deepEqual({ ...second.meta.pagination, links: undefined }, { total: 3, count: 1, per_page: 2, current_page: 2, total_pages: 2, links: undefined });
      assert.equal(second.data[0].created_at, '2026-11-20 13:00:00');
      assert.deepEqual((await list(m.id, '?sort=created_at&order=asc')).data.map((p: { created_at: string }) => p.created_at)[0], '2026-11-20 16:00:00', 'sort is ignored');
    });

    it('updates a point value and time; counter stays', async () => {
      const m = await metric();
      t.clock.set(new Date('2026-11-25T12:00:00Z'));
      await point(m.id, { value: 4 });
      const created = await point(m.id, { value: 4 });
      t.clock.set(new Date('2026-11-25T12:30:00Z'));
      const response = await t.request({ method: 'PUT', url: `/api/v1/metrics/${m.id}/points/${created.id}`, token: admin, body: { value: 999 } });
      assert.equal(response.statusCode, 200, response.body);
      const data = json(response).data;
      assert.equal(data.value, 999);
      assert.equal(data.counter, 2);
      assert.equal(data.calculated_value, 1998);
      assert.equal(data.created_at, created.created_at);
      assert.equal(data.updated_at, '2026-11-25 12:30:00');
      const moved = json(await t.request({ method: 'PUT', url: `/api/v1/metrics/${m.id}/points/${created.id}`, token: admin, body: { timestamp: unix('2026-11-24T08:00:20Z') } })).data;
      assert.equal(moved.created_at, '2026-11-24 08:00:30');
      assert.equal(moved.value, 999, 'value is kept when not given');
    });

    it('scopes points to their metric: another metric id is a 404 and changes nothing', async () => {
      const owner = await metric();
      const stranger = await metric();
      const p = await point(owner.id, { value: 1 });
      const wrong = `/api/v1/metrics/${stranger.id}/points/${p.id}`;
      assert.equal((await t.request({ method: 'PUT', url: wrong, token: admin, body: { value: 2 } })).statusCode, 404);
      assert.equal((await t.request({ method: 'DELETE', url: wrong, token: admin })).statusCode, 404);
      const kept = (await list(owner.id)).data;
      assert.deepEqual(kept.map((x: { id: number; value: number }) => [x.id, x.value]), [[p.id, 1]]);
      assert.equal((await list(stranger.id)).data.length, 0);
    });

    it('deletes a point (204, empty) and 404s afterwards', async () => {
      const m = await metric();
      const p = await point(m.id, { value: 1 });
      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/metrics/${m.id}/points/${p.id}`, token: admin });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, '');
      assert.equal((await list(m.id)).data.length, 0);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/metrics/${m.id}/points/${p.id}`, token: admin })).statusCode, 404);
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/metrics/${m.id}/points/${p.id}`, token: admin, body: { value: 1 } })).statusCode, 404);
    });

    it('404s for a missing or non-numeric metric or point', async () => {
      const m = await metric();
      assert.equal((await t.request({ url: '/api/v1/metrics/999999/points' })).statusCode, 404);
      assert.equal((await t.request({ url: '/api/v1/metrics/abc/points' })).statusCode, 404);
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/metrics/999999/points', token: admin, body: { value: 1 } })).statusCode, 404);
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/metrics/${m.id}/points/999999`, token: admin, body: { value: 1 } })).statusCode, 404);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/metrics/${m.id}/points/x1`, token: admin })).statusCode, 404);
    });

    it("hides a non-public metric's points from guests, not from a key with metric-points.read", async () => {
      const reader = await t.key(['metric-points.read']);
      for (const visible of [0, 2]) {
        const m = await metric({ visible });
        await point(m.id, { value: 1 });
        const guest = await t.request({ url: `/api/v1/metrics/${m.id}/points` });
        assert.equal(guest.statusCode, 404, `visible ${visible}`);
        const keyed = await t.request({ url: `/api/v1/metrics/${m.id}/points`, token: reader });
        assert.equal(keyed.statusCode, 200);
        assert.equal(json(keyed).data.length, 1);
      }
    });

    it('refuses a missing, non-numeric, non-finite or huge value and a bad timestamp with 400', async () => {
      const m = await metric();
      const url = `/api/v1/metrics/${m.id}/points`;
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{}, /^The value field is required\.$/],
        [{ value: 'abc' }, /value must be a number/],
        [{ value: 'NaN' }, /value must be a number/],
        [{ value: '1e999' }, /value must be a number/],
        [{ value: 'Infinity' }, /value must be a number/],
        [{ value: 1e16 }, /value may not be greater than/],
        [{ value: -1e16 }, /value must be at least/],
        [{ value: 1, timestamp: 'yesterday' }, /timestamp must be a number/],
        [{ value: 1, timestamp: '2026-11-25 12:00' }, /timestamp must be a number/],
        [{ value: 1, timestamp: -1 }, /timestamp must be at least 0/],
        [{ value: 1, timestamp: 1e20 }, /timestamp may not be greater than/],
        [{ value: 1, timestamp: '1e999' }, /timestamp must be a number/],
      ];
      for (const [body, message] of cases) {
        const response = await t.request({ method: 'POST', url, token: admin, body });
        assert.equal(response.statusCode, 400, `${JSON.stringify(body)} → ${response.body}`);
        const messages: string[] = json(response).errors[0].meta.details;
        assert.ok(messages.some((d) => message.test(d)), `${JSON.stringify(body)}: ${messages.join(' | ')}`);
      }
      assert.equal((await list(m.id)).meta.pagination.total, 0, 'nothing was stored');
      const created = await point(m.id, { value: 1 });
      const bad = await t.request({ method: 'PUT', url: `${url}/${created.id}`, token: admin, body: { value: 'x' } });
      assert.equal(bad.statusCode, 400);
    });

    it('accepts form-encoded and query-string writes (cachet-url-monitor style)', async () => {
      const m = await metric();
      const form = await t.request({
        method: 'POST',
        url: `/api/v1/metrics/${m.id}/points`,
        token: admin,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `value=12.5&timestamp=${unix('2026-11-25T11:00:00Z')}`,
      });
      assert.equal(form.statusCode, 200, form.body);
      assert.equal(json(form).data.value, 12.5);
      const viaQuery = await t.request({ method: 'POST', url: `/api/v1/metrics/${m.id}/points?value=3`, token: admin });
      assert.equal(viaQuery.statusCode, 200, viaQuery.body);
      assert.equal(json(viaQuery).data.value, 3);
    });

    it('never answers hostile input with a 500', async () => {
      const m = await metric();
      await assertNoServerErrors(t, { method: 'POST', url: `/api/v1/metrics/${m.id}/points`, token: admin }, { value: 1, timestamp: unix('2026-11-25T11:00:00Z') });
      const p = await point(m.id, { value: 42 });
      await assertNoServerErrors(t, { method: 'PUT', url: `/api/v1/metrics/${m.id}/points/${p.id}`, token: admin }, { value: 1, timestamp: unix('2026-11-25T11:00:00Z') });
      for (const query of ['per_page=0', 'per_page=abc', 'page=-1', 'page=1e400', 'per_page=Infinity']) {
        assert.ok((await t.request({ url: `/api/v1/metrics/${m.id}/points?${query}` })).statusCode < 500, query);
      }
    });
  });
}
