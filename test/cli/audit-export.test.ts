/**
 * `cachet audit export` and the stdout sink, run as a user runs them: child processes on a real
 * SQLite file. The export is the stored trail line for line; `cachet serve` with
 * CACHET_AUDIT_SINK=stdout prints the same lines among its logs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { eventHash, eventOfRow, GENESIS_HASH, hashedContent } from '../../src/features/audit/audit.chain.js';
import { createAuditRepo } from '../../src/features/audit/audit.repo.js';
import { systemContext, type AuditEvent } from '../../src/features/audit/audit.types.js';
import { createAuditWriter } from '../../src/features/audit/audit.writer.js';
import { fixedClock } from '../../src/infra/clock.js';

const BIN = path.resolve('bin/cachet.js');

function run(args: string[], env: Record<string, string>, cwd: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lines(text: string): AuditEvent[] {
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as AuditEvent);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe('cachet audit export and the stdout sink', () => {
  let dir: string;
  let env: Record<string, string>;
  let dbFile: string;
  let token: string;

  async function stored(): Promise<AuditEvent[]> {
    const database = openDatabase(`sqlite:${dbFile}`);
    try {
      return (await createAuditRepo().after(database.db, 0, 1_000_000)).map(eventOfRow);
    } finally {
      await database.close();
    }
  }

  before(async () => {
    dir = mkdtempSync('/tmp/ship-cli-');
    dbFile = path.join(dir, 'data', 'cachet.db');
    env = { CACHET_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: `sqlite:${dbFile}`, LOG_LEVEL: 'info' };
    const created = run(['keys', 'create', '--purpose', 'test', '--name', 'monitor', '--scopes', 'components.read', '--json'], env, dir);
    assert.equal(created.code, 0, created.stderr);
    token = (JSON.parse(created.stdout) as { token: string }).token;
    // More events than one read of the export (1000), in two months.
    const database = openDatabase(`sqlite:${dbFile}`);
    await migrateToLatest(database);
    const clock = fixedClock(new Date('2026-01-10T00:00:00Z'));
    const writer = createAuditWriter({ repo: createAuditRepo(), clock, pepper: Buffer.alloc(32) });
    const entries = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        context: systemContext('cachet test'),
        fact: { action: 'components.update', resourceType: 'components', resourceId: i, outcome: 'allowed' as const, status: null, reason: null, changes: { name: ['é', `n${i}`] as [unknown, unknown] } },
      }));
    await database.db.transaction().execute((trx) => writer.append(trx, entries(1200)));
    clock.set(new Date('2026-02-01T00:00:00Z'));
    await database.db.transaction().execute((trx) => writer.append(trx, entries(1300)));
    await database.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints every stored event as one NDJSON line in chain order, from which the chain can be recomputed', async () => {
    const exported = run(['audit', 'export'], env, dir);
    assert.equal(exported.code, 0, exported.stderr);
    const events = lines(exported.stdout);
    const trail = await stored();
    assert.equal(trail.length, 2501);
    assert.deepEqual(events, trail);
    let prev = GENESIS_HASH;
    for (const event of events) {
      assert.equal(event.prev_hash, prev);
      assert.equal(eventHash(prev, hashedContent(event)), event.hash, `event ${event.seq} does not hash to its hash`);
      prev = event.hash;
    }
    assert.ok(!exported.stdout.includes(token.slice(12)), 'a token was exported');
  });

  it('keeps events at or after --since and before --until; a time may carry an offset', async () => {
    const trail = await stored();
    const february = trail.filter((e) => e.at === '2026-02-01T00:00:00.000Z');
    assert.equal(february.length, 1300);
    const window = run(['audit', 'export', '--since', '2026-01-15', '--until', '2026-02-15'], env, dir);
    assert.equal(window.code, 0, window.stderr);
    assert.deepEqual(lines(window.stdout), february);
    const fromOffset = run(['audit', 'export', '--since', '2026-02-01T01:00:00+01:00', '--until', '2026-02-01T00:00:00.001Z'], env, dir);
    assert.deepEqual(lines(fromOffset.stdout), february);
    const january = run(['audit', 'export', '--until', '2026-02-01T00:00:00Z'], env, dir);
    assert.deepEqual(lines(january.stdout), trail.filter((e) => e.at < '2026-02-01'));
  });

  it('refuses a date that is not ISO 8601, naming the option, and prints nothing', () => {
    for (const [option, value] of [['--since', '2026-13-01'], ['--until', 'yesterday'], ['--since', '2026-02-01T10:00']]) {
      const result = run(['audit', 'export', option!, value!], env, dir);
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, new RegExp(`^cachet: ${option} must be an ISO 8601 date`));
    }
    const reversed = run(['audit', 'export', '--since', '2026-02-01', '--until', '2026-01-01'], env, dir);
    assert.equal(reversed.code, 1);
    assert.match(reversed.stderr, /--since must be before --until/);
  });

  it('serve with CACHET_AUDIT_SINK=stdout prints the whole trail, then each new event, as the export does', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env: { ...process.env, ...env, PORT: String(port), CACHET_AUDIT_SINK: 'stdout' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    const stdout: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const output = () => Buffer.concat(chunks).toString('utf8');
    try {
      const started = Date.now();
      while (!output().includes('"msg":"listening"') && Date.now() - started < 20_000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      assert.ok(output().includes('"msg":"listening"'), output());
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/v1/components`, { headers: { 'x-cachet-token': token } })).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/v1/components`, { method: 'POST', headers: { 'x-cachet-token': token, 'content-type': 'application/json' }, body: '{"name":"x","status":1}' })).status, 403);
      while (!output().includes('"action":"components.create"') && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50));
    } finally {
      const exited = child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
    // Lines from stdout alone: a stderr chunk may land between two pieces of one stdout line.
    const objects = Buffer.concat(stdout)
      .toString('utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch (err) {
          throw new Error(`not one JSON line on stdout: ${JSON.stringify(line.slice(0, 600))}`, { cause: err });
        }
      });
    const shipped = objects.filter((o) => 'hash' in o && 'seq' in o) as unknown as AuditEvent[];
    const exported = run(['audit', 'export'], env, dir);
    assert.deepEqual(shipped, lines(exported.stdout), 'the stdout sink printed the trail from its first event, each event once');
    assert.ok(shipped.some((e) => e.action === 'components.list' && e.outcome === 'allowed'));
    assert.ok(shipped.some((e) => e.action === 'components.create' && e.outcome === 'denied'));
    assert.ok(!Buffer.concat(chunks).includes(token.slice(12)), 'a token was printed');
  });
});
