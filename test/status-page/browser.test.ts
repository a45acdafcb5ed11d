/**
 * The status page in a real browser: Debian's Chromium driven by playwright-core (never a downloaded
 * browser). Skipped when `chromium` is not on PATH, unless CACHET_TEST_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { REQUIRE_SERVICES } from '../helpers/dialects.js';
import { seedStatusPage, type SeededPage } from '../helpers/status-page.js';

const CHROMIUM = (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'chromium')).find((file) => existsSync(file)) ?? null;
if (!CHROMIUM && REQUIRE_SERVICES) throw new Error('chromium is required (CACHET_TEST_REQUIRE_SERVICES=1) but is not on PATH: apt-get install -y chromium');

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const ARTIFACTS = path.resolve('test-artifacts');

interface AxeViolation {
  id: string;
  impact: string | null;
  nodes: Array<{ target: string[] }>;
}

describe('status page in Chromium', { skip: CHROMIUM ? false : 'chromium is not on PATH' }, () => {
  let t: TestApp;
  let seeded: SeededPage;
  let base: string;
  let browser: Browser;
  before(async () => {
    t = await buildTestApp('sqlite');
    seeded = await seedStatusPage(t);
    base = await t.server.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  /** A fresh page that records every dialog it is asked to open. */
  async function open(url: string, options: { bypassCSP?: boolean; viewport?: { width: number; height: number } } = {}): Promise<{ page: Page; dialogs: string[]; status: number }> {
    const context = await browser.newContext({ bypassCSP: options.bypassCSP ?? false, viewport: options.viewport ?? { width: 1280, height: 800 } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const response = await page.goto(base + url);
    return { page, dialogs, status: response?.status() ?? 0 };
  }

  it('shows a guest the component and incident created through the API, and the incident page its updates', async () => {
    const { page } = await open('/');
    const text = await page.locator('main').innerText();
    assert.ok(text.includes(seeded.publicComponent.name));
    assert.ok(text.includes(seeded.publicIncident.name));
    await page.getByRole('link', { name: seeded.publicIncident.name }).first().click();
    await page.waitForURL(`**/incidents/${seeded.publicIncident.id}`);
    assert.equal(await page.locator('h1').innerText(), seeded.publicIncident.name);
    assert.ok((await page.locator('main').innerText()).includes(seeded.publicIncident.update));
    await page.context().close();
  });

  it('shows no disabled component, hidden group or hidden incident on /, /history, the feeds, and 404s their own URL', async () => {
    for (const url of ['/', '/history']) {
      const { page } = await open(url);
      const text = await page.locator('body').innerText();
      for (const secret of [seeded.disabledComponent.name, seeded.hiddenGroupComponent.name, seeded.hiddenGroup, seeded.hiddenIncident.name]) assert.ok(!text.includes(secret), `${url} shows ${secret}`);
      await page.context().close();
    }
    for (const url of ['/rss', '/atom']) {
      const body = await (await fetch(base + url)).text();
      assert.ok(!body.includes(seeded.hiddenIncident.name), url);
    }
    const hidden = await open(`/incidents/${seeded.hiddenIncident.id}`);
    assert.equal(hidden.status, 404);
    assert.equal(await hidden.page.locator('h1').innerText(), 'Page not found');
    await hidden.page.context().close();
  });

  it("shows the incident's component status change in the component's uptime bar", async () => {
    const { page } = await open('/');
    const bar = page.getByRole('img', { name: new RegExp(`^${seeded.publicComponent.name}: 90-day status history`) });
    assert.match(String(await bar.getAttribute('aria-label')), /1 day\(s\) with issues/);
    assert.equal(await bar.locator('span').last().getAttribute('title'), '2026-11-25: Partial Outage');
    await page.context().close();
  });

  it('renders the <script> incident and the onerror image as text, and no dialog opens', async () => {
    for (const url of ['/', '/history', `/incidents/${seeded.xssIncident.id}`]) {
      const { page, dialogs } = await open(url);
      const text = await page.locator('main').innerText();
      assert.ok(text.includes(seeded.xssIncident.name), url);
      assert.ok(text.includes(seeded.xssIncident.message), url);
      assert.equal(await page.locator('main script, main img').count(), 0, url);
      await page.waitForTimeout(100);
      assert.deepEqual(dialogs, [], url);
      await page.context().close();
    }
  });

  it('has no serious or critical axe-core violation on /, /history, an incident and a schedule', async () => {
    for (const url of ['/', '/history', `/incidents/${seeded.publicIncident.id}`, `/schedules/${seeded.schedule.id}`, '/no-such-page']) {
      // axe is injected by the test, so the page's own CSP (no script at all) is bypassed for it alone.
      const { page } = await open(url, { bypassCSP: true });
      await page.evaluate(AXE_SOURCE);
      const violations = await page.evaluate(async () => {
        const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
        return (await axe.run()).violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => ({ target: n.target })) }));
      });
      const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(serious, [], `${url}: ${JSON.stringify(serious)}`);
      await page.context().close();
    }
  });

  it('saves screenshots of / on a desktop and a phone viewport', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const [name, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]] as const) {
      const { page } = await open('/', { viewport });
      const file = path.join(ARTIFACTS, `status-page-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(existsSync(file));
      // Nothing wider than the viewport: usable on a phone without sideways scrolling.
      assert.ok((await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)) <= viewport.width, name);
      await page.context().close();
    }
  });
});
