/** The `cachet` command, run as a user runs it: a child process on a real SQLite file. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const BIN = path.resolve('bin/cachet.js');

function run(args: string[], env: Record<string, string>, cwd: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** `cachet serve` in `cwd` with its defaults (./data), until it logs that it listens; `stop()` sends SIGTERM and returns the exit code. */
async function startServe(cwd: string) {
  const port = await freePort();
  const serveEnv: Record<string, string | undefined> = { ...process.env, PORT: String(port), LOG_LEVEL: 'info' };
  for (const name of ['CACHET_DATA_DIR', 'DATABASE_URL', 'CACHET_PEPPER', 'CACHET_PEPPER_FILE', 'HOST']) delete serveEnv[name];
  const child = spawn(process.execPath, [BIN, 'serve'], { cwd, env: serveEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const started = Date.now();
  while (!output.includes('"msg":"listening"') && Date.now() - started < 20_000 && child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    output: () => output,
    async stop(): Promise<number | null> {
      const exited = child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('cachet CLI', () => {
  let dir: string;
  let env: Record<string, string>;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-cli-'));
    env = { CACHET_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: `sqlite:${path.join(dir, 'data', 'cachet.db')}`, LOG_LEVEL: 'info' };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates, lists, shows and revokes keys on the database directly', () => {
    const created = run(['keys', 'create', '--purpose', 'test', '--name', 'monitor', '--scopes', 'components.manage, incidents.manage', '--expires', '30d', '--allowed-ips', '10.0.0.0/8', '--rate-limit', '60', '--json'], env, dir);
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout);
    assert.match(key.token, /^cachet_[0-9A-Za-z]{49}$/);
    assert.equal(key.prefix, key.token.slice(0, 12));
    assert.deepEqual(key.scopes, ['components.manage', 'incidents.manage']);
    assert.ok(Math.abs(Date.parse(key.expires_at) - Date.now() - 30 * 86_400_000) < 60_000);
    assert.deepEqual(key.allowed_ips, ['10.0.0.0/8']);
    assert.equal(key.rate_limit, 60);

    const listed = run(['keys', 'list', '--json'], env, dir);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).some((k: { id: number }) => k.id === key.id));
    assert.ok(!listed.stdout.includes(key.token.slice(12)), 'list printed a token');
    const table = run(['keys', 'list'], env, dir);
    assert.match(table.stdout, /monitor/);
    assert.ok(!table.stdout.includes(key.token.slice(12)));

    const shown = run(['keys', 'show', String(key.id), '--json'], env, dir);
    assert.equal(JSON.parse(shown.stdout).name, 'monitor');
    assert.ok(!shown.stdout.includes(key.token.slice(12)));

    assert.equal(run(['keys', 'revoke', String(key.id)], env, dir).code, 0);
    const again = run(['keys', 'revoke', String(key.id)], env, dir);
    assert.equal(again.code, 1);
    assert.equal(again.stderr.trim().split('\n').length, 1);
    assert.match(again.stderr, /already revoked/);
  });

  it('fails with one line on stderr and a non-zero exit for bad input', () => {
    const cases: Array<[string[], RegExp]> = [
      [['keys', 'create', '--purpose', 'test', '--name', 'x', '--scopes', ''], /at least one scope/],
      [['keys', 'create', '--name', 'x', '--scopes', 'components.read'], /--purpose/],
      [['keys', 'create', '--purpose', ' ', '--name', 'x', '--scopes', 'components.read'], /purpose is required/],
      [['keys', 'create', '--purpose', 'test', '--name', 'x', '--scopes', 'components.write'], /unknown scope/],
      [['keys', 'create', '--purpose', 'test', '--name', 'x', '--scopes', '*', '--expires', '365d'], /longest key lifetime/],
      [['keys', 'create', '--purpose', 'test', '--name', 'x', '--scopes', '*', '--rate-limit', 'lots'], /--rate-limit/],
      // An unset shell variable must not turn into "any address".
      [['keys', 'create', '--purpose', 'test', '--name', 'x', '--scopes', '*', '--allowed-ips', ''], /allowed IPs: the list is empty/],
      [['keys', 'create', '--purpose', 'test', '--name', 'x', '--scopes', '*', '--allowed-ips', ' , '], /allowed IPs: the list is empty/],
      [['keys', 'show', '424242'], /no key with id 424242/],
      [['keys', 'revoke', 'abc'], /not a key id/],
    ];
    for (const [args, message] of cases) {
      const result = run(args, env, dir);
      assert.notEqual(result.code, 0, args.join(' '));
      assert.match(result.stderr, message, args.join(' '));
      assert.equal(result.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '');
    }
    const badConfig = run(['keys', 'list'], { ...env, PORT: 'x', CACHET_KEY_MAX_TTL: 'forever' }, dir);
    assert.equal(badConfig.code, 1);
    assert.match(badConfig.stderr, /^cachet: CACHET_KEY_MAX_TTL/);
  });

  it('says so when an IPv6 range given as allowed IPs also admits every IPv4 client', () => {
    const wide = run(['keys', 'create', '--purpose', 'test', '--name', 'v6', '--scopes', 'components.read', '--allowed-ips', '::/0', '--json'], env, dir);
    assert.equal(wide.code, 0, wide.stderr);
    assert.deepEqual(JSON.parse(wide.stdout).allowed_ips, ['::/0']);
    assert.match(wide.stderr, /warning: allowed IPs: "::\/0" also admits IPv4 clients/);
    const narrow = run(['keys', 'create', '--purpose', 'test', '--name', 'v6', '--scopes', 'components.read', '--allowed-ips', '2001:db8::/32', '--json'], env, dir);
    assert.equal(narrow.code, 0, narrow.stderr);
    assert.equal(narrow.stderr, '');
  });

  it('has --help on every command', () => {
    for (const args of [[], ['serve'], ['migrate'], ['keys'], ['keys', 'create'], ['keys', 'list'], ['keys', 'show'], ['keys', 'revoke']]) {
      const result = run([...args, '--help'], env, dir);
      assert.equal(result.code, 0, args.join(' '));
      assert.match(result.stdout, /Usage: cachet/);
    }
  });

  it('migrates a new database and reports nothing to do the second time', () => {
    const fresh = { ...env, DATABASE_URL: `sqlite:${path.join(dir, 'other.db')}` };
    const first = run(['migrate', '--json'], fresh, dir);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(JSON.parse(first.stdout).applied.includes('0001_foundation'));
    assert.deepEqual(JSON.parse(run(['migrate', '--json'], fresh, dir).stdout).applied, []);
  });

  it('serves, writes a bootstrap key file (0600) that the logs name but never print, and stops on SIGTERM', async () => {
    const serveDir = mkdtempSync(path.join(tmpdir(), 'cachet-serve-'));
    const server = await startServe(serveDir);
    const { port } = server;
    try {
      const output = server.output();
      assert.match(output, /listening/, output);
      const file = path.join(serveDir, 'data', 'bootstrap-key');
      assert.ok(existsSync(path.join(serveDir, 'data', 'cachet.db')), 'SQLite in ./data');
      assert.equal(statSync(path.join(serveDir, 'data', 'cachet.db')).mode & 0o777, 0o600);
      assert.equal(statSync(path.join(serveDir, 'data')).mode & 0o777, 0o700);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const token = readFileSync(file, 'utf8').trim();
      assert.match(token, /^cachet_[0-9A-Za-z]{49}$/);
      assert.ok(output.includes(file), 'the log names the file');
      assert.ok(!output.includes(token.slice(12)), 'the token reached the output');
      assert.doesNotMatch(output, /readable by other users/, 'files this server created were reported as exposed');
      const ping = await fetch(`http://127.0.0.1:${port}/api/v1/ping`);
      assert.equal(ping.status, 200);
      const create = await fetch(`http://127.0.0.1:${port}/api/v1/components`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-cachet-token': token },
        body: JSON.stringify({ name: 'API', status: 1 }),
      });
      assert.equal(create.status, 200);
      assert.ok(!server.output().includes(token.slice(12)), 'the token reached the output');
    } finally {
      assert.equal(await server.stop(), 0, server.output());
      rmSync(serveDir, { recursive: true, force: true });
    }
  });

  it('warns at start-up, naming each file and the fix, when the pepper, database or bootstrap key is readable by others', async () => {
    const serveDir = mkdtempSync(path.join(tmpdir(), 'cachet-modes-'));
    const data = path.join(serveDir, 'data');
    mkdirSync(data, { mode: 0o755 });
    // Files made by an operator or an older release, with a careless umask.
    writeFileSync(path.join(data, 'pepper'), 'p'.repeat(43) + '\n', { mode: 0o644 });
    const created = run(['keys', 'create', '--purpose', 'test', '--name', 'first', '--scopes', '*'], { CACHET_DATA_DIR: data, DATABASE_URL: `sqlite:${path.join(data, 'cachet.db')}` }, serveDir);
    assert.equal(created.code, 0, created.stderr);
    writeFileSync(path.join(data, 'bootstrap-key'), 'left over\n', { mode: 0o640 });
    chmodSync(path.join(data, 'pepper'), 0o644);
    chmodSync(path.join(data, 'cachet.db'), 0o644);
    chmodSync(path.join(data, 'bootstrap-key'), 0o640);
    const server = await startServe(serveDir);
    try {
      const output = server.output();
      assert.match(output, /listening/, output);
      for (const name of ['pepper', 'cachet.db', 'bootstrap-key']) {
        const file = path.join(data, name);
        const warning = output.split('\n').find((line) => line.includes(`run chmod 600 ${file}`));
        assert.ok(warning, `no warning for ${name}: ${output}`);
        assert.equal(JSON.parse(warning).level, 40);
      }
    } finally {
      assert.equal(await server.stop(), 0, server.output());
      rmSync(serveDir, { recursive: true, force: true });
    }
  });

  it('shows the bootstrap token on a terminal (and only there)', { skip: !existsSync('/usr/bin/script') && 'util-linux script is not installed' }, async () => {
    const serveDir = mkdtempSync(path.join(tmpdir(), 'cachet-tty-'));
    const port = await freePort();
    const ttyEnv: Record<string, string | undefined> = { ...process.env, PORT: String(port), LOG_LEVEL: 'info' };
    for (const name of ['CACHET_DATA_DIR', 'DATABASE_URL', 'CACHET_PEPPER', 'CACHET_PEPPER_FILE', 'HOST']) delete ttyEnv[name];
    // `script` gives the server a pseudo-terminal as stdout, as `npm start` in a shell would.
    const child = spawn('/usr/bin/script', ['-qefc', `${process.execPath} ${BIN} serve`, '/dev/null'], { cwd: serveDir, env: ttyEnv, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    try {
      const started = Date.now();
      while (!/listening/.test(output) && Date.now() - started < 20_000 && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 100));
      const token = readFileSync(path.join(serveDir, 'data', 'bootstrap-key'), 'utf8').trim();
      assert.ok(output.includes(token), 'the token was not shown on the terminal');
      assert.equal(output.split(token).length - 1, 1, 'the token was shown more than once (a log line carried it)');
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      rmSync(serveDir, { recursive: true, force: true });
    }
  });
});
