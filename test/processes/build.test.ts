/**
 * The build and the `cachet` bin: `npm run build`'s dist/ answers `--version`, `keys list` and the
 * status page (whose templates and stylesheet dist/ must carry), and an edit to src/ after the
 * build makes the bin run the sources with a warning instead of the stale dist/. All in a copy of
 * the package, so the dist/ that the other test files run is never rebuilt under them.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { envFor, exited, freePort } from '../helpers/processes.js';

const ROOT = path.resolve('.');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('the build and the cachet bin', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const node = (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const result = spawnSync(process.execPath, args, { cwd: dir, env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const cachet = (args: string[], extra: NodeJS.ProcessEnv = {}) => node(['bin/cachet.js', ...args], extra);

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-build-'));
    for (const name of ['package.json', 'bin', 'scripts', 'src']) cpSync(path.join(ROOT, name), path.join(dir, name), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    env = envFor(dir, `sqlite:${path.join(dir, 'cachet.db')}`);
    delete env.CACHET_FROM_SOURCE;
    const build = node(['scripts/build.js']);
    assert.equal(build.code, 0, build.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles every module, vendors Kysely and copies the status page assets', () => {
    for (const file of ['cli/index.js', 'main.js', 'vendor/kysely.js', 'features/status-page/views/layout.eta', 'features/status-page/public/status.css', 'build-stamp.json']) {
      assert.ok(existsSync(path.join(dir, 'dist', file)), file);
    }
  });

  it('runs the built code: --version and keys on a fresh SQLite file, without a warning', () => {
    const version = cachet(['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
    assert.equal(version.stderr, '');

    const empty = cachet(['keys', 'list', '--json']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(JSON.parse(empty.stdout), []);
    assert.equal(empty.stderr, '');

    const created = cachet(['keys', 'create', '--purpose', 'test', '--name', 'built', '--scopes', 'components.read', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const listed = cachet(['keys', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      JSON.parse(listed.stdout).map((key: { name: string }) => key.name),
      ['built'],
    );
  });

  it('serves the API and the status page with its stylesheet from dist/', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/cachet.js', 'serve'], { cwd: dir, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      const started = Date.now();
      while (!output.includes('"msg":"listening"')) {
        if (child.exitCode !== null || Date.now() - started > 30_000) throw new Error(`server did not start: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const ping = await fetch(`http://127.0.0.1:${port}/api/v1/ping`);
      assert.equal(ping.status, 200);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i);
      const css = await fetch(`http://127.0.0.1:${port}/assets/status.css`);
      assert.equal(css.status, 200);
      assert.ok(!output.includes('npm run build'), output);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  });

  it('runs the sources, saying so, once src/ no longer matches dist/; CACHET_FROM_SOURCE=1 without the warning', () => {
    appendFileSync(path.join(dir, 'src', 'cli', 'run.ts'), '\n// edited after the build\n');
    const stale = cachet(['--version']);
    assert.equal(stale.code, 0, stale.stderr);
    assert.equal(stale.stdout.trim(), VERSION);
    assert.match(stale.stderr, /^cachet: dist\/ is older than src\/cli\/run\.ts: running the TypeScript sources through tsx; run `npm run build`\n$/);

    const chosen = cachet(['--version'], { CACHET_FROM_SOURCE: '1' });
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.equal(chosen.stderr, '');

    const rebuilt = node(['scripts/build.js']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.equal(cachet(['--version']).stderr, '');
  });

  it('runs the sources, saying so, when there is no dist/', () => {
    rmSync(path.join(dir, 'dist'), { recursive: true });
    const missing = cachet(['--version']);
    assert.equal(missing.code, 0, missing.stderr);
    assert.equal(missing.stdout.trim(), VERSION);
    assert.match(missing.stderr, /dist\/ is missing.*npm run build/);
  });
});
