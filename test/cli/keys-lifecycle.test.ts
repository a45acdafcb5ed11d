/** `cachet keys rotate`, `keys scan` and `keys revoke --all`, run as a user runs them: child processes on a SQLite file. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateToken } from '../../src/infra/token.js';

const BIN = path.resolve('bin/cachet.js');

describe('cachet keys lifecycle commands', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (...args: string[]) => {
    const result = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const create = (name: string) => {
    const result = run('keys', 'create', '--purpose', 'test', '--name', name, '--scopes', 'components.read', '--json');
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as { id: number; token: string; prefix: string };
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-keys-cli-'));
    env = { ...process.env, CACHET_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: `sqlite:${path.join(dir, 'data', 'cachet.db')}`, LOG_LEVEL: 'warn' };
    delete env.CACHET_PEPPER;
    delete env.CACHET_PEPPER_FILE;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('rotates a key: prints the successor once, keeps the old one until the grace ends', () => {
    const old = create('deploy');
    const rotated = run('keys', 'rotate', String(old.id), '--grace', '2h', '--json');
    assert.equal(rotated.code, 0, rotated.stderr);
    const successor = JSON.parse(rotated.stdout) as { id: number; token: string; replaces_id: number; previous: { replaced_by_id: number; expires_at: string } };
    assert.equal(successor.replaces_id, old.id);
    assert.equal(successor.previous.replaced_by_id, successor.id);
    assert.ok(Math.abs(Date.parse(successor.previous.expires_at) - Date.now() - 2 * 3_600_000) < 60_000);
    assert.notEqual(successor.token, old.token);
    const again = run('keys', 'rotate', String(old.id));
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already rotated/);
    assert.match(run('keys', 'rotate', String(successor.id), '--grace', 'soon').stderr, /--grace must be a duration/);
    const events = run('audit', 'export');
    assert.ok(events.stdout.includes('"action":"keys.rotate"') && events.stdout.includes('"user_agent":"cachet keys rotate"'));
    assert.ok(!events.stdout.includes(successor.token.slice(12)), 'no token in the trail');
  });

  it('scans files for tokens: reports live and revoked keys by prefix only, drops look-alikes, revokes with --revoke', () => {
    const live = create('live');
    const revoked = create('revoked');
    assert.equal(run('keys', 'revoke', String(revoked.id)).code, 0);
    const tree = path.join(dir, 'repo');
    mkdirSync(path.join(tree, 'src'), { recursive: true });
    writeFileSync(path.join(tree, 'src', 'config.js'), `// deploy\nconst key = "${live.token}";\n`);
    writeFileSync(path.join(tree, '.env'), `A=1\nB=2\nCACHET_TOKEN=${revoked.token}\n`);
    const lookAlike = live.token.slice(0, -1) + (live.token.endsWith('a') ? 'b' : 'a');
    writeFileSync(path.join(tree, 'notes.md'), `not a key: ${lookAlike}\nunknown but well-formed: ${generateToken()}\n`);
    writeFileSync(path.join(tree, 'blob.bin'), Buffer.concat([randomBytes(4096), Buffer.from(`\0${live.token}\0`), randomBytes(512)]));

    const report = run('keys', 'scan', tree, '--json');
    assert.equal(report.code, 3, 'a live key found is a non-zero exit');
    const found = (JSON.parse(report.stdout) as { findings: Array<{ file: string; line: number; prefix: string; key_id: number | null; status: string }> }).findings;
    const keyed = found.filter((f) => f.key_id !== null).map((f) => `${path.relative(tree, f.file)}:${f.line} ${f.key_id} ${f.status}`).sort();
    assert.deepEqual(keyed, [`.env:3 ${revoked.id} revoked`, `blob.bin:${keyed.find((k) => k.startsWith('blob'))!.split(':')[1]!.split(' ')[0]} ${live.id} active`, `src/config.js:2 ${live.id} active`].sort());
    assert.equal(found.filter((f) => f.key_id === null).length, 1, 'the unknown well-formed token is reported as not ours; the look-alike is not reported');
    for (const token of [live.token, revoked.token]) assert.ok(!report.stdout.includes(token.slice(12)) && !report.stderr.includes(token.slice(12)), 'only prefixes are printed');

    const revoking = run('keys', 'scan', tree, '--revoke');
    assert.equal(revoking.code, 0, revoking.stderr);
    assert.match(revoking.stdout, new RegExp(`key ${live.id}, revoked \\(revoked now\\)`));
    assert.match(run('keys', 'show', String(live.id)).stdout, /status\s+revoked/);
  });

  it('revokes every active key at once, except those named, only when confirmed', () => {
    const keep = create('keep');
    const a = create('a');
    const b = create('b');
    const unconfirmed = run('keys', 'revoke', '--all');
    assert.equal(unconfirmed.code, 1);
    assert.match(unconfirmed.stderr, /--yes-revoke-every-key/);
    assert.match(run('keys', 'show', String(a.id)).stdout, /status\s+active/);
    const result = run('keys', 'revoke', '--all', '--yes-revoke-every-key', '--except', String(keep.id), '--json');
    assert.equal(result.code, 0, result.stderr);
    const revoked = (JSON.parse(result.stdout) as { revoked: number[] }).revoked;
    assert.ok(revoked.includes(a.id) && revoked.includes(b.id) && !revoked.includes(keep.id));
    assert.match(run('keys', 'show', String(keep.id)).stdout, /status\s+active/);
    assert.match(run('keys', 'show', String(b.id)).stdout, /status\s+revoked/);
  });
});
