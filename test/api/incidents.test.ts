import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API response rows, read loosely: the assertions check their shape
type Row = Record<string, any>;

for (const dialect of await dialects()) {
  describe(`incidents API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function create(body: Record<string, unknown>, headers?: Record<string, string>): Promise<Row> {
      const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body, headers });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function update(id: number, body: Record<string, unknown>): Promise<Row> {
      const response = await t.request({ method: 'PUT', url: `/api/v1/incidents/${id}`, token: admin, body });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function createComponent(name: string, status: number): Promise<Row> {
      const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name, status } });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function refused(method: string, url: string, body: unknown): Promise<{ detail: string; details: string[] }> {
      const response = await t.request({ method, url, token: admin, body });
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)} → ${response.statusCode} ${response.body}`);
      const error = json(response).errors[0];
      assert.equal(error.status, 400);
      assert.ok(Array.isArray(error.meta?.details) && error.meta.details.length > 0, response.body);
      return { detail: error.detail, details: error.meta.details };
    }

    it('creates an incident with Cachet defaults and every computed field', async () => {
      const data = await create({ name: 'Foo', message: 'Lorem ipsum dolor sit amet', status: 1, visible: 1, stickied: false });
      assert.equal(typeof data.id, 'number');
      assert.equal(data.name, 'Foo');
      assert.equal(data.message, 'Lorem ipsum dolor sit amet');
      assert.equal(data.status, 1);
      assert.equal(data.visible, 1);
      assert.equal(data.stickied, false);
      assert.equal(data.notifications, true);
      assert.equal(data.component_id, 0);
      assert.equal(data.user_id, null);
      assert.equal(data.deleted_at, null);
      assert.equal(data.occurred_at, '2026-11-25 12:00:00');
      assert.equal(data.occurred_at, data.created_at);
      assert.equal(data.human_status, 'Investigating');
      assert.equal(data.is_resolved, false);
      assert.deepEqual(data.updates, []);
      assert.deepEqual(data.meta, []);
      assert.equal(data.latest_update_id, null);
      assert.equal(data.latest_status, 1);
      assert.equal(data.latest_human_status, 'Investigating');
      assert.equal(data.latest_icon, 'icon ion-alert-circled');
      assert.match(data.permalink, new RegExp(`^http://[^/]+/incidents/${data.id}$`));
      assert.equal(data.duration, 0);
    });

    it('counts duration from occurred_at on the injected clock', async () => {
      const data = await create({ name: 'Ticking', message: 'm', status: 2 });
      t.clock.advance(90_000);
      const shown = json(await t.request({ url: `/api/v1/incidents/${data.id}` })).data;
      assert.equal(shown.duration, 90);
    });

    it('honours notify, stickied, visible and status 0 (Scheduled)', async () => {
      const data = await create({ name: 'Planned', message: 'm', status: 0, notify: false, stickied: 'true', visible: '0' });
      assert.equal(data.notifications, false);
      assert.equal(data.stickied, true);
      assert.equal(data.visible, 0);
      assert.equal(data.human_status, 'Scheduled');
      assert.equal(data.latest_icon, 'icon ion-android-calendar');
    });

    it('refuses a create without name, status or message as 400 with meta.details', async () => {
      const empty = await refused('POST', '/api/v1/incidents', {});
      assert.ok(empty.details.includes('The name field is required.'), empty.details.join());
      assert.ok(empty.details.includes('The status field is required.'), empty.details.join());
      const noMessage = await refused('POST', '/api/v1/incidents', { name: 'x', status: 1 });
      assert.deepEqual(noMessage.details, ['The message field is required.']);
      await refused('POST', '/api/v1/incidents', { name: 'x', status: 1, message: '   ' });
      await refused('POST', '/api/v1/incidents', { name: 'x', status: 5, message: 'm' });
      await refused('POST', '/api/v1/incidents', { name: 'x', status: -1, message: 'm' });
      await refused('POST', '/api/v1/incidents', { name: '', status: 1, message: 'm' });
    });

    it('requires component_id and component_status together and checks the component exists', async () => {
      const component = await createComponent('Pair', 1);
      const onlyId = await refused('POST', '/api/v1/incidents', { name: 'x', status: 1, message: 'm', component_id: component.id });
      assert.match(onlyId.detail, /component status field is required/);
      const onlyStatus = await refused('POST', '/api/v1/incidents', { name: 'x', status: 1, message: 'm', component_status: 2 });
      assert.match(onlyStatus.detail, /component id field is required/);
      const missing = await refused('POST', '/api/v1/incidents', { name: 'x', status: 1, message: 'm', component_id: 999_999, component_status: 2 });
      assert.match(missing.detail, /component id 999999 does not name a known component/);
      await refused('POST', '/api/v1/incidents', { name: 'x', status: 1, message: 'm', component_id: component.id, component_status: 9 });
      assert.equal(json(await t.request({ url: `/api/v1/components/${component.id}` })).data.status, 1);
    });

    it('sets the component status on create and update, in the same transaction', async () => {
      const component = await createComponent('Linked', 1);
      const data = await create({ name: 'Outage', message: 'm', status: 1, component_id: component.id, component_status: 4 });
      assert.equal(data.component_id, component.id);
      assert.equal(json(await t.request({ url: `/api/v1/components/${component.id}` })).data.status, 4);

      await update(data.id, { component_id: component.id, component_status: 2 });
      assert.equal(json(await t.request({ url: `/api/v1/components/${component.id}` })).data.status, 2);

      // A failure later in the request (an unknown template) rolls the component change back.
      const failed = await t.request({
        method: 'PUT',
        url: `/api/v1/incidents/${data.id}`,
        token: admin,
        body: { component_id: component.id, component_status: 3, template: 'no-such-template' },
      });
      assert.equal(failed.statusCode, 400);
      assert.equal(json(await t.request({ url: `/api/v1/components/${component.id}` })).data.status, 2);

      const deleted = await createComponent('Deleted', 1);
      await t.request({ method: 'DELETE', url: `/api/v1/components/${deleted.id}`, token: admin });
      await refused('POST', '/api/v1/incidents', { name: 'x', status: 1, message: 'm', component_id: deleted.id, component_status: 2 });

      const unlinked = await update(data.id, { component_id: 0 });
      assert.equal(unlinked.component_id, 0);
      await refused('PUT', `/api/v1/incidents/${data.id}`, { component_id: 0, component_status: 1 });
    });

    it('accepts occurred_at as Y-m-d H:i, Y-m-d H:i:s and ISO 8601', async () => {
      const cases: Array<[string, string]> = [
        ['2026-01-02 03:04', '2026-01-02 03:04:00'],
        ['2026-01-02 03:04:05', '2026-01-02 03:04:05'],
        ['2026-01-02T03:04:05+02:00', '2026-01-02 01:04:05'],
        ['2026-01-02T03:04:05Z', '2026-01-02 03:04:05'],
        ['2026-01-02T03:04:05', '2026-01-02 03:04:05'],
      ];
      for (const [input, expected] of cases) {
        const data = await create({ name: `at ${input}`, message: 'm', status: 1, occurred_at: input });
        assert.equal(data.occurred_at, expected, input);
      }
      const created = await create({ name: 'moved', message: 'm', status: 1 });
      assert.equal((await update(created.id, { occurred_at: '2025-12-31 23:59' })).occurred_at, '2025-12-31 23:59:00');
    });

    it('refuses a bad occurred_at with a 400 naming the field, never a 500', async () => {
      for (const occurred_at of ['yesterday', '2026-13-45 10:00', '2026-02-30 10:00', '', '10:00', '2026/01/02 10:00', 12345, true, '💥']) {
        const { details } = await refused('POST', '/api/v1/incidents', { name: 'x', status: 1, message: 'm', occurred_at });
        assert.ok(details.some((d) => d.includes('occurred_at') || d.includes('occurred at')), `${String(occurred_at)}: ${details.join()}`);
      }
      for (const occurred_at of [{}, ['a', 'b']]) {
        await refused('POST', '/api/v1/incidents', { name: 'x', status: 1, message: 'm', occurred_at });
      }
      const created = await create({ name: 'keeps date', message: 'm', status: 1, occurred_at: '2026-01-02 03:04' });
      await refused('PUT', `/api/v1/incidents/${created.id}`, { occurred_at: 'not a date' });
      assert.equal(json(await t.request({ url: `/api/v1/incidents/${created.id}` })).data.occurred_at, '2026-01-02 03:04:00');
    });

    it('reads and renders occurred_at in the Time-Zone header zone', async () => {
      const zone = { 'time-zone': 'America/Mexico_City' };
      const data = await create({ name: 'Zoned', message: 'm', status: 1, occurred_at: '2026-11-20 10:00' }, zone);
      assert.equal(data.occurred_at, '2026-11-20 10:00:00');
      const utc = json(await t.request({ url: `/api/v1/incidents/${data.id}` })).data;
      assert.equal(utc.occurred_at, '2026-11-20 16:00:00');
      const local = json(await t.request({ url: `/api/v1/incidents/${data.id}`, headers: zone })).data;
      assert.equal(local.occurred_at, '2026-11-20 10:00:00');
      const listed = json(await t.request({ url: '/api/v1/incidents', query: { name: 'Zoned' }, headers: zone })).data;
      assert.equal(listed[0].occurred_at, '2026-11-20 10:00:00');

      const unknown = await t.request({ url: `/api/v1/incidents/${data.id}`, headers: { 'time-zone': 'Mars/Olympus_Mons' } });
      assert.equal(unknown.statusCode, 400);
      assert.match(json(unknown).errors[0].detail, /Time-Zone/);
    });

    it('stores meta on create and merges it by key on update, dropping empty values', async () => {
      const data = await create({ name: 'Meta', message: 'm', status: 1, meta: { id: 123456789, empty: '' } });
      assert.deepEqual(data.meta, { id: 123456789 });
      assert.deepEqual((await update(data.id, { meta: { foo: 'bar', nested: { a: [1, 2] } } })).meta, { id: 123456789, foo: 'bar', nested: { a: [1, 2] } });
      assert.deepEqual((await update(data.id, { meta: { id: '', nested: null } })).meta, { foo: 'bar' });
      assert.deepEqual((await update(data.id, { name: 'Meta kept', meta: null })).meta, { foo: 'bar' });
      assert.deepEqual((await update(data.id, { meta: { foo: null } })).meta, []);
      await refused('PUT', `/api/v1/incidents/${data.id}`, { meta: 'not an object' });
      await refused('PUT', `/api/v1/incidents/${data.id}`, { meta: [1, 2] });
      assert.deepEqual((await update(data.id, { meta: { a: 1 } })).meta, { a: 1 });
      assert.deepEqual((await update(data.id, { meta: [] })).meta, { a: 1 });
    });

    it('changes only what a partial PUT names (visible and stickied are not reset)', async () => {
      const data = await create({ name: 'Partial', message: 'Original', status: 2, visible: false, stickied: true, notify: false, occurred_at: '2026-03-04 05:06' });
      const changed = await update(data.id, { name: 'Renamed' });
      assert.equal(changed.name, 'Renamed');
      assert.equal(changed.message, 'Original');
      assert.equal(changed.status, 2);
      assert.equal(changed.visible, 0);
      assert.equal(changed.stickied, true);
      assert.equal(changed.notifications, false);
      assert.equal(changed.occurred_at, '2026-03-04 05:06:00');
      assert.equal(changed.user_id, null);
      const all = await update(data.id, { status: 4, message: 'Done', visible: true, stickied: false, notify: true });
      assert.deepEqual([all.status, all.message, all.visible, all.stickied, all.notifications, all.is_resolved], [4, 'Done', 1, false, true, true]);
      await refused('PUT', `/api/v1/incidents/${data.id}`, { message: '' });
      await refused('PUT', `/api/v1/incidents/${data.id}`, { status: 7 });
    });

    it('ignores unknown fields and echoed computed fields on update', async () => {
      const data = await create({ name: 'Echo', message: 'm', status: 1 });
      const echoed = { ...data, name: 'Echoed', human_status: 'x', updates: 'nonsense', permalink: 1, user_id: 5, deleted_at: null };
      const changed = await update(data.id, echoed);
      assert.equal(changed.name, 'Echoed');
      assert.equal(changed.user_id, null);
    });

    it('shows, deletes (soft) and 404s', async () => {
      const data = await create({ name: 'Doomed', message: 'm', status: 1 });
      assert.equal(json(await t.request({ url: `/api/v1/incidents/${data.id}` })).data.name, 'Doomed');
      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/incidents/${data.id}`, token: admin });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, '');
      assert.equal((await t.request({ url: `/api/v1/incidents/${data.id}` })).statusCode, 404);
      assert.equal((await t.request({ url: `/api/v1/incidents/${data.id}`, token: admin })).statusCode, 404);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/incidents/${data.id}`, token: admin })).statusCode, 404);
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/incidents/${data.id}`, token: admin, body: { name: 'x' } })).statusCode, 404);
      const stored = await t.database.db.selectFrom('incidents').select('deleted_at').where('id', '=', data.id).executeTakeFirstOrThrow();
      assert.ok(stored.deleted_at !== null);
      const listed = json(await t.request({ url: '/api/v1/incidents?per_page=1000', token: admin })).data as Row[];
      assert.ok(!listed.some((i) => i.id === data.id));
      for (const id of ['0', '999999', 'abc', '1.5', '-1']) {
        const missing = await t.request({ url: `/api/v1/incidents/${id}` });
        assert.equal(missing.statusCode, 404, id);
        assert.equal(json(missing).errors[0].title, 'Not Found');
      }
    });

    it('hides invisible incidents from guests, not from a key with incidents.read', async () => {
      const hidden = await create({ name: 'Hidden incident', message: 'm', status: 1, visible: false });
      const shown = await create({ name: 'Public incident', message: 'm', status: 1 });
      const guestList = json(await t.request({ url: '/api/v1/incidents?per_page=1000' })).data as Row[];
      assert.ok(guestList.some((i) => i.id === shown.id));
      assert.ok(!guestList.some((i) => i.id === hidden.id));
      assert.ok(guestList.every((i) => i.visible === 1));
      assert.equal((await t.request({ url: `/api/v1/incidents/${hidden.id}` })).statusCode, 404);
      assert.equal(json(await t.request({ url: '/api/v1/incidents?visible=0' })).data.length, 0);

      const reader = await t.key(['incidents.read']);
      const keyList = json(await t.request({ url: '/api/v1/incidents?per_page=1000', token: reader })).data as Row[];
      assert.ok(keyList.some((i) => i.id === hidden.id));
      assert.equal((await t.request({ url: `/api/v1/incidents/${hidden.id}`, token: reader })).statusCode, 200);
      const onlyHidden = json(await t.request({ url: '/api/v1/incidents?visible=0&per_page=1000', token: reader })).data as Row[];
      assert.ok(onlyHidden.length > 0 && onlyHidden.every((i) => i.visible === 0));

      const manager = await t.key(['incidents.manage']);
      assert.equal((await t.request({ url: `/api/v1/incidents/${hidden.id}`, token: manager })).statusCode, 200);
    });

    it('filters by exact column values and sorts on allowed columns only', async () => {
      const component = await createComponent('Filtered', 1);
      const a = await create({ name: 'Filter A', message: 'zz', status: 2, stickied: true, component_id: component.id, component_status: 1 });
      const b = await create({ name: 'Filter B', message: 'aa', status: 3, component_id: component.id, component_status: 1 });
      const ids = async (query: string, token?: string) =>
        (json(await t.request({ url: `/api/v1/incidents?${query}`, token })).data as Row[]).map((i) => i.id);
      assert.deepEqual(await ids('name=Filter%20A'), [a.id]);
      assert.deepEqual(await ids(`component_id=${component.id}`), [a.id, b.id]);
      assert.deepEqual(await ids(`component_id=${component.id}&status=3`), [b.id]);
      assert.deepEqual(await ids(`component_id=${component.id}&stickied=1`), [a.id]);
      assert.deepEqual(await ids(`id=${b.id}`), [b.id]);
      assert.deepEqual(await ids(`component_id=${component.id}&sort=name&order=desc`), [b.id, a.id]);
      assert.deepEqual(await ids(`component_id=${component.id}&sort=message`), [b.id, a.id]);
      assert.deepEqual(await ids(`component_id=${component.id}&sort=user_id;drop table incidents&order=desc`), [a.id, b.id]);
      assert.deepEqual(await ids(`component_id=${component.id}&status=2&page=1&user_id=7&unknown=1`), [a.id]);
      const page = json(await t.request({ url: `/api/v1/incidents?component_id=${component.id}&per_page=1&page=2` }));
      assert.deepEqual({ total: page.meta.pagination.total, count: page.meta.pagination.count, pages: page.meta.pagination.total_pages }, { total: 2, count: 1, pages: 2 });
      assert.equal(page.data[0].id, b.id);
      for (const query of ['status=9', 'id=abc', 'visible=maybe', 'per_page=0', 'order=sideways']) {
        assert.equal((await t.request({ url: `/api/v1/incidents?${query}` })).statusCode, 400, query);
      }
    });

    it('derives is_resolved, latest_* and duration from the updates', async () => {
      const data = await create({ name: 'Lifecycle', message: 'm', status: 1 });
      const post = (status: number) => t.request({ method: 'POST', url: `/api/v1/incidents/${data.id}/updates`, token: admin, body: { status, message: `now ${status}` } });
      t.clock.advance(60_000);
      const identified = json(await post(2)).data;
      let shown = json(await t.request({ url: `/api/v1/incidents/${data.id}` })).data;
      assert.deepEqual(
        [shown.status, shown.latest_update_id, shown.latest_status, shown.latest_human_status, shown.latest_icon, shown.is_resolved],
        [2, identified.id, 2, 'Identified', 'icon ion-bug', false],
      );
      t.clock.advance(540_000);
      const fixed = json(await post(4)).data;
      t.clock.advance(3_600_000);
      shown = json(await t.request({ url: `/api/v1/incidents/${data.id}` })).data;
      assert.equal(shown.is_resolved, true);
      assert.equal(shown.latest_icon, 'icon ion-checkmark-circled greens');
      assert.equal(shown.duration, 600);
      assert.deepEqual(shown.updates.map((u: Row) => u.id), [fixed.id, identified.id]);
      assert.equal(shown.updates[0].human_status, 'Fixed');
      assert.match(shown.updates[0].permalink, new RegExp(`/incidents/${data.id}#update-${fixed.id}$`));
    });

    it('never answers a 500 to wrong-type, unicode, oversized or null input', async () => {
      const target = await create({ name: 'Fuzz target', message: 'm', status: 1 });
      const bodies: unknown[] = [
        { name: 123, status: 1, message: 'm' },
        { name: {}, status: 1, message: 'm' },
        { name: ['a'], status: 1, message: 'm' },
        { name: 'x'.repeat(256), status: 1, message: 'm' },
        { name: 'n', status: 1, message: 'x'.repeat(70_000) },
        { name: 'n', status: 'abc', message: 'm' },
        { name: 'n', status: 1.5, message: 'm' },
        { name: 'n', status: 2_147_483_648, message: 'm' },
        { name: 'n', status: null, message: null },
        { name: null, status: 1, message: 'm' },
        { name: 'n', status: 1, message: 'm', visible: 'maybe' },
        { name: 'n', status: 1, message: 'm', stickied: {} },
        { name: 'n', status: 1, message: 'm', meta: 'str' },
        { name: 'n', status: 1, message: 'm', vars: 'x', template: 'nope' },
        { name: 'n', status: 1, template: {} },
        { name: 'n', status: 1, template: '' },
        { name: 'n', status: 1, message: 'm', component_id: -1, component_status: 1 },
        { name: 'n', status: 1, message: 'm', component_id: 'abc', component_status: 1 },
        { name: 'n', status: 1, message: 'm', component_id: 1e20, component_status: 1 },
        { name: 'n', status: 1, message: 'm', occurred_at: '9999-99-99 99:99' },
        { name: 'n', status: 1, message: 'm', occurred_at: '0000-01-01 00:00' },
        { name: 'n', status: 1, message: 'm', occurred_at: '2026-01-01T00:00:00+99:00' },
        { name: '\u0000\uFFFF\uD83D', status: 1, message: '\u202E' },
        [],
        'null',
        '{"name":',
      ];
      for (const body of bodies) {
        for (const [method, url] of [['POST', '/api/v1/incidents'], ['PUT', `/api/v1/incidents/${target.id}`]] as const) {
          const response = await t.request({ method, url, token: admin, body, headers: typeof body === 'string' ? { 'content-type': 'application/json' } : {} });
          assert.ok(response.statusCode < 500, `${method} ${JSON.stringify(body).slice(0, 80)} → ${response.statusCode} ${response.body.slice(0, 200)}`);
          if (response.statusCode !== 200) assert.equal(json(response).errors[0].status, response.statusCode);
        }
      }
      const unicode = await create({ name: '🚨 Ünïcödé 事故 — ٱلْعَرَبِيَّة', message: '**Markdown** ✓ 🔥', status: 1, meta: { 'ключ': 'значение' } });
      const shown = json(await t.request({ url: `/api/v1/incidents/${unicode.id}` })).data;
      assert.equal(shown.name, '🚨 Ünïcödé 事故 — ٱلْعَرَبِيَّة');
      assert.equal(shown.message, '**Markdown** ✓ 🔥');
      assert.deepEqual(shown.meta, { 'ключ': 'значение' });
    });

    it('needs a key to write', async () => {
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/incidents', body: { name: 'x', status: 1, message: 'm' } })).statusCode, 401);
      const reader = await t.key(['incidents.read']);
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/incidents', token: reader, body: { name: 'x', status: 1, message: 'm' } })).statusCode, 403);
    });
  });

  describe(`system status with incidents (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    const status = async (token?: string) => json(await t.request({ url: '/api/v1/status', token })).data.status as string;

    it('is not success while a visible incident is unresolved; hidden ones count for key holders only', async () => {
      assert.equal(await status(), 'success');
      const hidden = json(await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'h', message: 'm', status: 1, visible: false } })).data;
      assert.equal(await status(), 'success');
      assert.equal(await status(admin), 'info');
      assert.equal(await status(await t.key(['incidents.read'])), 'info', 'incidents.read sees hidden incidents');
      assert.equal(await status(await t.key(['component-groups.read'])), 'success', 'component-groups.read does not');
      const open = json(await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'o', message: 'm', status: 2 } })).data;
      assert.equal(await status(), 'info');
      await t.request({ method: 'POST', url: `/api/v1/incidents/${open.id}/updates`, token: admin, body: { status: 4, message: 'fixed' } });
      assert.equal(await status(), 'success');
      await t.request({ method: 'DELETE', url: `/api/v1/incidents/${hidden.id}`, token: admin });
      assert.equal(await status(admin), 'success');
    });
  });
}
