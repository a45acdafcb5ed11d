/** `cachet audit verify|checkpoint|public-key|prune|search`, run as a user runs them: child processes on a real SQLite file. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { checkpointMessage, eventHash, eventOfRow, hashedContent } from '../../src/features/audit/audit.chain.js';
import type { AuditEventRow } from '../../src/features/audit/audit.repo.js';
import { systemContext } from '../../src/features/audit/audit.types.js';
import { auditWriterFor } from '../../src/main.js';

const BIN = path.resolve('bin/cachet.js');

function run(args: string[], env: Record<string, string>, cwd: string, input?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000, input });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A folder with its own data dir and SQLite file. */
function workspace() {
  const dir = mkdtempSync(path.join(tmpdir(), 'verify-cli-'));
  const data = path.join(dir, 'data');
  const file = path.join(data, 'cachet.db');
  const env = { CACHET_DATA_DIR: data, DATABASE_URL: `sqlite:${file}`, LOG_LEVEL: 'info' };
  return { dir, data, file, env, cli: (args: string[], input?: string) => run(args, env, dir, input) };
}

/** Appends `count` events with the real writer (as the server would), with times from `at`. */
async function appendEvents(env: Record<string, string>, count: number, at = new Date()): Promise<void> {
  const config = loadConfig(env);
  const database = openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database);
    const writer = auditWriterFor(config, { now: () => at });
    const fact = { action: 'components.list', resourceType: 'components', resourceId: null, outcome: 'allowed' as const, status: 200, reason: null, changes: null };
    const context = { ...systemContext('cachet test'), ip: '192.0.2.7', method: 'GET', path: '/api/v1/components' };
    await database.db.transaction().execute((trx) => writer.append(trx, Array.from({ length: count }, () => ({ context, fact }))));
  } finally {
    await database.close();
  }
}

