/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
 * `cachet serve` process whose admin was made with the CLI: keys created, used, rotated and revoked
 * in the browser and audited; content managed in the browser and shown on the status page;
 * two-factor sign-in set up; axe-core on every dashboard page; screenshots under test-artifacts/.
 * Skipped when `chromium` is not on PATH, unless CACHET_TEST_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REQUIRE_SERVICES } from '../helpers/dialects.js';
import { envFor, exited, freshUrl, start, type Instance } from '../helpers/processes.js';

const CHROMIUM = (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'chromium')).find((file) => existsSync(file)) ?? null;
if (!CHROMIUM && REQUIRE_SERVICES) throw new Error('chromium is required (CACHET_TEST_REQUIRE_SERVICES=1) but is not on PATH: apt-get install -y chromium');

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const ARTIFACTS = path.resolve('test-artifacts');
const BIN = path.resolve('bin/cachet.js');
const ADMIN = 'admin@example.org';
const PASSWORD = 'browser test password 1';

interface AxeViolation {
  id: string;
  impact: string | null;
  nodes: Array<{ target: string[] }>;
}

describe('dashboard in Chromium', { skip: CHROMIUM ? false : 'chromium is not on PATH' }, () => {
  let dir: string;
  let url: string;
  let server: Instance;
  let base: string;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-dashboard-browser-'));
    url = (await freshUrl('sqlite', dir)).url;
    const created = spawnSync(process.execPath, [BIN, 'users', 'create', '--email', ADMIN, '--admin'], { env: envFor(dir, url), input: `${PASSWORD}\n`, encoding: 'utf8', timeout: 60_000 });
    assert.equal(created.status, 0, created.stderr);
    server = await start(dir, url);
    base = `http://127.0.0.1:${server.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await admin.newPage();
    // Confirmation prompts (data-confirm) are accepted, and counted.
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    if (server) {
      server.child.kill('SIGTERM');
      await exited(server.child);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const api = (path: string, token: string, init: RequestInit = {}) =>
    fetch(base + path, { ...init, headers: { 'x-cachet-token': token, accept: 'application/json', 'content-type': 'application/json', ...(init.headers ?? {}) } });

  async function signIn(on: Page, email = ADMIN) {
    await on.goto(`${base}/dashboard`);
    assert.match(on.url(), /\/dashboard\/login$/);
    await on.getByLabel('Email').fill(email);
    await on.getByLabel('Password').fill(PASSWORD);
    await on.getByRole('button', { name: 'Sign in' }).click();
  }

  async function axe(on: Page, label: string) {
    // The page's CSP forbids inline scripts: axe is evaluated through the DevTools protocol instead of a script tag.
    const violations = await on.evaluate<AxeViolation[]>(AXE_SOURCE + '\n;axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)');
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(serious.map((v) => `${label}: ${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), []);
  }

  let keyId = 0;
  let token = '';

  it('an admin made with the CLI signs in, creates a key with two scopes and reads its token once', async () => {
    await signIn(page);
    await page.waitForURL(`${base}/dashboard`);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Overview');
    await page.goto(`${base}/dashboard/keys/new`);
    await page.getByLabel('Name', { exact: true }).fill('monitor <script>alert(1)</script>');
    await page.getByLabel(/^Purpose/).fill('uptime monitor of the API team');
    // Nothing checked cannot be submitted; nor can `*` without its own confirmation.
    const keysBefore = (await page.locator('main').innerText()).length;
    await page.getByRole('button', { name: 'Create key' }).click();
    assert.equal(page.url(), `${base}/dashboard/keys/new`);
    assert.equal(await page.locator('input[name="scopes"]').first().evaluate((box) => (box as unknown as { validationMessage: string }).validationMessage), 'Choose at least one scope.');
    await page.check('input[name="scopes"][value="*"]');
    await page.getByRole('button', { name: 'Create key' }).click();
    assert.equal(page.url(), `${base}/dashboard/keys/new`);
    assert.equal((await page.locator('main').innerText()).length, keysBefore, 'still the empty form');
    await page.uncheck('input[name="scopes"][value="*"]');
    await page.check('input[name="scopes"][value="components.read"]');
    await page.check('input[name="scopes"][value="incidents.manage"]');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.waitForSelector('#new-token');
    token = (await page.locator('#new-token').innerText()).trim();
    assert.match(token, /^cachet_[0-9A-Za-z]{49}$/);
    assert.ok((await page.locator('.once').innerText()).includes('you will not see it again'));
    assert.ok(!page.url().includes(token), 'never in a URL');
    keyId = Number(/\/dashboard\/keys\/(\d+)/.exec(await page.locator('.facts a').first().getAttribute('href') ?? '')![1]);
  });

  it('the token works against the API for its scopes and is refused beyond them', async () => {
    assert.equal((await api('/api/v1/components', token)).status, 200);
    assert.equal((await api('/api/v1/incidents', token)).status, 200);
    assert.equal((await api('/api/v1/components', token, { method: 'POST', body: JSON.stringify({ name: 'x', status: 1 }) })).status, 403);
    assert.equal((await api('/api/v1/keys', token)).status, 403);
  });

  it('no page served again shows the token; the keys page is saved as a screenshot', async () => {
    for (const target of ['/dashboard/keys', `/dashboard/keys/${keyId}`, '/dashboard', '/dashboard/audit']) {
      await page.goto(base + target);
      assert.ok(!(await page.content()).includes(token), `${target} shows the token`);
    }
    await page.goto(`${base}/dashboard/keys`);
    await page.reload();
    assert.ok(!(await page.content()).includes(token));
    assert.ok((await page.locator('main').innerText()).includes('monitor <script>alert(1)</script>'), 'the name is shown as text');
    assert.deepEqual(dialogs, [], 'no script ran from the key name');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-keys.png'), fullPage: true });
  });

  let successor = '';
  it('rotates the key with a grace: the new token is shown once, both work during the grace', async () => {
    await page.goto(`${base}/dashboard/keys/${keyId}`);
    await page.getByLabel(/^Grace period/).fill('1h');
    await page.getByLabel('I want to rotate this key now').check();
    await page.getByRole('button', { name: 'Rotate' }).click();
    await page.waitForSelector('#new-token');
    successor = (await page.locator('#new-token').innerText()).trim();
    assert.notEqual(successor, token);
    assert.equal(dialogs.at(-1), 'Rotate this key now?');
    assert.equal((await api('/api/v1/components', token)).status, 200, 'the old token works during the grace');
    assert.equal((await api('/api/v1/components', successor)).status, 200);
  });

  it('revokes the successor after a confirmation: its token stops working', async () => {
    await page.goto(`${base}/dashboard/keys`);
    const successorId = Number(/\/dashboard\/keys\/(\d+)/.exec((await page.locator(`a[href^="/dashboard/keys/"]:not([href$="/new"]):not([href$="/review"])`).evaluateAll((links) => links.map((a) => a.getAttribute('href')).join(' ')).then((hrefs) => hrefs.split(' ').find((h) => h !== `/dashboard/keys/${keyId}`) ?? '')))![1]);
    await page.goto(`${base}/dashboard/keys/${successorId}`);
    await page.getByLabel('I want this key to stop working now').check();
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.waitForLoadState();
    assert.equal(dialogs.at(-1), 'Revoke this key now? It stops working at once.');
    let status = 0;
    for (let i = 0; i < 40 && status !== 401; i += 1) {
      status = (await api('/api/v1/components', successor)).status;
      if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, 401);
  });

  it('the audit view shows the key being created, used, refused, rotated and revoked; saved as a screenshot', async () => {
    await page.goto(`${base}/dashboard/audit`);
    const text = await page.locator('main').innerText();
    for (const action of ['keys.create', 'keys.rotate', 'keys.revoke', 'components.list', 'components.create', 'sessions.create']) {
      assert.ok(text.includes(action), `the audit view shows ${action}`);
    }
    assert.ok(text.includes('denied'), 'the refused call is there');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-audit.png'), fullPage: true });
    await page.goto(`${base}/dashboard/audit?key_id=${keyId}`);
    const filtered = await page.locator('main table').first().innerText();
    assert.ok(filtered.includes('keys.rotate') && !filtered.includes('sessions.create'));
    assert.ok(!(await page.content()).includes(token) && !(await page.content()).includes(successor));
  });

  it('manages a component and an incident in the browser; the status page shows them', async () => {
    await page.goto(`${base}/dashboard/components/new`);
    await page.locator('#name').fill('Checkout API');
    await page.locator('#status').selectOption({ label: 'Operational' });
    await page.getByRole('button', { name: 'Create component' }).click();
    await page.waitForLoadState();
    await page.goto(`${base}/dashboard/incidents/new`);
    await page.locator('#name').fill('Checkout errors');
    await page.locator('#message').fill('Some payments fail; we are looking into it.');
    await page.locator('#component_id').selectOption({ label: 'Checkout API' });
    await page.locator('#component_status').selectOption({ label: 'Partial Outage' });
    await page.getByRole('button', { name: 'Report incident' }).click();
    await page.waitForLoadState();
    const status = await admin.newPage();
    await status.goto(`${base}/`);
    const shown = await status.locator('main').innerText();
    assert.ok(shown.includes('Checkout API') && shown.includes('Checkout errors') && shown.includes('Partial Outage'), shown);
    await status.close();
  });

  it('sets up two-factor sign-in, and signs in with a code', async () => {
    await page.goto(`${base}/dashboard/account`);
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    const secret = (await page.locator('code.secret').innerText()).replace(/\s/g, '');
    const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
    await axe(page, 'two-factor setup');
    await page.getByLabel('Code from the app').fill(totp.generate());
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.waitForSelector('#recovery-codes');
    assert.equal(await page.locator('#recovery-codes li').count(), 10);
    await axe(page, 'recovery codes');
    const other = await browser.newContext();
    const second = await other.newPage();
    await signIn(second);
    await second.waitForURL(`${base}/dashboard/login/totp`);
    await axe(second, 'two-factor sign-in');
    // Codes are accepted once: wait for a step no code has been used in.
    await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 200));
    await second.getByLabel('Code from your authenticator app').fill(totp.generate());
    await second.getByRole('button', { name: 'Verify' }).click();
    await second.waitForURL(`${base}/dashboard`);
    await other.close();
  });

  it('axe-core finds no serious or critical violation on any dashboard page', async () => {
    const anonymous = await browser.newContext();
    const login = await anonymous.newPage();
    await login.goto(`${base}/dashboard/login`);
    await axe(login, '/dashboard/login');
    await anonymous.close();
    const ids = async (list: string, pattern: RegExp) => {
      await page.goto(base + list);
      const hrefs = await page.locator('main a').evaluateAll((links) => links.map((a) => a.getAttribute('href') ?? ''));
      return hrefs.find((h) => pattern.test(h));
    };
    const pages = [
      '/dashboard', '/dashboard/keys', '/dashboard/keys/new', '/dashboard/keys/review', `/dashboard/keys/${keyId}`, '/dashboard/audit', '/dashboard/incidents', '/dashboard/incidents/new',
      '/dashboard/templates', '/dashboard/templates/new', '/dashboard/components', '/dashboard/components/new', '/dashboard/components/groups', '/dashboard/components/groups/new',
      '/dashboard/schedules', '/dashboard/schedules/new', '/dashboard/metrics', '/dashboard/metrics/new', '/dashboard/subscribers', '/dashboard/webhooks', '/dashboard/webhooks/new', '/dashboard/notifications', '/dashboard/settings', '/dashboard/account',
    ];
    for (const [list, pattern] of [['/dashboard/audit', /^\/dashboard\/audit\/\d+$/], ['/dashboard/incidents', /^\/dashboard\/incidents\/\d+$/], ['/dashboard/components', /^\/dashboard\/components\/\d+$/]] as const) {
      const found = await ids(list, pattern);
      assert.ok(found, `${list} links to a detail page`);
      pages.push(found);
    }
    for (const target of pages) {
      const response = await page.goto(base + target);
      assert.equal(response?.status(), 200, target);
      await axe(page, target);
    }
    // The error page too.
    await page.goto(`${base}/dashboard/keys/999999`);
    await axe(page, 'not found');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/dashboard/keys`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-keys-phone.png'), fullPage: true });
  });
});
