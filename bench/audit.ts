/**
 * What the audit trail costs a read: the same `GET /api/v1/components` (20 components) against a
 * real server process, as a guest (no event) and with a key (its event committed by group commit
 * before the response). The target is keyed ≥ 0.85 × guest. Runs alternate guest/keyed rounds and
 * reports medians; prints the figures and writes bench/results/audit.json.
 *
 *   node --import tsx bench/audit.ts [--seconds 5] [--rounds 3] [--connections 16] [--dialect sqlite|postgres] [--path /api/v1/ping]
 *
 * `/api/v1/ping` isolates the audit's cost (the read itself is nearly free); `/api/v1/components`
 * is the read the target speaks of (a guest's list also filters hidden groups, a key's does not).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { openDatabase } from '../src/db/database.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    dialect: { type: 'string', default: 'sqlite' },
    path: { type: 'string', default: '/api/v1/components' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const BIN = path.resolve('bin/cachet.js');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'cachet-bench-audit-'));
let url = `sqlite:${path.join(dir, 'cachet.db')}`;
let dropDatabase = async () => undefined as unknown;
if (values.dialect === 'postgres') {
  const name = `cachet_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  url = `postgres://postgres@127.0.0.1:5432/${name}`;
  dropDatabase = async () => {
    const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  };
}
const env = { ...process.env, CACHET_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: url, CACHET_PEPPER: 'bench-pepper-0123456789abcdef0123456789', LOG_LEVEL: 'warn', CACHET_RATE_LIMIT_DEFAULT: '1000000', CACHET_RATE_LIMIT_ANONYMOUS: '1000000' };
const created = spawnSync(process.execPath, [BIN, 'keys', 'create', '--purpose', 'test', '--name', 'bench', '--scopes', '*', '--json'], { env, encoding: 'utf8' });
if (created.status !== 0) throw new Error(created.stderr);
const token = (JSON.parse(created.stdout) as { token: string }).token;

const port = await freePort();
const server = spawn(process.execPath, [BIN, 'serve'], { env: { ...env, PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise<void>((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('"msg":"listening"')) resolve();
  });
  server.once('exit', () => reject(new Error('server exited')));
});
server.stdout.resume();
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 20; i++) {
  await fetch(`${base}/api/v1/components`, {
    method: 'POST',
    headers: { 'x-cachet-token': token, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ name: `Component ${i}`, description: 'A component of the benchmark', status: 1 + (i % 4) }),
  });
}

async function run(keyed: boolean) {
  const result = await autocannon({
    url: `${base}${values.path}`,
    connections,
    duration: seconds,
    headers: keyed ? { 'x-cachet-token': token, accept: 'application/json' } : { accept: 'application/json' },
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total };
}

const database = openDatabase(url);
const countEvents = async () => Number((await database.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
await run(false); // warm-up
await run(true);
const guest: Array<Awaited<ReturnType<typeof run>>> = [];
const keyed: typeof guest = [];
let eventsPerKeyedRequest = 0;
for (let r = 0; r < rounds; r++) {
  guest.push(await run(false));
  const before = await countEvents();
  const k = await run(true);
  keyed.push(k);
  eventsPerKeyedRequest = ((await countEvents()) - before) / k.requests;
  console.log(`round ${r + 1}: guest ${guest.at(-1)!.rps} req/s, keyed+audited ${k.rps} req/s`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = {
  at: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  dialect: values.dialect,
  path: values.path,
  connections,
  seconds,
  rounds,
  guest: { rps: median(guest.map((g) => g.rps)), p50: median(guest.map((g) => g.p50)), p99: median(guest.map((g) => g.p99)) },
  keyed: { rps: median(keyed.map((g) => g.rps)), p50: median(keyed.map((g) => g.p50)), p99: median(keyed.map((g) => g.p99)) },
  ratio: Number((median(keyed.map((g) => g.rps)) / median(guest.map((g) => g.rps))).toFixed(3)),
  eventsPerKeyedRequest: Number(eventsPerKeyedRequest.toFixed(3)),
  target: 0.85,
};
console.log(JSON.stringify(summary, null, 2));
const slug = values.path.replace(/^\/api\/v1\//, '').replace(/[^a-z0-9]+/gi, '-');
writeFileSync(path.resolve(`bench/results/audit-${values.dialect}-${slug}.json`), JSON.stringify(summary, null, 2) + '\n');
await database.close();
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
await dropDatabase();
rmSync(dir, { recursive: true, force: true });
