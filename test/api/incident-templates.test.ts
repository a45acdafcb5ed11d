import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- API response rows, read loosely: the assertions check their shape
type Row = Record<string, any>;

for (const dialect of await dialects()) {
  describe(`incident templates API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function createTemplate(body: Record<string, unknown>): Promise<Row> {
      const response = await t.request({ method: 'POST', url: '/api/v1/incidents/templates', token: admin, body });
      assert.equal(response.statusCode, 200, response.body);
      return json(response).data;
    }

    async function refused(method: string, url: string, body: unknown): Promise<{ detail: string; details: string[] }> {
      const response = await t.request({ method, url, token: admin, body });
      assert.equal(response.statusCode, 400, `${JSON.stringify(body).slice(0, 120)} → ${response.statusCode} ${response.body}`);
      const error = json(response).errors[0];
      assert.ok(Array.isArray(error.meta?.details) && error.meta.details.length > 0, response.body);
      return { detail: error.detail, details: error.meta.details };
    }

    /** Stores a template without the save-time check, as an older release or a manual edit could have. */
    async function insertRaw(slug: string, template: string): Promise<void> {
      const at = new Date().toISOString();
      await t.database.db.insertInto('incident_templates').values({ name: slug, slug, template, created_at: at, updated_at: at, deleted_at: null }).execute();
    }

    it('creates a template with a slug made from its name, in the raw Cachet shape', async () => {
      const data = await createTemplate({ name: 'Database Down!', template: 'The DB is down: {{ reason }}' });
      assert.deepEqual(Object.keys(data).sort(), ['created_at', 'deleted_at', 'id', 'name', 'slug', 'template', 'updated_at']);
      assert.equal(data.slug, 'database-down');
      assert.equal(data.template, 'The DB is down: {{ reason }}');
      assert.equal(data.deleted_at, null);
      assert.equal((await createTemplate({ name: 'Custom', slug: 'my-own-slug', template: 'x' })).slug, 'my-own-slug');
    });

    it('lists and shows templates to guests, and 404s a missing one', async () => {
      const data = await createTemplate({ name: 'Listed', template: 'x' });
      const list = json(await t.request({ url: '/api/v1/incidents/templates?per_page=100' }));
      assert.ok(list.data.some((tpl: Row) => tpl.id === data.id));
      assert.equal(typeof list.meta.pagination.total, 'number');
      assert.deepEqual(json(await t.request({ url: '/api/v1/incidents/templates?slug=listed' })).data.map((tpl: Row) => tpl.id), [data.id]);
      const sorted = json(await t.request({ url: '/api/v1/incidents/templates?sort=name&order=desc&per_page=100' })).data.map((tpl: Row) => tpl.name);
      assert.deepEqual(sorted, [...sorted].sort().reverse());
      assert.equal(json(await t.request({ url: `/api/v1/incidents/templates/${data.id}` })).data.slug, 'listed');
      assert.equal((await t.request({ url: '/api/v1/incidents/templates/999999' })).statusCode, 404);
      assert.equal((await t.request({ url: '/api/v1/incidents/templates/abc' })).statusCode, 404);
    });

    it('refuses a duplicate live slug, and frees the slug when the template is deleted', async () => {
      const first = await createTemplate({ name: 'Unique Slug', template: 'x' });
      const duplicate = await refused('POST', '/api/v1/incidents/templates', { name: 'Unique slug', template: 'y' });
      assert.match(duplicate.detail, /slug "unique-slug" is already used/);
      await refused('POST', '/api/v1/incidents/templates', { name: 'Other', slug: 'unique-slug', template: 'y' });
      const other = await createTemplate({ name: 'Other Slug', template: 'y' });
      await refused('PUT', `/api/v1/incidents/templates/${other.id}`, { slug: 'unique-slug' });
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/incidents/templates/${first.id}`, token: admin })).statusCode, 204);
      assert.equal((await createTemplate({ name: 'Unique Slug', template: 'again' })).slug, 'unique-slug');
    });

    it('validates name, slug and template', async () => {
      const missing = await refused('POST', '/api/v1/incidents/templates', {});
      assert.ok(missing.details.includes('The name field is required.'), missing.details.join());
      assert.ok(missing.details.includes('The template field is required.'), missing.details.join());
      await refused('POST', '/api/v1/incidents/templates', { name: 'x', slug: 'Not A Slug', template: 'x' });
      await refused('POST', '/api/v1/incidents/templates', { name: 'x', slug: '-x', template: 'x' });
      const unsluggable = await refused('POST', '/api/v1/incidents/templates', { name: '事故 !!!', template: 'x' });
      assert.match(unsluggable.detail, /send a slug/);
      assert.equal((await createTemplate({ name: '事故', slug: 'jiko', template: 'x' })).name, '事故');
      await refused('POST', '/api/v1/incidents/templates', { name: 'big', template: 'x'.repeat(65_536) });
      const unclosed = await refused('POST', '/api/v1/incidents/templates', { name: 'broken', template: 'Hello {{ name' });
      assert.match(unclosed.detail, /not valid: .*not closed/);
      const filter = await refused('POST', '/api/v1/incidents/templates', { name: 'filter', template: '{{ name | no_such_filter }}' });
      assert.match(filter.detail, /no_such_filter/);
    });

    it('refuses templates that would read files (include, render, layout)', async () => {
      for (const template of ["{% include 'x' %}", "{% render '/etc/passwd' %}", "{% layout '../../package.json' %}", "{% include '/etc/hostname' %}"]) {
        const { detail } = await refused('POST', '/api/v1/incidents/templates', { name: 'reader', template });
        assert.match(detail, /tag "(include|render|layout)" not found/, template);
      }
    });

    it('updates only the fields given and keeps the slug on rename', async () => {
      const data = await createTemplate({ name: 'Before', template: 'one' });
      const renamed = json(await t.request({ method: 'PUT', url: `/api/v1/incidents/templates/${data.id}`, token: admin, body: { name: 'After' } })).data;
      assert.deepEqual([renamed.name, renamed.slug, renamed.template], ['After', 'before', 'one']);
      const reslugged = json(await t.request({ method: 'PUT', url: `/api/v1/incidents/templates/${data.id}`, token: admin, body: { slug: 'after', template: 'two' } })).data;
      assert.deepEqual([reslugged.slug, reslugged.template], ['after', 'two']);
      const same = await t.request({ method: 'PUT', url: `/api/v1/incidents/templates/${data.id}`, token: admin, body: { slug: 'after' } });
      assert.equal(same.statusCode, 200, same.body);
      await refused('PUT', `/api/v1/incidents/templates/${data.id}`, { template: '{% include "x" %}' });
      await refused('PUT', `/api/v1/incidents/templates/${data.id}`, { name: '' });
      assert.equal((await t.request({ method: 'PUT', url: '/api/v1/incidents/templates/999999', token: admin, body: { name: 'x' } })).statusCode, 404);
    });

    it('deletes softly and 404s afterwards', async () => {
      const data = await createTemplate({ name: 'Gone', template: 'x' });
      const deleted = await t.request({ method: 'DELETE', url: `/api/v1/incidents/templates/${data.id}`, token: admin });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, '');
      assert.equal((await t.request({ url: `/api/v1/incidents/templates/${data.id}` })).statusCode, 404);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/incidents/templates/${data.id}`, token: admin })).statusCode, 404);
      const row = await t.database.db.selectFrom('incident_templates').select('deleted_at').where('id', '=', data.id).executeTakeFirstOrThrow();
      assert.ok(row.deleted_at !== null);
      const used = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'x', status: 1, template: 'gone' } });
      assert.equal(used.statusCode, 400);
    });

    it('needs a key with incident-templates.manage to write', async () => {
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/incidents/templates', body: { name: 'x', template: 'x' } })).statusCode, 401);
      const reader = await t.key(['incident-templates.read']);
      assert.equal((await t.request({ method: 'POST', url: '/api/v1/incidents/templates', token: reader, body: { name: 'x', template: 'x' } })).statusCode, 403);
    });

    describe('rendering incident messages', () => {
      it('renders vars into the message on create (Cachet 2.4 test)', async () => {
        const template = await createTemplate({ name: 'Render Vars', template: 'Name: {{ name }},\nMessage: {{ message }}' });
        const response = await t.request({
          method: 'POST',
          url: '/api/v1/incidents',
          token: admin,
          body: { name: 'Foo', status: 1, visible: 1, stickied: false, template: template.slug, vars: { name: 'Foo', message: 'Hello there this is a foo!' } },
        });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(json(response).data.message, 'Name: Foo,\nMessage: Hello there this is a foo!');
      });

      it('renders incident.* with the values after the update on PUT (Cachet 2.4 test)', async () => {
        const template = await createTemplate({ name: 'Render Incident', template: 'Hello there this is a foo in my {{ incident.name }}!' });
        const created = json(await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Bar', status: 1, message: 'original' } })).data;
        const response = await t.request({ method: 'PUT', url: `/api/v1/incidents/${created.id}`, token: admin, body: { name: 'Foo', template: template.slug } });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(json(response).data.message, 'Hello there this is a foo in my Foo!');
        assert.equal(json(response).data.name, 'Foo');
      });

      it('offers the incident fields and its component, and incident cannot be overridden by vars', async () => {
        const component = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'API', status: 1 } })).data;
        const template = await createTemplate({
          name: 'Render Fields',
          template:
            '{{ incident.name }}|{{ incident.status }}|{{ incident.visible }}|{{ incident.stickied }}|{{ incident.notify }}|{{ incident.occurred_at }}|{{ incident.component.name }} {{ incident.component.status_name }}|{{ incident.component_status }}|{{ who | upcase }}',
        });
        const response = await t.request({
          method: 'POST',
          url: '/api/v1/incidents',
          token: admin,
          headers: { 'time-zone': 'America/Mexico_City' },
          body: {
            name: 'Outage',
            status: 2,
            visible: false,
            occurred_at: '2026-11-20 10:00',
            component_id: component.id,
            component_status: 4,
            template: template.slug,
            vars: { who: 'ops', incident: { name: 'spoofed' } },
          },
        });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(json(response).data.message, 'Outage|2|false|false|true|2026-11-20 10:00:00|API Major Outage|4|OPS');
      });

      it('does not expose prototypes or anything beyond the variables', async () => {
        const template = await createTemplate({ name: 'Render Proto', template: '[{{ incident.constructor }}][{{ vars.__proto__ }}][{{ process.env }}][{{ name.constructor.name }}]' });
        const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'p', status: 1, template: template.slug, vars: { name: 'abc' } } });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(json(response).data.message, '[][][][]');
      });

      it('refuses an unknown template slug with a 400 (Cachet 2.4 silently kept the message)', async () => {
        const before = (await t.database.db.selectFrom('incidents').select('id').execute()).length;
        const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'x', status: 1, message: 'm', template: 'no-such-template' } });
        assert.equal(response.statusCode, 400);
        assert.match(json(response).errors[0].detail, /incident template "no-such-template" does not exist/);
        assert.equal((await t.database.db.selectFrom('incidents').select('id').execute()).length, before);
      });

      it('fails safely with a 400 naming the error when a stored template reads files or does not parse', async () => {
        await insertRaw('raw-include', "Secrets: {% include '/etc/passwd' %}");
        await insertRaw('raw-broken', 'Hello {% if %}');
        for (const [slug, pattern] of [['raw-include', /tag "include" not found/], ['raw-broken', /could not be rendered/]] as const) {
          const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'x', status: 1, template: slug } });
          assert.equal(response.statusCode, 400, response.body);
          const error = json(response).errors[0];
          assert.match(error.detail, pattern);
          assert.match(error.meta.details[0], pattern);
          assert.ok(!response.body.includes('root:'), 'no file content leaks');
        }
      });

      it('bounds huge loops and huge output', async () => {
        const cases = [
          ['loop-range', '{% for i in (1..100000000) %}x{% endfor %}'],
          ['loop-nested', '{% for i in (1..3000) %}{% for j in (1..300) %}{{ i }}{% endfor %}{% endfor %}'],
          ['loop-doubling', '{% assign s = "ab" %}{% for i in (1..64) %}{% assign s = s | append: s %}{% endfor %}{{ s }}'],
          ['output-big', '{% for i in (1..100) %}{{ big }}{% endfor %}'],
        ] as const;
        for (const [slug, template] of cases) {
          await createTemplate({ name: slug, slug, template });
          const started = Date.now();
          const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'x', status: 1, template: slug, vars: { big: 'y'.repeat(10_000) } } });
          assert.equal(response.statusCode, 400, `${slug}: ${response.body.slice(0, 200)}`);
          assert.match(json(response).errors[0].detail, /limit exceeded|longer than 65535/, slug);
          assert.ok(Date.now() - started < 3000, `${slug} took ${Date.now() - started} ms`);
        }
      });

      it('keeps the component unchanged when rendering fails', async () => {
        const component = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'Untouched', status: 1 } })).data;
        const response = await t.request({
          method: 'POST',
          url: '/api/v1/incidents',
          token: admin,
          body: { name: 'x', status: 1, component_id: component.id, component_status: 4, template: 'loop-range' },
        });
        assert.equal(response.statusCode, 400);
        assert.equal(json(await t.request({ url: `/api/v1/components/${component.id}` })).data.status, 1);
      });

      it('refuses a template that renders an empty message', async () => {
        await createTemplate({ name: 'Empty Output', template: '{{ nothing }}' });
        const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'x', status: 1, template: 'empty-output' } });
        assert.equal(response.statusCode, 400);
        assert.match(json(response).errors[0].detail, /message field is required/);
      });

      it('refuses a rendered NUL character on both dialects', async () => {
        await createTemplate({ name: 'Nul Output', template: 'a{{ "%00" | url_decode }}b' });
        const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'x', status: 1, template: 'nul-output' } });
        assert.equal(response.statusCode, 400, response.body);
        assert.match(json(response).errors[0].detail, /NUL/);
      });

      it('never answers a 500 to odd vars', async () => {
        const template = await createTemplate({ name: 'Odd Vars', template: '{{ a }}{{ a.b }}{{ a[0] }}' });
        for (const vars of [{ a: null }, { a: [1, 2] }, { a: { b: '🔥' } }, { a: 'x'.repeat(100_000) }, [], 'str', 5, { '': 1, 'a.b': 2 }]) {
          const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'x', status: 1, template: template.slug, vars } });
          assert.ok(response.statusCode === 200 || response.statusCode === 400, `${JSON.stringify(vars).slice(0, 60)} → ${response.statusCode} ${response.body.slice(0, 200)}`);
        }
      });
    });
  });
}
