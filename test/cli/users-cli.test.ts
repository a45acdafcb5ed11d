/** `cachet users create|list|remove|reset-password`, run as an operator runs them: child processes on a SQLite file. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';

const BIN = path.resolve('bin/cachet.js');
const PASSWORD = 'a long enough password';

describe('cachet users', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let file: string;
  const run = (args: string[], input?: string) => {
    const result = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000, input: input ?? '' });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const query = <T>(sql: string, ...params: unknown[]): T[] => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-users-cli-'));
    file = path.join(dir, 'data', 'cachet.db');
    env = { ...process.env, CACHET_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: `sqlite:${file}`, LOG_LEVEL: 'warn' };
    delete env.CACHET_PEPPER;
    delete env.CACHET_PEPPER_FILE;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates an admin with the password from stdin, stored as an OWASP-strength scrypt hash, audited without it', () => {
    const created = run(['users', 'create', '--email', 'Ops@Example.org', '--admin', '--json'], `${PASSWORD}\n`);
    assert.equal(created.code, 0, created.stderr);
    const user = JSON.parse(created.stdout) as { id: number; email: string; role: string };
    assert.deepEqual([user.email, user.role], ['ops@example.org', 'admin']);
    const [row] = query<{ password_hash: string }>('select password_hash from users where id = ?', user.id);
    assert.match(row!.password_hash, /^scrypt\$131072\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    const trail = run(['audit', 'export']).stdout;
    assert.ok(trail.includes('"action":"users.create"') && trail.includes('"user_agent":"cachet users create"'));
    assert.ok(!trail.includes(PASSWORD) && !trail.includes(row!.password_hash) && !trail.includes('ops@example.org'), 'no password, hash or address in the trail');
  });

  it('refuses a short password, a taken address, a bad address and a missing password, changing nothing', () => {
    const before = query<{ n: number }>('select count(*) as n from users')[0]!.n;
    assert.match(run(['users', 'create', '--email', 'new@example.org'], 'short\n').stderr, /at least 12 characters/);
    assert.match(run(['users', 'create', '--email', 'ops@example.org'], `${PASSWORD}\n`).stderr, /exists already/);
    assert.match(run(['users', 'create', '--email', 'not-an-address'], `${PASSWORD}\n`).stderr, /is not an email address/);
    const missing = run(['users', 'create', '--email', 'new@example.org'], '');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no password on stdin/);
    // There is no way to give a password as an argument.
    assert.match(run(['users', 'create', '--email', 'new@example.org', '--password', PASSWORD]).stderr, /unknown option '--password'/);
    assert.equal(query<{ n: number }>('select count(*) as n from users')[0]!.n, before);
  });

  it('lists users, as text and JSON', () => {
    assert.equal(run(['users', 'create', '--email', 'dev@example.org'], `${PASSWORD}\n`).code, 0);
    const listed = JSON.parse(run(['users', 'list', '--json']).stdout) as Array<{ email: string; role: string; totp_enabled: boolean }>;
    assert.deepEqual(listed.map((u) => [u.email, u.role, u.totp_enabled]), [['ops@example.org', 'admin', false], ['dev@example.org', 'user', false]]);
    assert.match(run(['users', 'list']).stdout, /admin\s+ops@example\.org/);
  });

  it('resets a password: the old one stops working, sessions end', () => {
    const [dev] = query<{ id: number; password_hash: string }>("select id, password_hash from users where email = 'dev@example.org'");
    const now = new Date().toISOString();
    const db = new Database(file);
    db.prepare("insert into sessions (digest, user_id, stage, created_at, last_seen_at, expires_at) values ('d1', ?, 'full', ?, ?, ?)").run(dev!.id, now, now, '2999-01-01T00:00:00.000Z');
    db.close();
    const reset = run(['users', 'reset-password', 'dev@example.org'], 'another long password\n');
    assert.equal(reset.code, 0, reset.stderr);
    const [after] = query<{ password_hash: string }>('select password_hash from users where id = ?', dev!.id);
    assert.notEqual(after!.password_hash, dev!.password_hash);
    assert.equal(query<{ n: number }>('select count(*) as n from sessions where user_id = ?', dev!.id)[0]!.n, 0);
    assert.match(run(['users', 'reset-password', '999'], `${PASSWORD}\n`).stderr, /no user with id 999/);
  });

  it("removes a user: their keys are revoked, each audited; the last admin cannot be removed", () => {
    const [dev] = query<{ id: number }>("select id from users where email = 'dev@example.org'");
    const key = JSON.parse(run(['keys', 'create', '--purpose', 'test', '--name', 'dev key', '--scopes', 'components.read', '--json']).stdout) as { id: number };
    const db = new Database(file);
    db.prepare('update api_keys set owner_user_id = ? where id = ?').run(dev!.id, key.id);
    db.close();
    const removed = run(['users', 'remove', String(dev!.id), '--json']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual((JSON.parse(removed.stdout) as { revoked_keys: number[] }).revoked_keys, [key.id]);
    assert.ok(query<{ revoked_at: string | null }>('select revoked_at from api_keys where id = ?', key.id)[0]!.revoked_at);
    const trail = run(['audit', 'export']).stdout.trim().split('\n').map((line) => JSON.parse(line) as { action: string; user_agent: string });
    assert.deepEqual(trail.filter((e) => e.user_agent === 'cachet users remove').map((e) => e.action), ['keys.revoke', 'users.delete']);
    const last = run(['users', 'remove', 'ops@example.org']);
    assert.equal(last.code, 1);
    assert.match(last.stderr, /last admin/);
  });
});
