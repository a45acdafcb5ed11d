/** `cachet keys create --rotate-every … --deliver …` and `cachet keys rotate --due`, run as a user runs them (child processes on a SQLite file). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';

const BIN = path.resolve('bin/cachet.js');

describe('cachet keys rotation policy commands', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (...args: string[]) => {
    const result = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const dbFile = () => path.join(dir, 'data', 'cachet.db');
  /** Moves a key's creation back, as if `ms` had passed (a child process has no test clock). */
  const age = (id: number, ms: number) => {
    const db = new Sqlite(dbFile());
    try {
      const row = db.prepare('select created_at from api_keys where id = ?').get(id) as { created_at: string };
      db.prepare('update api_keys set created_at = ? where id = ?').run(new Date(Date.parse(row.created_at) - ms).toISOString(), id);
    } finally {
      db.close();
    }
  };

  before(() => {
    dir = mkdtempSync('/tmp/rotate-cli-');
    env = { ...process.env, CACHET_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: `sqlite:${dbFile()}`, LOG_LEVEL: 'warn' };
    delete env.CACHET_PEPPER;
    delete env.CACHET_PEPPER_FILE;
    delete env.CACHET_WEBHOOK_ALLOW_PRIVATE;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a key with a policy and rotates it with --due: the successor lands in the file, the old key gets its grace', () => {
    const file = path.join(dir, 'out', 'deploy.key');
    const created = run('keys', 'create', '--purpose', 'test', '--name', 'deploy', '--scopes', 'components.read', '--rotate-every', '1h', '--rotate-grace', '2h', '--deliver', `file:${file}`, '--json');
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as { id: number; token: string; rotation: { every: string; deliver: { type: string; path: string } }; webhook_secret?: string };
    assert.deepEqual(key.rotation.deliver, { type: 'file', path: file });
    assert.equal(key.webhook_secret, undefined);
    const early = run('keys', 'rotate', '--due');
    assert.equal(early.code, 0, early.stderr);
    assert.match(early.stdout, /no key is due/);
    age(key.id, 3_600_000);
    const due = run('keys', 'rotate', '--due', '--json');
    assert.equal(due.code, 0, due.stderr);
    const report = JSON.parse(due.stdout) as { rotated: { id: number; successor_id: number }[] };
    assert.deepEqual(report.rotated.map((r) => r.id), [key.id]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const token = readFileSync(file, 'utf8').trim();
    assert.match(token, /^cachet_/);
    assert.ok(!due.stdout.includes(token) && !due.stderr.includes(token), 'the token is not printed');
    const scan = run('keys', 'scan', file, '--json');
    assert.equal((JSON.parse(scan.stdout) as { findings: { key_id: number; status: string }[] }).findings[0]!.key_id, report.rotated[0]!.successor_id);
    const shown = JSON.parse(run('keys', 'show', String(key.id), '--json').stdout) as { replaced_by_id: number; expires_at: string; delivery: { delivered_at: string } };
    assert.equal(shown.replaced_by_id, report.rotated[0]!.successor_id);
    assert.ok(Math.abs(Date.parse(shown.expires_at) - Date.now() - 2 * 3_600_000) < 60_000);
    const trail = run('audit', 'export').stdout;
    assert.ok(trail.includes('"action":"keys.deliver"') && trail.includes('"user_agent":"cachet keys rotate --due"'));
    assert.ok(!trail.includes(token.slice(12)), 'no token in the trail');
  });

  it('prints the webhook signing secret once; a private target fails without CACHET_WEBHOOK_ALLOW_PRIVATE and is shown on the key', () => {
    const created = run('keys', 'create', '--purpose', 'test', '--name', 'hook', '--scopes', 'components.read', '--rotate-every', '1h', '--deliver', 'http://127.0.0.1:9/hook', '--json');
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as { id: number; webhook_secret: string };
    assert.match(key.webhook_secret, /^whsec_/);
    age(key.id, 3_600_000);
    const due = run('keys', 'rotate', '--due');
    assert.equal(due.code, 1);
    assert.match(due.stderr, /private, loopback or link-local/);
    const shown = run('keys', 'show', String(key.id));
    assert.match(shown.stdout, /FAILED \(1x\)/);
    assert.ok(!shown.stdout.includes(key.webhook_secret.slice(6)));
  });

  it('sets a command policy on an existing key with keys policy, and removes it with --clear', () => {
    const created = JSON.parse(run('keys', 'create', '--purpose', 'test', '--name', 'plain', '--scopes', 'components.read', '--json').stdout) as { id: number };
    const set = run('keys', 'policy', String(created.id), '--rotate-every', '7d', '--deliver-command', '["/usr/local/bin/install-key","--service","api"]', '--json');
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual((JSON.parse(set.stdout) as { rotation: unknown }).rotation, {
      every: '7d',
      grace: '24h',
      deliver: { type: 'command', argv: ['/usr/local/bin/install-key', '--service', 'api'] },
      retire_after_pickup: null,
    });
    assert.match(run('keys', 'show', String(created.id)).stdout, /rotation {4}every 7d, grace 24h, deliver to command/);
    const cleared = run('keys', 'policy', String(created.id), '--clear', '--json');
    assert.equal((JSON.parse(cleared.stdout) as { rotation: unknown }).rotation, null);
    assert.match(run('keys', 'policy', String(created.id)).stderr, /give a policy/);
  });

  it('refuses unclear rotation options with one line', () => {
    const cases: [string[], RegExp][] = [
      [['--deliver', 'file:/tmp/x'], /--rotate-every is required/],
      [['--rotate-every', '1h'], /give one delivery target/],
      [['--rotate-every', '1h', '--deliver', 'ftp://x'], /--deliver must be/],
      [['--rotate-every', '1h', '--deliver-command', '/bin/true'], /JSON list/],
      [['--rotate-every', '1h', '--deliver-command', '["true"]'], /argv\[0\] must be an absolute path/],
      [['--rotate-every', '1h', '--deliver', 'file:relative/path'], /rotation\.deliver\.path must be an absolute/],
      [['--rotate-every', '30', '--deliver', 'file:/tmp/x'], /rotation\.every must be a duration/],
    ];
    for (const [args, message] of cases) {
      const result = run('keys', 'create', '--purpose', 'test', '--name', 'x', '--scopes', 'components.read', ...args);
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, message);
    }
  });
});
