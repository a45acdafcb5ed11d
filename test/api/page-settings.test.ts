import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAudited } from '../../src/features/audit/audited.js';
import { systemContext } from '../../src/features/audit/audit.types.js';
import { createPageSettingsService, validatePageSettings, type PageSettingsInput } from '../../src/features/settings/settings.service.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const page = (t: TestApp, url: string) => t.server.app.inject({ method: 'GET', url });

/** The policy every page sends, with `styles` as its style-src sources. */
const csp = (styles: string) => `default-src 'none';style-src ${styles};img-src 'self' data:;font-src 'self';script-src 'none';base-uri 'none';form-action 'self';frame-ancestors 'none'`;

const ENV = { siteName: 'Env Status', about: 'From the **environment**.', stylesheetUrl: 'https://env.example.com/env.css', locale: 'en' };

for (const dialect of await dialects()) {
  describe(`page settings (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp(dialect, ENV);
    });
    after(() => t.close());

    /** Updates the settings as the dashboard will: in an audited transaction (here as the system actor). */
    const update = (input: PageSettingsInput) =>
      createAudited(t.database.db, t.server.audit.writer)(systemContext('cachet test'), (trx) => t.server.app.statusPage.settings.update(trx, input));
    const rows = async () =>
      Object.fromEntries(
        (await t.database.db.selectFrom('settings').select(['name', 'value']).where('name', 'like', 'page.%').where('name', '!=', 'page.lock').orderBy('name').execute()).map((r) => [r.name, r.value]),
      );
    const events = () =>
      t.database.db.selectFrom('audit_events').select(['action', 'resource_type', 'resource_id', 'actor_type', 'changes']).where('action', '=', 'settings.update').orderBy('seq').execute();

    it("shows the environment's values until a value is stored", async () => {
      assert.deepEqual(await t.server.app.statusPage.settings.get(t.database.db), ENV);
      assert.deepEqual(await rows(), {});
      const response = await page(t, '/');
      assert.equal(response.statusCode, 200);
      assert.ok(response.body.includes('<title>Env Status</title>'));
      assert.ok(response.body.includes('From the <strong>environment</strong>.'));
      assert.ok(response.body.includes('<link rel="stylesheet" href="https://env.example.com/env.css">'));
      assert.equal(response.headers['content-security-policy'], csp("'self' https://env.example.com"));
    });

    it('shows a changed site name and about text once the page cache is invalidated, the about as Markdown with raw HTML escaped', async () => {
      assert.ok((await page(t, '/')).body.includes('<title>Env Status</title>'));
      const result = await update({ siteName: '  Acme Status  ', about: '<script>alert(1)</script>\n\n**Bold** and <b>raw</b>' });
      assert.deepEqual(result, { ok: true, settings: { ...ENV, siteName: 'Acme Status', about: '<script>alert(1)</script>\n\n**Bold** and <b>raw</b>' } });
      // Until invalidated, the page rendered a moment ago is served (the cache's TTL bounds how long).
      assert.ok((await page(t, '/')).body.includes('<title>Env Status</title>'));
      t.server.app.statusPage.invalidate();
      const body = (await page(t, '/')).body;
      assert.ok(body.includes('<title>Acme Status</title>'));
      assert.ok(body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), body);
      assert.ok(body.includes('<strong>Bold</strong> and &lt;b&gt;raw&lt;/b&gt;'));
      assert.doesNotMatch(body, /<script|<b>/);
      assert.deepEqual(await rows(), { 'page.about': '<script>alert(1)</script>\n\n**Bold** and <b>raw</b>', 'page.site_name': 'Acme Status' });
      // The feeds and the other pages carry the name too.
      assert.match((await page(t, '/rss')).body, /<title>Acme Status<\/title>/);
      assert.match((await page(t, '/no-such-page')).body, /<title>Not found · Acme Status<\/title>/);
    });

    it('refuses invalid input with a message per field and changes nothing', async () => {
      const stored = await rows();
      const eventsBefore = (await events()).length;
      const cases: Array<[PageSettingsInput, RegExp[]]> = [
        [{ stylesheetUrl: 'javascript:alert(1)' }, [/stylesheet URL/]],
        [{ stylesheetUrl: 'cdn.example.com/x.css' }, [/stylesheet URL/]],
        [{ stylesheetUrl: 'https://a;b.example/x.css' }, [/stylesheet URL/]],
        [{ stylesheetUrl: `https://cdn.example.com/${'x'.repeat(500)}.css` }, [/stylesheet URL may not be greater than 500/]],
        [{ locale: 'not a locale!' }, [/locale/]],
        [{ siteName: '' }, [/site name is required/]],
        [{ siteName: '   ' }, [/site name is required/]],
        [{ siteName: 'x'.repeat(101) }, [/site name may not be greater than 100/]],
        [{ about: 'x'.repeat(10_001) }, [/about text may not be greater than 10000/]],
        // A valid field beside an invalid one is not stored either.
        [{ siteName: 'Would be fine', locale: 'xx-!!' }, [/locale/]],
        [{ siteName: '', stylesheetUrl: 'ftp://cdn.example.com/x.css', locale: '??' }, [/site name/, /stylesheet URL/, /locale/]],
      ];
      for (const [input, expected] of cases) {
        const result = await update(input);
        assert.equal(result.ok, false, JSON.stringify(input));
        if (result.ok) continue;
        assert.equal(result.errors.length, expected.length, result.errors.join(' | '));
        expected.forEach((pattern, i) => assert.match(result.errors[i]!, pattern));
      }
      assert.deepEqual(await rows(), stored);
      assert.equal((await events()).length, eventsBefore);
      assert.deepEqual(validatePageSettings({ siteName: 'Fine', stylesheetUrl: '', locale: 'de-ch' }), { ok: true, values: { siteName: 'Fine', stylesheetUrl: null, locale: 'de-CH' } });
    });

    it('writes one settings.update event with the before and after of the changed fields only, and none for a change of nothing', async () => {
      const before = await events();
      const current = await t.server.app.statusPage.settings.get(t.database.db);
      const result = await update({ siteName: 'Audited Status', about: current.about, locale: 'de' });
      assert.ok(result.ok);
      const added = (await events()).slice(before.length);
      assert.equal(added.length, 1);
      assert.equal(added[0]!.resource_type, 'settings');
      assert.equal(added[0]!.resource_id, 'page');
      assert.equal(added[0]!.actor_type, 'system');
      assert.deepEqual(JSON.parse(added[0]!.changes!), { siteName: [current.siteName, 'Audited Status'], locale: ['en', 'de'] });
      // The same values again: nothing changes, nothing is recorded.
      assert.deepEqual(await update({ siteName: 'Audited Status', locale: 'de' }), { ok: true, settings: { ...current, siteName: 'Audited Status', locale: 'de' } });
      assert.equal((await events()).length, before.length + 1);
    });

    it('shows dates in a changed language', async () => {
      const admin = await t.key(['*']);
      const created = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Outage', message: 'Down.', status: 1, visible: 1 } });
      assert.equal(created.statusCode, 200);
      t.server.app.statusPage.invalidate();
      assert.match((await page(t, '/history')).body, /Mittwoch, 25\. November 2026/);
      assert.ok((await update({ locale: 'en-GB' })).ok);
      t.server.app.statusPage.invalidate();
      assert.match((await page(t, '/history')).body, /Wednesday,? 25 November 2026/);
    });

    it("names a changed stylesheet's origin in the Content-Security-Policy's style-src, and only 'self' without one", async () => {
      assert.ok((await update({ stylesheetUrl: 'https://cdn.other.example:8443/theme.css' })).ok);
      t.server.app.statusPage.invalidate();
      for (const url of ['/', '/history', '/no-such-page']) {
        const response = await page(t, url);
        assert.ok(response.body.includes('<link rel="stylesheet" href="https://cdn.other.example:8443/theme.css">'), url);
        assert.equal(response.headers['content-security-policy'], csp("'self' https://cdn.other.example:8443"), url);
      }
      // A revalidation (304) carries the same policy.
      const first = await page(t, '/');
      const revalidated = await t.server.app.inject({ url: '/', headers: { 'if-none-match': String(first.headers.etag) } });
      assert.equal(revalidated.statusCode, 304);
      assert.equal(revalidated.headers['content-security-policy'], csp("'self' https://cdn.other.example:8443"));

      const was = await t.server.app.statusPage.settings.get(t.database.db);
      assert.deepEqual(await update({ stylesheetUrl: '' }), { ok: true, settings: { ...was, stylesheetUrl: null } });
      assert.equal((await rows())['page.stylesheet_url'], '');
      t.server.app.statusPage.invalidate();
      const plain = await page(t, '/');
      assert.doesNotMatch(plain.body, /<link rel="stylesheet" href="https:/);
      assert.equal(plain.headers['content-security-policy'], csp("'self'"));
      // The other headers are the pages' as before.
      assert.equal(plain.headers['x-content-type-options'], 'nosniff');
      assert.equal(plain.headers['referrer-policy'], 'strict-origin-when-cross-origin');
      assert.equal((await page(t, '/assets/status.css')).headers['content-security-policy'], csp("'self'"));
    });
  });
}

describe('page settings service', () => {
  it("falls back to the environment's value for a stored value that no longer passes its check", async (t) => {
    const app = await buildTestApp('sqlite');
    t.after(() => app.close());
    const service = createPageSettingsService({ defaults: { siteName: 'Default', about: '', stylesheetUrl: null, locale: 'en' } });
    await app.database.db.insertInto('settings').values([
      { name: 'page.site_name', value: '' },
      { name: 'page.stylesheet_url', value: 'https://a;script-src *.example/x.css' },
      { name: 'page.locale', value: 'de' },
    ]).execute();
    assert.deepEqual(await service.get(app.database.db), { siteName: 'Default', about: '', stylesheetUrl: null, locale: 'de' });
  });

  it('refuses a change outside an audited transaction', async (t) => {
    const app = await buildTestApp('sqlite');
    t.after(() => app.close());
    await assert.rejects(
      app.database.db.transaction().execute((trx) => app.server.app.statusPage.settings.update(trx, { siteName: 'Unaudited' })),
      /unaudited change to settings page/,
    );
    assert.equal((await app.server.app.statusPage.settings.get(app.database.db)).siteName, 'Cachet');
  });
});
