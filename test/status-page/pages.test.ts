import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { loadConfig } from '../../src/config.js';
import { createPageCache } from '../../src/features/status-page/status-page.cache.js';
import { uptimeBar } from '../../src/features/status-page/uptime.js';
import { buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { dialects, freshDatabase } from '../helpers/dialects.js';
import { fixedClock } from '../../src/infra/clock.js';
import { createLogger } from '../../src/logger.js';
import { createServer } from '../../src/main.js';
import { seedStatusPage, type SeededPage } from '../helpers/status-page.js';

const page = (t: TestApp, url: string, headers: Record<string, string> = {}) => t.server.app.inject({ method: 'GET', url, headers });

for (const dialect of await dialects()) {
  describe(`status page (${dialect})`, () => {
    let t: TestApp;
    let seeded: SeededPage;
    before(async () => {
      t = await buildTestApp(dialect);
      seeded = await seedStatusPage(t);
    });
    after(() => t.close());

    it('shows the overall status of /api/v1/status, public components by group, current incidents with updates, and maintenance', async () => {
      const response = await page(t, '/');
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/html; charset=utf-8/);
      const status = json<{ data: { message: string } }>(await t.request({ url: '/api/v1/status' })).data;
      assert.ok(response.body.includes(`<p>${status.message}</p>`), status.message);
      for (const text of ['Core services', seeded.publicComponent.name, 'Partial Outage', seeded.publicIncident.name, seeded.publicIncident.update, seeded.schedule.name]) {
        assert.ok(response.body.includes(text), `missing ${text}`);
      }
      assert.ok(response.body.includes(`href="/schedules/${seeded.schedule.id}"`));
    });

    it("folds a group per its collapsed setting: 2 folds while every component is operational, 0 never folds", async () => {
      const admin = await t.key(['*']);
      const group = await t.request({ method: 'POST', url: '/api/v1/components/groups', token: admin, body: { name: 'Edge', visible: true, collapsed: 2 } });
      const groupId = json<{ data: { id: number } }>(group).data.id;
      await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'CDN', status: 1, group_id: groupId } });
      assert.match((await page(t, '/')).body, /<details class="group">\n<summary><h3>Edge<\/h3>/);
      await t.request({ method: 'PUT', url: '/api/v1/components/groups/' + groupId, token: admin, body: { collapsed: 0 } });
      assert.match((await page(t, '/')).body, /<details class="group" open>\n<summary><h3>Edge<\/h3>/);
      await t.request({ method: 'DELETE', url: '/api/v1/components/groups/' + groupId, token: admin });
    });

    it('draws a public metric as an SVG chart over its default view, with its values as text, and not a hidden metric', async () => {
      const body = (await page(t, '/')).body;
      assert.ok(body.includes(seeded.publicMetric.name));
      assert.match(body, /<svg class="chart"[^>]*aria-label="Response time, last hour: latest 150 ms, lowest 0, highest 150"><polyline points="[\d., ]+"\/><\/svg>/);
      assert.ok(!body.includes(seeded.hiddenMetric.name));
    });

    it("shows guests' things only: no disabled component, hidden group or hidden incident on /, /history or the feeds", async () => {
      for (const url of ['/', '/history', '/rss', '/atom']) {
        const body = (await page(t, url)).body;
        for (const secret of [seeded.disabledComponent.name, seeded.hiddenGroupComponent.name, seeded.hiddenGroup, seeded.hiddenIncident.name]) {
          assert.ok(!body.includes(secret), `${url} shows ${secret}`);
        }
      }
      // Counted as the API counts for guests: the hidden incident is not among the history's incidents.
      const history = (await page(t, '/history')).body;
      assert.equal((history.match(/<article class="incident"/g) ?? []).length, 2);
    });

    it('answers a hidden incident, a missing one and a malformed id with an HTML 404 page', async () => {
      for (const url of [`/incidents/${seeded.hiddenIncident.id}`, '/incidents/999999', '/incidents/abc', '/schedules/999999', '/no-such-page', '/history?page=99']) {
        const response = await page(t, url);
        assert.equal(response.statusCode, 404, url);
        assert.match(String(response.headers['content-type']), /^text\/html/, url);
        assert.match(response.body, /Page not found/, url);
        assert.match(String(response.headers['content-security-policy']), /script-src 'none'/, url);
      }
    });

    it("keeps the API's JSON envelope for API errors, without the pages' headers", async () => {
      const missing = await t.request({ url: '/api/v1/no-such-thing' });
      assert.equal(missing.statusCode, 404);
      assert.match(String(missing.headers['content-type']), /^application\/json/);
      assert.equal(json(missing).errors[0].status, 404);
      assert.equal(missing.headers['content-security-policy'], undefined);
      const wrongMethod = await t.request({ method: 'DELETE', url: '/api/v1/ping' });
      assert.equal(wrongMethod.statusCode, 405);
    });

    it('shows an incident with its updates, and a schedule, on their own pages', async () => {
      const incident = await page(t, `/incidents/${seeded.publicIncident.id}`);
      assert.equal(incident.statusCode, 200);
      assert.ok(incident.body.includes(seeded.publicIncident.name));
      assert.ok(incident.body.includes(seeded.publicIncident.update));
      assert.ok(incident.body.includes('Identified'));
      const schedule = await page(t, `/schedules/${seeded.schedule.id}`);
      assert.equal(schedule.statusCode, 200);
      assert.ok(schedule.body.includes('Upgrading the database.'));
    });

    it('renders markup in an incident as text in pages and feeds', async () => {
      for (const url of ['/', '/history', `/incidents/${seeded.xssIncident.id}`, '/rss', '/atom']) {
        const body = (await page(t, url)).body;
        assert.ok(!body.includes('<script>alert(1)'), `${url} carries a script element`);
        assert.ok(!body.includes('<img src=x'), `${url} carries an img element`);
        if (!url.startsWith('/incidents') || url.endsWith(String(seeded.xssIncident.id))) assert.ok(body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), url);
      }
    });

    it('serves RSS 2.0 and Atom that parse as XML, with XML types, the visible incidents and links from the public URL', async () => {
      const parser = new XMLParser({ ignoreAttributes: false });
      const rss = await page(t, '/rss');
      assert.equal(rss.statusCode, 200);
      assert.match(String(rss.headers['content-type']), /^application\/rss\+xml/);
      assert.equal(XMLValidator.validate(rss.body), true);
      const channel = parser.parse(rss.body).rss.channel;
      const rssItems = [channel.item].flat() as Array<{ title: string; link: string }>;
      assert.deepEqual(rssItems.map((i) => i.title).sort(), [`${seeded.publicIncident.name} (Identified)`, `${seeded.xssIncident.name} (Investigating)`].sort());
      assert.ok(rssItems.every((i) => i.link.startsWith('http://status.test/incidents/')));
      const atom = await page(t, '/atom');
      assert.match(String(atom.headers['content-type']), /^application\/atom\+xml/);
      assert.equal(XMLValidator.validate(atom.body), true);
      const entries = [parser.parse(atom.body).feed.entry].flat() as Array<{ title: { '#text': string } }>;
      assert.deepEqual(entries.map((e) => e.title['#text']).sort(), rssItems.map((i) => i.title).sort());
      const head = (await page(t, '/')).body;
      assert.ok(head.includes('<link rel="alternate" type="application/rss+xml" title="Cachet (RSS)" href="http://status.test/rss">'));
      assert.ok(head.includes('<link rel="alternate" type="application/atom+xml" title="Cachet (Atom)" href="http://status.test/atom">'));
    });

    it('answers a matching If-None-Match with 304, and a write through the API changes the ETag', async () => {
      const first = await page(t, '/');
      const etag = String(first.headers.etag);
      assert.match(etag, /^"[\w-]+"$/);
      assert.match(String(first.headers['cache-control']), /^public, max-age=\d+, stale-while-revalidate=\d+$/);
      const again = await page(t, '/', { 'if-none-match': etag });
      assert.equal(again.statusCode, 304);
      assert.equal(again.body, '');
      const admin = await t.key(['*']);
      const changed = await t.request({ method: 'PUT', url: `/api/v1/components/${seeded.publicComponent.id}`, token: admin, body: { name: 'Public API v2' } });
      assert.equal(changed.statusCode, 200);
      const after = await page(t, '/', { 'if-none-match': etag });
      assert.equal(after.statusCode, 200);
      assert.notEqual(after.headers.etag, etag);
      assert.ok(after.body.includes('Public API v2'));
      await t.request({ method: 'PUT', url: `/api/v1/components/${seeded.publicComponent.id}`, token: admin, body: { name: seeded.publicComponent.name } });
    });

    it('sends a strict CSP without inline script, nosniff, a referrer policy and a static stylesheet', async () => {
      const response = await page(t, '/');
      const csp = String(response.headers['content-security-policy']);
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['referrer-policy'], 'strict-origin-when-cross-origin');
      assert.doesNotMatch(response.body, /<script|style=/);
      const css = await page(t, '/assets/status.css');
      assert.equal(css.statusCode, 200);
      assert.match(String(css.headers['content-type']), /^text\/css/);
    });

    it('records every status change of a component, from the API and from an incident, and shows it in the uptime bar', async () => {
      const rows = await t.database.db
        .selectFrom('component_status_history')
        .select(['status'])
        .where('component_id', '=', seeded.publicComponent.id)
        .orderBy('id')
        .execute();
      assert.deepEqual(rows.map((r) => r.status), [1, 3]);
      const body = (await page(t, '/')).body;
      assert.ok(body.includes('title="2026-11-25: Partial Outage"'));
      assert.match(body, /aria-label="Public API: 90-day status history, 0% of days fully operational, 1 day\(s\) with issues"/);
    });

    it('is not audited and needs no key', async () => {
      const count = async () => Number((await t.database.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      const before = await count();
      for (const url of ['/', '/history', '/rss', '/no-such-page']) await page(t, url, { 'x-cachet-token': 'not-a-key' });
      assert.equal(await count(), before);
    });
  });
}

