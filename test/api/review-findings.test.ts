/**
 * The findings of the security review (hardening issue, points 2–14 that a request can reach),
 * each pinned by the request that showed it: every test here failed before its fix. Point 1 (memory
 * through Time-Zone names) is in time-zone-memory.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

for (const dialect of await dialects()) {
  describe(`security review findings (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function component(body: Record<string, unknown>): Promise<{ id: number; status: number }> {
      const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { status: 1, ...body } });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function hiddenGroup(): Promise<number> {
      const response = await t.request({ method: 'POST', url: '/api/v1/components/groups', token: admin, body: { name: `hidden ${Math.random()}`, visible: 0 } });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data.id;
    }

    async function statusOf(id: number): Promise<number> {
      return json(await t.request({ url: `/api/v1/components/${id}`, token: admin })).data.status;
    }

    async function incidentCount(): Promise<number> {
      return json(await t.request({ url: '/api/v1/incidents', token: admin })).meta.pagination.total;
    }

    describe('finding 2: incidents.manage does not reach into components', () => {
      it('refuses an incident write that sets component_status without components.manage, and changes nothing', async () => {
        const target = await component({ name: 'Payments' });
        const incidentsOnly = await t.key(['incidents.manage']);
        const countBefore = await incidentCount();
        const created = await t.request({
          method: 'POST',
          url: '/api/v1/incidents',
          token: incidentsOnly,
          body: { name: 'Outage', status: 1, message: 'down', component_id: target.id, component_status: 4 },
        });
        assert.equal(created.statusCode, 403, created.body);
        assert.match(json(created).errors[0].detail, /components\.manage/);
        assert.equal(await incidentCount(), countBefore, 'the refused incident was created');
        assert.equal(await statusOf(target.id), 1, 'the component changed');

        const incident = json(await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Slow', status: 1, message: 'slow', component_id: target.id, component_status: 2 } })).data;
        // zabbix-cachet's PUT: component_status alone, meaning the incident's own component.
        const updated = await t.request({ method: 'PUT', url: `/api/v1/incidents/${incident.id}`, token: incidentsOnly, body: { status: 4, component_status: 1 } });
        assert.equal(updated.statusCode, 403, updated.body);
        assert.match(json(updated).errors[0].detail, /components\.manage/);
        assert.equal(await statusOf(target.id), 2);
        assert.equal(json(await t.request({ url: `/api/v1/incidents/${incident.id}`, token: admin })).data.status, 1, 'the incident changed');

        const both = await t.key(['incidents.manage', 'components.manage']);
        const allowed = await t.request({ method: 'PUT', url: `/api/v1/incidents/${incident.id}`, token: both, body: { status: 4, component_status: 1 } });
        assert.equal(allowed.statusCode, 200, allowed.body);
        assert.equal(await statusOf(target.id), 1);
      });

      it('answers a component the key cannot see exactly as one that does not exist', async () => {
        const disabled = await component({ name: 'Internal', enabled: false });
        const grouped = await component({ name: 'Backstage', group_id: await hiddenGroup() });
        const incident = json(await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Linking', status: 1, message: 'x' } })).data;
        const link = (id: number, token: string) => t.request({ method: 'PUT', url: `/api/v1/incidents/${incident.id}`, token, body: { component_id: id, component_status: 2 } });
        const incidentsOnly = await t.key(['incidents.manage']);
        const missing = await link(999_999, incidentsOnly);
        assert.equal(missing.statusCode, 403);
        for (const hidden of [disabled.id, grouped.id]) {
          const refused = await link(hidden, incidentsOnly);
          assert.equal(refused.statusCode, 403, refused.body);
          assert.equal(json(refused).errors[0].detail, json(missing).errors[0].detail);
        }
        const both = await t.key(['incidents.manage', 'components.manage']);
        const unknown = await link(999_999, both);
        assert.equal(unknown.statusCode, 400);
        assert.match(json(unknown).errors[0].detail, /component id 999999 does not name a known component/);
        // components.manage implies components.read: such a key may link what it can see.
        assert.equal((await link(disabled.id, both)).statusCode, 200);
        assert.equal(await statusOf(disabled.id), 2);
      });

      it('shows a template only what a guest may see of the component', async () => {
        const secret = await component({ name: 'Vault', description: 'internal: db-7 on rack 12', enabled: false });
        const open = await component({ name: 'Website', description: 'the public site' });
        const template = await t.request({
          method: 'POST',
          url: '/api/v1/incidents/templates',
          token: admin,
          body: { name: 'Component note', template: '[{% if incident.component %}{{ incident.component.name }}: {{ incident.component.description }}{% endif %}]' },
        });
        assert.equal(template.statusCode, 200, template.body);
        const slug = json(template).data.slug;
        const render = async (componentId: number) => {
          const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Templated', status: 1, template: slug, component_id: componentId, component_status: 2 } });
          assert.equal(response.statusCode, 200, response.body);
          return json(response).data.message as string;
        };
        assert.equal(await render(secret.id), '[]');
        assert.equal(await render(open.id), '[Website: the public site]');
      });

      it('declares the component scope on every route whose body can set component_status', async () => {
        const document = json(await t.request({ url: '/api/v1/openapi.json' }));
        let seen = 0;
        type Operation = { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }; 'x-cachet-field-scopes'?: Record<string, string> };
        for (const [url, operations] of Object.entries(document.paths as Record<string, Record<string, Operation>>)) {
          for (const [method, operation] of Object.entries(operations)) {
            const properties = operation.requestBody?.content?.['application/json']?.schema?.properties ?? {};
            if (!('component_status' in properties)) continue;
            seen += 1;
            assert.equal(operation['x-cachet-field-scopes']?.component_status, 'components.manage', `${method} ${url}`);
          }
        }
        assert.ok(seen >= 2, 'no route takes component_status');
      });
    });

    describe('finding 3: links come from the configured public URL, never the Host header', () => {
      it('builds next_page and permalinks from CACHET_PUBLIC_URL whatever Host says', async () => {
        await component({ name: 'one' });
        await component({ name: 'two' });
        const incident = json(await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Linked', status: 1, message: 'x' } })).data;
        for (const host of ['[', 'a b', '%zz', '', 'a@evil.example:99', 'evil.example']) {
          const list = await t.request({ url: '/api/v1/components', query: { per_page: '1', name: 'one' }, headers: { host } });
          assert.equal(list.statusCode, 200, `Host ${JSON.stringify(host)}: ${list.body}`);
          const all = await t.request({ url: '/api/v1/components?per_page=1', headers: { host } });
          const next = json(all).meta.pagination.links.next_page as string;
          assert.equal(next, 'http://status.test/api/v1/components?per_page=1&page=2', `Host ${JSON.stringify(host)}`);
          const shown = await t.request({ url: `/api/v1/incidents/${incident.id}`, headers: { host } });
          assert.equal(shown.statusCode, 200, shown.body);
          assert.equal(json(shown).data.permalink, `http://status.test/incidents/${incident.id}`);
        }
      });
    });

    describe('finding 4: components of hidden groups are hidden from guests', () => {
      it('keeps them out of guest lists, lookups and counts, and shows them to components.read', async () => {
        const group = await hiddenGroup();
        const member = await component({ name: 'Hidden member', group_id: group });
        const guestTotal = async (query: Record<string, string> = {}) => json(await t.request({ url: '/api/v1/components', query })).meta.pagination.total as number;
        const guestList = json(await t.request({ url: '/api/v1/components', query: { per_page: '1000' } })).data as Array<{ id: number }>;
        assert.ok(!guestList.some((c) => c.id === member.id));
        assert.equal(await guestTotal({ group_id: String(group) }), 0);
        assert.equal((await t.request({ url: `/api/v1/components/${member.id}` })).statusCode, 404);
        assert.equal(await guestTotal(), guestList.length);
        const reader = await t.key(['components.read']);
        assert.equal(json(await t.request({ url: '/api/v1/components', token: reader, query: { group_id: String(group) } })).meta.pagination.total, 1);
        assert.equal((await t.request({ url: `/api/v1/components/${member.id}`, token: reader })).statusCode, 200);
      });
    });

    describe('finding 6: X-Forwarded-For from a trusted proxy must be an address', () => {
      it('uses the socket address when the forwarded value is not an IP, and never stores it', async () => {
        const proxied = await buildTestApp(dialect, { trustedProxies: ['127.0.0.1/32'] });
        try {
          const token = await proxied.key(['components.read'], { allowedIps: ['127.0.0.1/32', '203.0.113.0/24'] });
          const id = (await proxied.server.keys.list()).find((k) => token.startsWith(k.prefix))!.id;
          for (const forwarded of ['evil', 'x'.repeat(8000), '203.0.113.9:443', '1.2.3.4.5']) {
            const response = await proxied.request({ url: '/api/v1/components', token, headers: { 'x-forwarded-for': forwarded } });
            assert.equal(response.statusCode, 200, `${forwarded.slice(0, 20)}: ${response.body}`);
            await proxied.server.flushKeyUsage();
            assert.equal((await proxied.server.keys.show(id))!.last_used_ip, '127.0.0.1');
          }
          await proxied.request({ url: '/api/v1/components', token, headers: { 'x-forwarded-for': '203.0.113.9' } });
          await proxied.server.flushKeyUsage();
          assert.equal((await proxied.server.keys.show(id))!.last_used_ip, '203.0.113.9');
          const outside = await proxied.request({ url: '/api/v1/components', token, headers: { 'x-forwarded-for': '198.51.100.1' } });
          assert.equal(outside.statusCode, 403);
        } finally {
          await proxied.close();
        }
      });
    });

    describe('finding 7: a malformed Authorization header is refused', () => {
      it('answers Bearer with two words, other schemes and a lone Bearer with 401, even on guest routes', async () => {
        for (const authorization of ['Bearer a b', 'Token x', 'Bearer', 'Basic dXNlcjpwYXNz', `Bearer ${admin} ${admin}`]) {
          const response = await t.request({ url: '/api/v1/components', headers: { authorization } });
          assert.equal(response.statusCode, 401, authorization);
          assert.match(json(response).errors[0].detail, /Authorization header/);
        }
        assert.equal((await t.request({ url: '/api/v1/components', headers: { authorization: `bearer  ${admin}` } })).statusCode, 200);
        assert.equal((await t.request({ url: '/api/v1/components', headers: { authorization: '' } })).statusCode, 200);
      });
    });

    describe('finding 8: a JSON body on GET is parsed like any other', () => {
      it('refuses __proto__ and constructor.prototype with 400', async () => {
        for (const body of ['{"__proto__": {"enabled": false}}', '{"constructor": {"prototype": {"enabled": false}}}']) {
          const response = await t.request({ url: '/api/v1/components', headers: { 'content-type': 'application/json' }, body });
          assert.equal(response.statusCode, 400, `${body}: ${response.body}`);
        }
        const filtered = await t.request({ url: '/api/v1/components', headers: { 'content-type': 'application/json' }, body: '{"name": "nothing by this name"}' });
        assert.equal(json(filtered).meta.pagination.total, 0);
      });
    });

    describe('finding 9: dates outside the years 0000–9999 are refused', () => {
      it('answers 400 naming the field instead of storing +010000-…', async () => {
        for (const occurred_at of ['9999-12-31T23:59:59-05:00', '0000-01-01T00:30:00+01:00']) {
          const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Far', status: 1, message: 'x', occurred_at } });
          assert.equal(response.statusCode, 400, `${occurred_at}: ${response.body}`);
          assert.match(json(response).errors[0].meta.details.join(' '), /occurred.at/);
        }
        const edge = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Edge', status: 1, message: 'x', occurred_at: '9999-12-31 23:59:59' } });
        assert.equal(edge.statusCode, 200, edge.body);
        const schedule = await t.request({ method: 'POST', url: '/api/v1/schedules', token: admin, body: { name: 'Far', status: 0, scheduled_at: '9999-12-31T23:59:59-05:00' } });
        assert.equal(schedule.statusCode, 400);
      });
    });

    describe('finding 11: revocation does not fail open while the key poll fails', () => {
      it('stops trusting cached keys after a few failed polls, and answers 503 when the store is down', async () => {
        const app = await buildTestApp(dialect);
        try {
          const token = await app.key(['components.read']);
          // Settle the revision poll first: a poll that saw the key's creation after the request below
          // would drop the cache and hide what this test is about (it did, and a mutant that always
          // trusts the cache survived).
          await app.server.verifier.refresh();
          assert.equal((await app.request({ url: '/api/v1/components', token })).statusCode, 200);
          // The poll now fails, and a revocation is written without the poll ever seeing it.
          await app.database.db.schema.alterTable('key_revision').renameTo('key_revision_gone').execute();
          await app.database.db.updateTable('api_keys').set({ revoked_at: '2026-01-01T00:00:00.000Z' }).execute();
          await new Promise((resolve) => setTimeout(resolve, 400));
          const refused = await app.request({ url: '/api/v1/components', token });
          assert.equal(refused.statusCode, 401, 'a revoked key was served from the cache');
          assert.match(json(refused).errors[0].detail, /revoked/);
          await app.database.close();
          const down = await app.request({ url: '/api/v1/components', token });
          assert.equal(down.statusCode, 503, down.body);
        } finally {
          await app.server.close().catch(() => undefined);
        }
      });
    });

    describe('finding 14: a scalar field sent as a list is refused', () => {
      it('answers 400 for [1] where a number belongs, and keeps list fields working', async () => {
        for (const body of [{ name: 'x', status: [1] }, { name: ['x'], status: 1 }, { name: 'x', status: 1, order: [2] }]) {
          const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body });
          assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
        }
        const incident = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'x', status: 1, message: 'x', occurred_at: ['2024-01-01 10:00'] } });
        assert.equal(incident.statusCode, 400);
        const tagged = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'tagged', status: 1, tags: ['a', 'b'] } });
        assert.equal(tagged.statusCode, 200, tagged.body);
        const byTags = await t.request({ url: '/api/v1/components?tags[]=a&tags[]=zzz', token: admin });
        assert.equal(json(byTags).meta.pagination.total, 1);
        const subscribed = await t.request({
          method: 'POST',
          url: '/api/v1/subscribers',
          token: admin,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `email=list%40example.com&components[]=${json(tagged).data.id}`,
        });
        assert.equal(subscribed.statusCode, 200, subscribed.body);
      });
    });
  });
}