/** Works on the database file directly, as someone with access to it could. */
function tamper<T>(file: string, work: (db: SQLite.Database) => T): T {
  const db = new SQLite(file);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

function rowAt(file: string, seq: number): AuditEventRow {
  return tamper(file, (db) => db.prepare('select * from audit_events where seq = ?').get(seq) as AuditEventRow);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe('cachet audit (CLI)', () => {
  const spaces: string[] = [];
  const space = () => {
    const ws = workspace();
    spaces.push(ws.dir);
    return ws;
  };
  after(() => {
    for (const dir of spaces) rmSync(dir, { recursive: true, force: true });
  });

  it('verifies an untouched trail and names an edited event with exit 2', async () => {
    const ws = space();
    await appendEvents(ws.env, 30);
    const ok = ws.cli(['audit', 'verify']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^audit trail intact: 30 events, seq 1–30, head [0-9a-f]{16}…, 0 signed checkpoints\n$/);
    const json = ws.cli(['audit', 'verify', '--json']);
    assert.equal(JSON.parse(json.stdout).count, 30);

    const target = rowAt(ws.file, 17);
    tamper(ws.file, (db) => db.prepare("update audit_events set ip = '203.0.113.66' where seq = 17").run());
    const bad = ws.cli(['audit', 'verify']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.ok(bad.stderr.startsWith(`cachet: audit trail altered at seq 17 (id ${target.id})`), bad.stderr);

    tamper(ws.file, (db) => db.prepare("update audit_events set ip = '192.0.2.7' where seq = 17").run());
    assert.equal(ws.cli(['audit', 'verify']).code, 0);
    tamper(ws.file, (db) => db.prepare('delete from audit_events where seq = 9').run());
    const removed = ws.cli(['audit', 'verify', '--json']);
    assert.equal(removed.code, 2);
    assert.deepEqual(JSON.parse(removed.stdout).problem.kind, 'removed');
    assert.equal(JSON.parse(removed.stdout).problem.seq, 9);
    assert.match(removed.stderr, /removed at seq 9: event seq 9 was removed/);
  });

  it('signs checkpoints that verify under the printed public key; a forged one is refused', async () => {
    const ws = space();
    await appendEvents(ws.env, 5);
    const printed = ws.cli(['audit', 'checkpoint']);
    assert.equal(printed.code, 0, printed.stderr);
    const checkpoint = JSON.parse(printed.stdout);
    assert.equal(checkpoint.seq, 5);
    assert.equal(checkpoint.hash, rowAt(ws.file, 5).hash);
    const pem = ws.cli(['audit', 'public-key']).stdout;
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.equal(pem, checkpoint.public_key);
    assert.ok(verify(null, checkpointMessage(checkpoint), createPublicKey(pem), Buffer.from(checkpoint.signature, 'base64')));
    const keyFile = path.join(ws.data, 'audit-signing-key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(!printed.stdout.includes('PRIVATE'), 'the private key was printed');

    const file = path.join(ws.dir, 'checkpoint.json');
    writeFileSync(file, printed.stdout);
    const matched = ws.cli(['audit', 'verify', '--checkpoint', file]);
    assert.equal(matched.code, 0, matched.stderr);
    assert.match(matched.stdout, /1 signed checkpoints; checkpoint seq 5 matches/);

    const forgedFile = path.join(ws.dir, 'forged.json');
    writeFileSync(forgedFile, JSON.stringify({ ...checkpoint, at: '2020-01-01T00:00:00.000Z' }));
    const forged = ws.cli(['audit', 'verify', '--checkpoint', forgedFile]);
    assert.equal(forged.code, 2);
    assert.match(forged.stderr, new RegExp(`forged at seq 5 \\(id ${rowAt(ws.file, 5).id}\\)`));

    tamper(ws.file, (db) => db.prepare("update audit_checkpoints set hash = ? where seq = 5").run(rowAt(ws.file, 4).hash));
    const stored = ws.cli(['audit', 'verify']);
    assert.equal(stored.code, 2);
    assert.match(stored.stderr, /audit trail forged at seq 5/);

    const notJson = ws.cli(['audit', 'verify', '--checkpoint', path.join(ws.dir, 'missing.json')]);
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /--checkpoint: cannot read/);
  });

  it('catches a truncated and a rewritten tail through a checkpoint kept outside the database', async () => {
    const ws = space();
    await appendEvents(ws.env, 40);
    const file = path.join(ws.dir, 'checkpoint.json');
    const printed = ws.cli(['audit', 'checkpoint']);
    writeFileSync(file, printed.stdout);
    const backup = path.join(ws.dir, 'backup.db');
    tamper(ws.file, (db) => db.exec(`vacuum into '${backup}'`));

    // Truncated: the last ten events, the stored checkpoint and the head, made consistent.
    tamper(ws.file, (db) => {
      db.prepare('delete from audit_events where seq > 30').run();
      db.prepare('delete from audit_checkpoints').run();
      db.prepare('update audit_head set seq = 30, hash = (select hash from audit_events where seq = 30) where id = 1').run();
    });
    assert.equal(ws.cli(['audit', 'verify']).code, 0, 'consistent on its own');
    const truncated = ws.cli(['audit', 'verify', '--checkpoint', file]);
    assert.equal(truncated.code, 2);
    assert.match(truncated.stderr, new RegExp(`^cachet: audit trail truncated at seq 31: .*ends at seq 30 \\(id ${rowAt(ws.file, 30).id}\\).*reaches seq 40`));

    // Rewritten: from seq 25 on, with every hash recomputed.
    rmSync(ws.file);
    rmSync(`${ws.file}-wal`, { force: true });
    rmSync(`${ws.file}-shm`, { force: true });
    tamper(backup, (db) => db.exec(`vacuum into '${ws.file}'`));
    tamper(ws.file, (db) => {
      const rows = db.prepare('select * from audit_events where seq >= 24 order by seq').all() as AuditEventRow[];
      let prev = rows[0]!.hash;
      for (const row of rows.slice(1)) {
        const changed = { ...row, ip: '198.51.100.1', prev_hash: prev };
        const hash = eventHash(prev, hashedContent(eventOfRow(changed)));
        db.prepare('update audit_events set ip = ?, prev_hash = ?, hash = ? where seq = ?').run(changed.ip, prev, hash, row.seq);
        prev = hash;
      }
      db.prepare('delete from audit_checkpoints').run();
      db.prepare('update audit_head set hash = ? where id = 1').run(prev);
    });
    assert.equal(ws.cli(['audit', 'verify']).code, 0, 'consistent on its own');
    const rewritten = ws.cli(['audit', 'verify', '--checkpoint', file]);
    assert.equal(rewritten.code, 2);
    assert.match(rewritten.stderr, new RegExp(`^cachet: audit trail altered at seq 40 \\(id ${rowAt(ws.file, 40).id}\\): .*rewritten`));
  });

  it('prunes events before a date, records the anchor and an audit.prune event, and the rest still verifies', async () => {
    const ws = space();
    await appendEvents(ws.env, 10, new Date('2026-01-05T00:00:00Z'));
    await appendEvents(ws.env, 5, new Date('2026-02-05T00:00:00Z'));
    const anchorHash = rowAt(ws.file, 10).hash;
    const bad = ws.cli(['audit', 'prune', '--before', 'last tuesday']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--before must be an ISO 8601 date/);

    const pruned = ws.cli(['audit', 'prune', '--before', '2026-02-01', '--json']);
    assert.equal(pruned.code, 0, pruned.stderr);
    const result = JSON.parse(pruned.stdout);
    assert.deepEqual([result.removed, result.anchor, result.event.seq], [10, { seq: 10, hash: anchorHash }, 16]);
    const [head, remaining, event] = tamper(ws.file, (db) => [
      db.prepare('select * from audit_head').get() as { anchor_seq: number; anchor_hash: string },
      (db.prepare('select count(*) as n from audit_events').get() as { n: number }).n,
      db.prepare('select * from audit_events where seq = 16').get() as AuditEventRow,
    ]);
    assert.deepEqual([head.anchor_seq, head.anchor_hash], [10, anchorHash]);
    assert.equal(remaining, 6);
    assert.deepEqual([event.action, event.actor_type, event.user_agent], ['audit.prune', 'system', 'cachet audit prune']);
    const verified = ws.cli(['audit', 'verify']);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /6 events, seq 11–16/);
    assert.match(ws.cli(['audit', 'prune', '--before', '2026-02-01']).stdout, /nothing to prune/);
  });

  it("lists a key's events found by its token file or standard input, and never prints the token", async () => {
    const ws = space();
    const create = (name: string) => JSON.parse(ws.cli(['keys', 'create', '--purpose', 'test', '--name', name, '--scopes', 'components.read', '--json']).stdout);
    const mine = create('mine');
    const theirs = create('theirs');
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve'], { cwd: ws.dir, env: { ...process.env, ...ws.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      const started = Date.now();
      while (!output.includes('"msg":"listening"') && Date.now() - started < 20_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      const get = (token: string) => fetch(`http://127.0.0.1:${port}/api/v1/components`, { headers: { 'x-cachet-token': token } });
      for (let i = 0; i < 3; i++) assert.equal((await get(mine.token)).status, 200);
      assert.equal((await get(theirs.token)).status, 200);
      assert.equal(ws.cli(['keys', 'revoke', String(mine.id)]).code, 0);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await get(mine.token)).status, 401);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    const tokenFile = path.join(ws.dir, 'token');
    writeFileSync(tokenFile, mine.token + '\n', { mode: 0o600 });

    const listed = ws.cli(['audit', 'search', '--token-file', tokenFile, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const events = listed.stdout.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(
      events.map((e) => `${e.action}:${e.outcome}:${e.match}`),
      ['keys.create:allowed:lifecycle', 'components.list:allowed:key', 'components.list:allowed:key', 'components.list:allowed:key', 'keys.revoke:allowed:lifecycle', 'components.list:denied:key'],
    );
    assert.ok(events.every((e) => e.key_id === mine.id || e.resource_id === String(mine.id) || e.key_prefix === mine.prefix));
    const all = tamper(ws.file, (db) => db.prepare('select * from audit_events').all() as AuditEventRow[]);
    assert.equal(all.filter((e) => e.key_id === theirs.id).length, 1, 'the other key made events that were not listed');

    const table = ws.cli(['audit', 'search', '--token-file', '-'], mine.token);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^key ${mine.id} "mine" \\(prefix ${mine.prefix}, revoked `));
    assert.equal(table.stdout.trim().split('\n').length, 2 + 1 + 6);
    for (const out of [listed.stdout, listed.stderr, table.stdout, table.stderr]) assert.ok(!out.includes(mine.token.slice(12)), 'the token was printed');

    const notToken = ws.cli(['audit', 'search', '--token-file', '-'], 'hunter2-secret\n');
    assert.equal(notToken.code, 1);
    assert.match(notToken.stderr, /does not hold a Cachet API token/);
    assert.ok(!notToken.stderr.includes('hunter2'));
    assert.equal(ws.cli(['audit', 'search']).code, 1, '--token-file is required');
    const mistyped = theirs.token.slice(0, -1) + (theirs.token.endsWith('A') ? 'B' : 'A');
    assert.equal(ws.cli(['audit', 'search', '--token-file', '-'], mistyped).code, 1, 'a token with a bad checksum is refused');
  });

  it('has --help on every audit command', () => {
    const ws = space();
    for (const args of [['audit'], ['audit', 'verify'], ['audit', 'checkpoint'], ['audit', 'public-key'], ['audit', 'prune'], ['audit', 'search']]) {
      const result = ws.cli([...args, '--help']);
      assert.equal(result.code, 0, args.join(' '));
      assert.match(result.stdout, /Usage: cachet audit/);
    }
  });
});