describe('status page settings', () => {
  it('shows the site name, the about text as Markdown without raw HTML, the custom stylesheet, and dates in the configured language and zone', async (t) => {
    const app = await buildTestApp('sqlite', { locale: 'de', timezone: 'Europe/Berlin', siteName: 'Acme <Status>', about: '**Hello** <b>raw</b> [docs](https://docs.example.com)', stylesheetUrl: 'https://cdn.example.com/acme.css' });
    t.after(() => app.close());
    const response = await page(app, '/');
    assert.ok(response.body.includes('<title>Acme &lt;Status&gt;</title>'));
    assert.ok(response.body.includes('<strong>Hello</strong> &lt;b&gt;raw&lt;/b&gt;'));
    assert.ok(response.body.includes('<a href="https://docs.example.com">docs</a>'));
    assert.ok(response.body.includes('<link rel="stylesheet" href="https://cdn.example.com/acme.css">'));
    assert.match(String(response.headers['content-security-policy']), /style-src 'self' https:\/\/cdn\.example\.com/);
    // Dates in the configured language and zone.
    const admin = await app.key(['*']);
    await app.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'Outage', message: 'Down.', status: 1, visible: 1 } });
    assert.match((await page(app, '/history')).body, /Mittwoch, 25\. November 2026/);
    assert.match((await page(app, '/')).body, /25\.11\.2026, 13:00 MEZ|25\. Nov\. 2026, 13:00 MEZ/);
  });

  it('reads CACHET_SITE_NAME, CACHET_ABOUT, CACHET_STYLESHEET_URL and CACHET_LOCALE, and refuses a stylesheet URL that is not http(s) or an unknown locale', () => {
    const base = { CACHET_PEPPER: 'x'.repeat(40), CACHET_DATA_DIR: '/tmp/page-config' };
    const config = loadConfig({ ...base, CACHET_SITE_NAME: 'Acme', CACHET_ABOUT: 'Hi', CACHET_STYLESHEET_URL: 'https://cdn.example.com/a.css', CACHET_LOCALE: 'de-CH' });
    assert.deepEqual([config.siteName, config.about, config.stylesheetUrl, config.locale], ['Acme', 'Hi', 'https://cdn.example.com/a.css', 'de-CH']);
    assert.deepEqual([loadConfig(base).siteName, loadConfig(base).stylesheetUrl, loadConfig(base).locale], ['Cachet', null, 'en']);
    assert.throws(() => loadConfig({ ...base, CACHET_LOCALE: 'not a locale!' }), /CACHET_LOCALE/);
    assert.throws(() => loadConfig({ ...base, CACHET_STYLESHEET_URL: 'javascript:alert(1)' }), /CACHET_STYLESHEET_URL/);
  });
});

