/**
 * The HTTP bench (bench/http.ts), run as `npm run bench:http` runs it but with tiny counts, so its
 * scripts cannot rot: every row comes out with numbers, and no audit event is lost. SQLite always;
 * PostgreSQL + Redis behind HAProxy when those exist (required with CACHET_TEST_REQUIRE_SERVICES=1).
 * The single-instance PostgreSQL configuration shares its code with that one and is left to the
 * real bench, to keep this short.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { START_NODE_OPTIONS } from '../../bench/lib/processes.js';
import { dialects, REQUIRE_SERVICES } from '../helpers/dialects.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/5';
const postgres = (await dialects()).includes('postgres');
const redis = spawnSync('redis-cli', ['-u', REDIS_URL, 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
const haproxy = spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).status === 0;
if (REQUIRE_SERVICES && postgres && (!redis || !haproxy)) throw new Error(`the bench smoke test needs Redis (${redis}) and haproxy (${haproxy})`);

const ROW_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g1', 'g2', 'h1', 'h2'];

interface Report {
  machine: { cpuModel: string; cores: number; node: string };
  settings: { tool: string };
  configs: Array<{
    config: string;
    idleRssMb: number;
    rows: Array<{ id: string; rps: number; p50Ms: number; p99Ms: number; peakRssMb: number; answered: number; served: number; errors: number; preflightStatus: number; ratioToB: number | null; ratioToC: number | null; audit: { expected: number; found: number; lost: number; extra: number; unanswered: number } }>;
    keys: { keys: number; growthMb: number; audit: { expected: number; found: number; lost: number; extra: number } } | null;
    checks: Array<{ target: string; met: boolean | null }>;
  }>;
}

async function bench(config: string): Promise<{ report: Report; output: string }> {
  const out = mkdtempSync('/tmp/wt-bench-smoke-');
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/http.ts', '--duration', '1s', '--warmup', '0', '--keys', '20', '--configs', config, '--out', out], {
      env: { ...process.env, BENCH_REDIS_URL: REDIS_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, output);
    return { report: JSON.parse(readFileSync(path.join(out, 'http.json'), 'utf8')) as Report, output };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function assertComplete(report: Report, config: string, output: string): void {
  assert.ok(report.machine.cores > 0 && report.machine.node.startsWith('v'));
  assert.ok(['wrk', 'autocannon'].includes(report.settings.tool));
  assert.equal(report.configs.length, 1);
  const result = report.configs[0]!;
  assert.equal(result.config, config);
  assert.ok(result.idleRssMb > 0);
  assert.deepEqual(result.rows.map((r) => r.id).sort(), [...ROW_IDS].sort());
  for (const row of result.rows) {
    const where = `${config} row ${row.id}`;
    for (const n of [row.rps, row.p50Ms, row.p99Ms, row.peakRssMb, row.ratioToB]) assert.ok(typeof n === 'number' && Number.isFinite(n), `${where}: ${JSON.stringify(row)}`);
    assert.ok(row.rps > 0 && row.answered > 0 && row.peakRssMb > 0, where);
    assert.ok(row.served >= row.answered, where);
    assert.equal(row.errors, 0, where);
    assert.equal(row.audit.lost, 0, `${where}: audit events lost`);
    assert.equal(row.audit.extra, 0, `${where}: audit events without a response`);
    assert.equal(row.audit.found, row.audit.expected, where);
    assert.ok(row.audit.unanswered <= 32, `${where}: at most one abandoned request per connection`);
  }
  // Keyed requests and refusals are audited, so those rows' counts are not trivially zero.
  for (const id of ['d', 'e', 'f', 'g1', 'g2']) assert.ok(result.rows.find((r) => r.id === id)!.audit.found > 0, `${config} row ${id} counted events`);
  assert.equal(typeof result.rows.find((r) => r.id === 'd')!.ratioToC, 'number');
  if (config !== 'cluster') {
    assert.ok(result.keys, 'the keys row');
    assert.equal(result.keys.keys, 20);
    assert.ok(Number.isFinite(result.keys.growthMb));
    assert.equal(result.keys.audit.lost, 0);
    assert.equal(result.keys.audit.found, 20);
    assert.equal(result.keys.audit.extra, 0);
  }
  assert.ok(result.checks.length > 0 && result.checks.every((c) => c.met !== undefined));
  assert.ok(result.checks.find((c) => c.target === 'audit events lost')!.met);
  assert.match(output, /\| target \| value \| limit \|/, 'prints the table');
}

// The two configurations run side by side: each is mostly waiting (1 s of load, settling), and each has its own ports, database and Redis prefix.
describe('bench setup', () => {
  it('starts servers with the node options of npm start', () => {
    const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start;
    assert.equal(start, `node ${START_NODE_OPTIONS} bin/cachet.js serve`);
  });
});

describe('npm run bench (smoke: tiny counts)', { concurrency: 2 }, () => {
  it('SQLite: every row, with numbers, and no audit event lost', { timeout: 180_000 }, async () => {
    const { report, output } = await bench('sqlite');
    assertComplete(report, 'sqlite', output);
  });

  it('PostgreSQL + Redis, two instances behind HAProxy', { timeout: 180_000, skip: (!postgres || !redis || !haproxy) && 'needs PostgreSQL, Redis and haproxy' }, async () => {
    const { report, output } = await bench('cluster');
    assertComplete(report, 'cluster', output);
  });
});

describe('npm run bench:heap (smoke: tiny counts)', () => {
  it('snapshots three fresh servers and sums what each holds, the keys step included', { timeout: 180_000 }, async () => {
    const out = mkdtempSync('/tmp/wt-heap-smoke-');
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/heap.ts', '--keys', '20', '--top', '5', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, output);
      const report = JSON.parse(readFileSync(path.join(out, 'heap.json'), 'utf8')) as {
        keys: number;
        snapshots: Array<{ label: string; liveHeapMb: number; rssMb: number }>;
        idle: Array<{ kind: string; mb: number; count: number }>;
        steps: Array<{ from: string; to: string; heapMb: number; rssMb: number; changes: Array<{ kind: string; mb: number; count: number }> }>;
      };
      assert.equal(report.keys, 20);
      assert.deepEqual(report.snapshots.map((s) => s.label), ['idle', 'after 20 requests with one key', 'after 20 distinct keys']);
      // A server's heap holds at least its loaded modules' code and strings: megabytes, not zero.
      for (const s of report.snapshots) assert.ok(s.liveHeapMb > 5 && s.rssMb > s.liveHeapMb, JSON.stringify(s));
      assert.equal(report.idle.length, 5);
      assert.ok(report.idle.some((k) => k.kind === 'code' && k.count > 0), JSON.stringify(report.idle));
      assert.equal(report.steps.length, 2);
      for (const step of report.steps) {
        assert.equal(step.changes.length, 5);
        for (const n of [step.heapMb, step.rssMb, ...step.changes.map((c) => c.mb)]) assert.ok(Number.isFinite(n), JSON.stringify(step));
      }
      assert.match(output, /live heap/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