describe('status page errors', () => {
  it('answers a page with an HTML 503 when the database is down, while the API keeps its JSON envelope', async (t) => {
    const app = await buildTestApp('sqlite');
    t.after(() => app.server.close());
    await app.database.close();
    const pageResponse = await page(app, '/history');
    assert.equal(pageResponse.statusCode, 503);
    assert.match(String(pageResponse.headers['content-type']), /^text\/html/);
    assert.match(pageResponse.body, /Something went wrong/);
    assert.equal(pageResponse.headers['retry-after'], '5');
    assert.match(String(pageResponse.headers['content-security-policy']), /script-src 'none'/);
    const api = await app.request({ url: '/api/v1/components' });
    assert.equal(api.statusCode, 503);
    assert.equal(json(api).errors[0].status, 503);
  });
});

describe('page render cache', () => {
  it('serves a burst of a thousand concurrent visitors of / with at most one render of database queries', async (t) => {
    const database = await freshDatabase('sqlite');
    let queries = 0;
    const counting = database.db.withPlugin({
      transformQuery: (args) => {
        queries += 1;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const server = await createServer(testConfig(), createLogger('silent'), { ...database, db: counting }, fixedClock(new Date('2026-11-25T12:00:00Z')));
    t.after(async () => {
      await server.close();
      await database.close();
    });
    const created = await server.keys.create({ name: 'burst', scopes: ['*'], createdBy: 'cli' });
    assert.ok(created.ok);
    const write = (name: string) =>
      server.app.inject({ method: 'POST', url: '/api/v1/components', headers: { 'x-cachet-token': created.token, accept: 'application/json' }, payload: { name, status: 1 } });
    assert.equal((await write('First')).statusCode, 200);
    queries = 0;
    assert.equal((await server.app.inject({ url: '/' })).statusCode, 200);
    const oneRender = queries;
    assert.ok(oneRender > 0);
    // A write drops the render; the burst that follows renders once between them.
    assert.equal((await write('Second')).statusCode, 200);
    queries = 0;
    const responses = await Promise.all(Array.from({ length: 1000 }, () => server.app.inject({ url: '/' })));
    assert.ok(responses.every((r) => r.statusCode === 200 && r.body.includes('Second')));
    assert.ok(queries <= oneRender, `${queries} queries for the burst, ${oneRender} for one render`);
  });

  it('renders once for a burst of a thousand concurrent visitors, and again after invalidation', async () => {
    let renders = 0;
    const cache = createPageCache();
    const render = async () => {
      renders += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { status: 200, type: 'text/html', body: `render ${renders}` };
    };
    const pages = await Promise.all(Array.from({ length: 1000 }, () => cache.get('/', render)));
    assert.equal(renders, 1);
    assert.equal(new Set(pages.map((p) => p.etag)).size, 1);
    cache.invalidate();
    await cache.get('/', render);
    assert.equal(renders, 2);
  });

  it('renders again once the TTL has passed', async () => {
    let now = 0;
    let renders = 0;
    const cache = createPageCache(() => now, 1000);
    const render = async () => ({ status: 200, type: 'text/html', body: String(++renders) });
    await cache.get('/', render);
    now = 999;
    await cache.get('/', render);
    assert.equal(renders, 1);
    now = 1000;
    await cache.get('/', render);
    assert.equal(renders, 2);
  });
});

describe('uptime bar', () => {
  it('folds changes into the worst status per day over 90 days, carrying the status from before the window', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    const bar = uptimeBar(
      [
        { status: 1, at: '2026-01-01T00:00:00.000Z' },
        { status: 4, at: '2026-11-24T10:00:00.000Z' },
        { status: 1, at: '2026-11-24T11:00:00.000Z' },
      ],
      now,
    );
    assert.equal(bar.days.length, 90);
    assert.equal(bar.days.at(-1)!.date, '2026-11-25');
    assert.deepEqual(bar.days.slice(-3).map((d) => d.worst), [1, 4, 1]);
    assert.equal(bar.days[0]!.worst, 1);
    assert.equal(bar.percent, Math.round((89 / 90) * 1000) / 10);
    assert.equal(uptimeBar([], now).percent, null);
  });
});
