/**
 * `npm run bench`: real server processes (`cachet serve`, the code path of `npm start`) driven by a
 * separate load process (wrk, or autocannon without it), on SQLite, on PostgreSQL, and on
 * PostgreSQL + Redis with two instances behind HAProxy (the README's recipe). For every row:
 * requests per second, p50, p99, the servers' peak resident memory, and the audit events the row
 * added counted against the requests answered (none may be lost). Then the memory that 10,000
 * distinct keys, each used once, add to a fresh server. Prints tables, writes
 * bench/results/http.json and, with --readme, the results section of bench/README.md.
 *
 *   node --import tsx bench/http.ts [--duration 10s] [--warmup 2s] [--connections 32] [--threads 2]
 *     [--configs sqlite,postgres,cluster] [--keys 10000] [--tool wrk|autocannon] [--out bench/results]
 *     [--readme] [--note "measured while …"]
 *
 * Environment: BENCH_DURATION, BENCH_WARMUP, BENCH_CONFIGS, BENCH_KEYS, BENCH_NOTE, BENCH_REDIS_URL
 * (default redis://127.0.0.1:6379/5), CACHET_TEST_PG_URL (the PostgreSQL to create databases on).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, type Database } from '../src/db/database.js';
import { generateToken } from '../src/infra/token.js';
import { dialects } from '../test/helpers/dialects.js';
import { envFor, freshUrl } from '../test/helpers/processes.js';
import { createKeys } from './lib/keys.js';
import { drive, runLoad, settle, wrkAvailable, type LoadTool } from './lib/load.js';
import { haproxyAvailable, memoryOf, type Cachet, type Logged, startBare, startCachet, startProxy, stopAll, watchPeak, type Target } from './lib/processes.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.BENCH_DURATION ?? '10s' },
    warmup: { type: 'string', default: process.env.BENCH_WARMUP ?? '2s' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
    configs: { type: 'string', default: process.env.BENCH_CONFIGS ?? '' },
    keys: { type: 'string', default: process.env.BENCH_KEYS ?? '10000' },
    tool: { type: 'string', default: '' },
    out: { type: 'string', default: 'bench/results' },
    readme: { type: 'boolean', default: false },
    note: { type: 'string', default: process.env.BENCH_NOTE ?? '' },
  },
});

function seconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${text} (e.g. 10s, 500ms, 1m)`);
  const n = Number(match[1]);
  return match[2] === 'ms' ? n / 1000 : match[2] === 'm' ? n * 60 : n;
}

const DURATION = seconds(values.duration);
const WARMUP = seconds(values.warmup);
const CONNECTIONS = Number(values.connections);
const THREADS = Number(values.threads);
const KEYS = Number(values.keys);
const TOOL: LoadTool = values.tool === 'wrk' || values.tool === 'autocannon' ? values.tool : wrkAvailable() ? 'wrk' : 'autocannon';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/5';
/** Rate limits out of the way: the bench measures the pipeline, not the limiter's refusals. */
const UNLIMITED = { CACHET_RATE_LIMIT_DEFAULT: '1000000', CACHET_RATE_LIMIT_ANONYMOUS: '1000000', CACHET_RATE_LIMIT_FAILED_AUTH: '1000000' };

type ConfigName = 'sqlite' | 'postgres' | 'cluster';
const CONFIG_LABELS: Record<ConfigName, string> = {
  sqlite: 'SQLite, one instance',
  postgres: 'PostgreSQL, one instance',
  cluster: 'PostgreSQL + Redis, two instances behind HAProxy',
};

type TokenName = 'reader' | 'subscribers' | 'writer' | 'malformed' | 'unknown';
interface RowSpec {
  id: string;
  what: string;
  method: 'GET' | 'POST';
  path: string;
  token?: TokenName;
  body?: string;
  accept: string;
  status: number;
  /** Audit events each answered request adds (src/http/audit-stage.ts): keyed requests and refusals one, guests' reads none. */
  events: 0 | 1;
  /** Served by the bare node:http server instead of cachet. */
  bare?: boolean;
}

const JSON_ACCEPT = 'application/json';
/** In letter order; run in this order too, except (f), which runs last so its incidents do not weigh on the reads. */
const ROWS: RowSpec[] = [
  { id: 'a', what: 'bare node:http, fixed JSON (ceiling)', method: 'GET', path: '/', accept: JSON_ACCEPT, status: 200, events: 0, bare: true },
  { id: 'b', what: 'GET /api/v1/ping', method: 'GET', path: '/api/v1/ping', accept: JSON_ACCEPT, status: 200, events: 0 },
  { id: 'c', what: 'GET /api/v1/components (20), guest', method: 'GET', path: '/api/v1/components', accept: JSON_ACCEPT, status: 200, events: 0 },
  { id: 'd', what: 'GET /api/v1/components (20), components.read key', method: 'GET', path: '/api/v1/components', token: 'reader', accept: JSON_ACCEPT, status: 200, events: 1 },
  { id: 'e', what: 'GET /api/v1/subscribers (20), subscribers.read key', method: 'GET', path: '/api/v1/subscribers', token: 'subscribers', accept: JSON_ACCEPT, status: 200, events: 1 },
  {
    id: 'f',
    what: 'POST /api/v1/incidents, incidents.manage key',
    method: 'POST',
    path: '/api/v1/incidents',
    token: 'writer',
    body: JSON.stringify({ name: 'Bench incident', message: 'Written by the benchmark.', status: 1, visible: false, notify: false }),
    accept: JSON_ACCEPT,
    status: 200,
    events: 1,
  },
  { id: 'g1', what: 'malformed token (checksum rejection)', method: 'GET', path: '/api/v1/components', token: 'malformed', accept: JSON_ACCEPT, status: 401, events: 1 },
  { id: 'g2', what: 'well-formed unknown token', method: 'GET', path: '/api/v1/components', token: 'unknown', accept: JSON_ACCEPT, status: 401, events: 1 },
  { id: 'h1', what: 'GET /api/v1/status', method: 'GET', path: '/api/v1/status', accept: JSON_ACCEPT, status: 200, events: 0 },
  { id: 'h2', what: 'GET / (status page)', method: 'GET', path: '/', accept: 'text/html', status: 200, events: 0 },
];
const RUN_ORDER = [...ROWS.filter((r) => r.id !== 'f'), ROWS.find((r) => r.id === 'f')!];

interface RowResult {
  id: string;
  what: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Largest resident memory of any server process during the row, MB. */
  peakRssMb: number;
  answered: number;
  /** Responses the servers logged sending (includes those the load tool gave up on at the end); the bare server: answered. */
  served: number;
  /** Answered with another status than the row expects, plus socket errors. */
  errors: number;
  preflightStatus: number;
  ratioToB: number | null;
  ratioToC: number | null;
  audit: Audit & { perResponse: number };
}

/**
 * The events a row added, matched by request id to the responses the servers logged sending.
 * expected: served × events per response; found: events of those requests; lost: served requests
 * that should carry an event and have none; extra: events beyond one per served request (e.g. a
 * guest read audited), plus events of other paths; unanswered: events of the row's path whose
 * response was never logged (requests the load tool gave up on when its time was up, at most one
 * per connection: the server audits them all the same).
 */
interface Audit {
  expected: number;
  found: number;
  lost: number;
  extra: number;
  unanswered: number;
}

interface KeysResult {
  keys: number;
  /** VmRSS after the control phase (as many requests with one key) and after the distinct keys. */
  rssBeforeMb: number;
  rssAfterMb: number;
  /** Peak RSS during the control phase and during the distinct keys. */
  peakBeforeMb: number;
  peakAfterMb: number;
  /** The larger of the two differences: what the cached keys are taken to add. */
  growthMb: number;
  answered: number;
  errors: number;
  audit: Audit;
}

interface Check {
  target: string;
  value: number | null;
  limit: string;
  met: boolean | null;
}

interface ConfigResult {
  config: ConfigName;
  label: string;
  instances: number;
  idleRssMb: number;
  rows: RowResult[];
  keys: KeysResult | null;
  checks: Check[];
}

/** Waits until the servers have logged no response for 500 ms (at most 10 s): stragglers of the last load are done. */

const round = (n: number, digits = 2) => Number(n.toFixed(digits));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A token that fails its checksum: a generated one with its last character changed. */
function malformedToken(): string {
  const token = generateToken();
  return token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
}

function headersFor(row: RowSpec, tokens: Record<TokenName, string>): Record<string, string> {
  const headers: Record<string, string> = { accept: row.accept };
  if (row.token) headers['x-cachet-token'] = tokens[row.token];
  if (row.body !== undefined) headers['content-type'] = 'application/json';
  return headers;
}

/** The last audit event's position in the chain (0 for none). */
async function lastSeq(database: Database): Promise<number> {
  const row = await database.db.selectFrom('audit_events').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
  return Number(row?.seq ?? 0);
}

async function auditSince(database: Database, seq: number, logged: readonly Logged[], path_: string, perResponse: number): Promise<Audit> {
  const events = await database.db.selectFrom('audit_events').select(['request_id', 'path']).where('seq', '>', seq).execute();
  const served = new Set(logged.map((l) => l.reqId));
  const perRequest = new Map<string, number>();
  let unanswered = 0;
  let stray = 0;
  for (const event of events) {
    if (event.request_id !== null && served.has(event.request_id)) perRequest.set(event.request_id, (perRequest.get(event.request_id) ?? 0) + 1);
    else if (event.path === path_) unanswered++;
    else stray++;
  }
  const found = [...perRequest.values()].reduce((sum, n) => sum + n, 0);
  const lost = perResponse > 0 ? [...served].filter((id) => !perRequest.has(id)).length : 0;
  const extra = [...perRequest.values()].reduce((sum, n) => sum + Math.max(0, n - perResponse), 0) + stray;
  return { expected: served.size * perResponse, found, lost, extra, unanswered };
}

async function seed(base: string, admin: string): Promise<void> {
  const headers = { 'x-cachet-token': admin, 'content-type': 'application/json', accept: JSON_ACCEPT };
  for (let i = 0; i < 20; i++) {
    const component = await fetch(`${base}/api/v1/components`, { method: 'POST', headers, body: JSON.stringify({ name: `Component ${i}`, description: 'A component of the benchmark', status: 1 + (i % 4) }) });
    if (component.status !== 200) throw new Error(`seeding a component: ${component.status} ${await component.text()}`);
    const subscriber = await fetch(`${base}/api/v1/subscribers`, { method: 'POST', headers, body: JSON.stringify({ email: `bench-${i}@example.com`, verify: true }) });
    if (subscriber.status !== 200) throw new Error(`seeding a subscriber: ${subscriber.status} ${await subscriber.text()}`);
  }
}

async function runRow(row: RowSpec, target: Target, tokens: Record<TokenName, string>, database: Database, scratch: string): Promise<Omit<RowResult, 'ratioToB' | 'ratioToC'>> {
  const url = `${target.url}${row.path}`;
  const headers = headersFor(row, tokens);
  const preflight = await fetch(url, { method: row.method, headers, body: row.body });
  await preflight.arrayBuffer();
  const request = { url, method: row.method, headers, body: row.body, connections: CONNECTIONS, threads: THREADS };
  if (WARMUP > 0) await runLoad(TOOL, { ...request, seconds: WARMUP }, scratch);
  await settle(target);
  const before = row.bare ? 0 : await lastSeq(database);
  const recording = target.record?.();
  const peak = watchPeak(target.pids);
  const load = await runLoad(TOOL, { ...request, seconds: DURATION }, scratch);
  const peakRssMb = peak();
  // Requests the load tool gave up on at the end (at most one per connection) may still be finishing.
  await settle(target);
  // Every response the server sent carries its event (committed before the response leaves): the
  // expectation is the server's responses, matched by request id.
  const logged = (recording?.() ?? []).filter((l) => l.method === row.method && l.path === row.path);
  const served = row.bare ? load.requests : logged.length;
  const audit = row.bare ? { expected: 0, found: 0, lost: 0, extra: 0, unanswered: 0 } : await auditSince(database, before, logged, row.path, row.events);
  const unexpectedStatus = row.status < 400 ? load.errorStatuses : load.requests - load.errorStatuses;
  const result = {
    id: row.id,
    what: row.what,
    rps: round(load.rps, 0),
    p50Ms: round(load.p50Ms),
    p99Ms: round(load.p99Ms),
    peakRssMb: round(peakRssMb, 1),
    answered: load.requests,
    served,
    errors: unexpectedStatus + load.socketErrors + (served < load.requests || served - load.requests > CONNECTIONS ? 1 : 0),
    preflightStatus: preflight.status,
    audit: { perResponse: row.events, ...audit },
  };
  console.log(
    `  ${row.id.padEnd(3)} ${row.what.padEnd(52)} ${String(result.rps).padStart(7)} req/s  p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms  peak ${result.peakRssMb} MB  audit ${audit.found}/${audit.expected}${audit.lost ? ` LOST ${audit.lost}` : ''}${audit.extra ? ` EXTRA ${audit.extra}` : ''}${audit.unanswered ? ` (+${audit.unanswered} unanswered)` : ''}${result.errors ? `  ERRORS ${result.errors}` : ''}`,
  );
  return result;
}


/** RSS growth of a fresh server from `KEYS` distinct valid keys, each used once (all cached: the verifier keeps 10,000). */
async function keysRow(dir: string, url: string, env: NodeJS.ProcessEnv, reader: string, database: Database): Promise<KeysResult> {
  console.log(`  creating ${KEYS} keys…`);
  const tokens = await createKeys(
    envFor(dir, url, env),
    Array.from({ length: KEYS }, (_, i) => ({ name: `bench-cache-${i}`, scopes: ['components.read'] })),
  );
  const server = await startCachet(dir, url, env);
  try {
    const base = `http://127.0.0.1:${server.port}`;
    // Requests with one key first, so the heap has grown to serve them, then as many again as the
    // control the distinct keys are compared with (RSS moves with garbage collection: the same
    // traffic with and without new keys). Ping: the key is verified (and cached) on any API
    // route, and the response costs nothing else.
    await drive(base, '/api/v1/ping', () => reader, KEYS);
    await settle(server);
    const controlPeak = watchPeak([server.pid]);
    await drive(base, '/api/v1/ping', () => reader, KEYS);
    await sleep(1000);
    await settle(server);
    const peakBeforeMb = controlPeak();
    const rssBeforeMb = memoryOf(server.pid).rssMb;
    const before = await lastSeq(database);
    const recording = server.record();
    const distinctPeak = watchPeak([server.pid]);
    const run = await drive(base, '/api/v1/ping', (i) => tokens[i]!, KEYS);
    await sleep(1000);
    await settle(server);
    const peakAfterMb = distinctPeak();
    const rssAfterMb = memoryOf(server.pid).rssMb;
    const logged = recording().filter((l) => l.method === 'GET' && l.path === '/api/v1/ping');
    const audit = await auditSince(database, before, logged, '/api/v1/ping', 1);
    const result = {
      keys: KEYS,
      rssBeforeMb: round(rssBeforeMb, 1),
      rssAfterMb: round(rssAfterMb, 1),
      peakBeforeMb: round(peakBeforeMb, 1),
      peakAfterMb: round(peakAfterMb, 1),
      growthMb: round(Math.max(rssAfterMb - rssBeforeMb, peakAfterMb - peakBeforeMb), 1),
      answered: run.answered,
      errors: run.errors + (logged.length === run.answered ? 0 : 1),
      audit,
    };
    console.log(`  ${KEYS} distinct keys: RSS ${result.rssBeforeMb} → ${result.rssAfterMb} MB, peak ${result.peakBeforeMb} → ${result.peakAfterMb} MB (growth ${result.growthMb} MB), audit ${audit.found}/${audit.expected}${run.errors ? `  ERRORS ${run.errors}` : ''}`);
    return result;
  } finally {
    await server.stop();
  }
}

function checksFor(config: ConfigName, rows: RowResult[], idleRssMb: number, keys: KeysResult | null): Check[] {
  const row = (id: string) => rows.find((r) => r.id === id)!;
  const ratio = (name: string, value: number | null, limit: number): Check => ({ target: name, value, limit: `≥ ${limit}`, met: value === null ? null : value >= limit });
  const atMost = (name: string, value: number | null, limit: number, unit: string): Check => ({ target: name, value, limit: `≤ ${limit} ${unit}`, met: value === null ? null : value <= limit });
  const checks = [
    ratio('(c) / (b)', row('c').ratioToB, config === 'sqlite' ? 0.35 : 0.15),
    ratio('(d) / (c)', row('d').ratioToC, 0.85),
    ratio('(g1) malformed / (b)', row('g1').ratioToB, 0.8),
    ratio('(g2) unknown / (b)', row('g2').ratioToB, 0.8),
    ratio('(h1) /api/v1/status / (b)', row('h1').ratioToB, 0.5),
    ratio('(h2) status page / (b)', row('h2').ratioToB, 0.3),
  ];
  if (config === 'sqlite') checks.push(atMost('(f) p99', row('f').p99Ms, 20, 'ms'));
  checks.push(atMost('RSS idle', idleRssMb, 100, 'MB'));
  checks.push(atMost('RSS peak under load', Math.max(...rows.filter((r) => r.id !== 'a').map((r) => r.peakRssMb)), 150, 'MB'));
  if (keys) checks.push(atMost(`RSS growth, ${keys.keys} keys`, keys.growthMb, 10, 'MB'));
  const lost = rows.reduce((sum, r) => sum + r.audit.lost, 0) + (keys?.audit.lost ?? 0);
  checks.push({ target: 'audit events lost', value: lost, limit: '= 0', met: lost === 0 });
  const extra = rows.reduce((sum, r) => sum + r.audit.extra, 0) + (keys?.audit.extra ?? 0);
  checks.push({ target: 'audit events beyond responses served', value: extra, limit: '= 0', met: extra === 0 });
  const unanswered = Math.max(...rows.map((r) => r.audit.unanswered), keys?.audit.unanswered ?? 0);
  checks.push({ target: 'audited requests left unanswered at the end of a row (most in one row)', value: unanswered, limit: `≤ ${CONNECTIONS} (connections)`, met: unanswered <= CONNECTIONS });
  const errors = rows.reduce((sum, r) => sum + r.errors + (r.preflightStatus === ROWS.find((s) => s.id === r.id)!.status ? 0 : 1), 0) + (keys?.errors ?? 0);
  checks.push({ target: 'requests answered otherwise than expected', value: errors, limit: '= 0', met: errors === 0 });
  return checks;
}

async function runConfig(config: ConfigName): Promise<ConfigResult> {
  console.log(`\n${CONFIG_LABELS[config]}`);
  const dir = mkdtempSync('/tmp/wt-bench-');
  const dialect = config === 'sqlite' ? 'sqlite' : 'postgres';
  const { url, drop } = await freshUrl(dialect, dir);
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const env: NodeJS.ProcessEnv =
    config === 'cluster' ? { ...UNLIMITED, REDIS_URL, CACHET_REDIS_PREFIX: prefix, CACHET_TRUSTED_PROXIES: '127.0.0.1/32' } : { ...UNLIMITED };
  const instances = config === 'cluster' ? 2 : 1;
  const database = openDatabase(url);
  const stops: Array<() => Promise<void>> = [];
  try {
    const [admin, reader, subscribers, writer] = await createKeys(envFor(dir, url, env), [
      { name: 'bench-admin', scopes: ['*'] },
      { name: 'bench-reader', scopes: ['components.read'] },
      { name: 'bench-subscribers', scopes: ['subscribers.read'] },
      { name: 'bench-writer', scopes: ['incidents.manage'] },
    ]);
    const tokens: Record<TokenName, string> = { reader: reader!, subscribers: subscribers!, writer: writer!, malformed: malformedToken(), unknown: generateToken() };

    // The ceiling, through the same proxy when there is one.
    const bares = await Promise.all(Array.from({ length: instances }, () => startBare()));
    const bareProxy = config === 'cluster' ? await startProxy(dir, bares.map((b) => b.port)) : null;
    const bareTarget: Target = {
      url: `http://127.0.0.1:${bareProxy?.port ?? bares[0]!.port}`,
      pids: bares.map((b) => b.pid),
      total: () => 0,
      record: null,
      stop: async () => {
        await bareProxy?.stop();
        await Promise.all(bares.map((b) => b.stop()));
      },
    };
    stops.push(bareTarget.stop);

    const servers: Cachet[] = [];
    for (let i = 0; i < instances; i++) servers.push(await startCachet(dir, url, env));
    for (const s of servers) stops.push(s.stop);
    await sleep(1000);
    const idleRssMb = round(Math.max(...servers.map((s) => memoryOf(s.pid).rssMb)), 1);
    console.log(`  idle RSS after start: ${idleRssMb} MB`);
    const proxy = config === 'cluster' ? await startProxy(dir, servers.map((s) => s.port)) : null;
    if (proxy) stops.push(proxy.stop);
    const target: Target = {
      url: `http://127.0.0.1:${proxy?.port ?? servers[0]!.port}`,
      pids: servers.map((s) => s.pid),
      total: () => servers.reduce((sum, s) => sum + s.total(), 0),
      record: () => {
        const stops = servers.map((s) => s.record());
        return () => stops.flatMap((stop) => stop());
      },
      stop: async () => undefined,
    };
    await seed(target.url, admin!);

    const measured = new Map<string, Omit<RowResult, 'ratioToB' | 'ratioToC'>>();
    for (const row of RUN_ORDER) {
      measured.set(row.id, await runRow(row, row.bare ? bareTarget : target, tokens, database, dir));
      if (row.bare) await bareTarget.stop();
    }
    await proxy?.stop();
    for (const s of servers) await s.stop();
    const b = measured.get('b')!.rps;
    const c = measured.get('c')!.rps;
    const rows: RowResult[] = ROWS.map((spec) => {
      const r = measured.get(spec.id)!;
      return { ...r, ratioToB: b > 0 ? round(r.rps / b, 3) : null, ratioToC: spec.id === 'd' && c > 0 ? round(r.rps / c, 3) : null };
    });
    const keys = config === 'cluster' || KEYS <= 0 ? null : await keysRow(dir, url, env, reader!, database);
    return { config, label: CONFIG_LABELS[config], instances, idleRssMb, rows, keys, checks: checksFor(config, rows, idleRssMb, keys) };
  } finally {
    for (const stop of stops.reverse()) await stop();
    await database.close();
    await drop();
    if (config === 'cluster') {
      spawnSync('redis-cli', ['-u', REDIS_URL, 'eval', "for _, k in ipairs(redis.call('keys', ARGV[1])) do redis.call('del', k) end", '0', `${prefix}*`]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function availableConfigs(): Promise<ConfigName[]> {
  if (values.configs.trim()) {
    const names = values.configs.split(',').map((s) => s.trim());
    for (const name of names) if (!(name in CONFIG_LABELS)) throw new Error(`--configs: unknown "${name}" (sqlite, postgres, cluster)`);
    return names as ConfigName[];
  }
  const configs: ConfigName[] = ['sqlite'];
  if ((await dialects()).includes('postgres')) {
    configs.push('postgres');
    const redis = spawnSync('redis-cli', ['-u', REDIS_URL, 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
    if (redis && haproxyAvailable()) configs.push('cluster');
    else console.log(`skipping PostgreSQL + Redis behind HAProxy: ${redis ? '' : 'Redis unreachable '}${haproxyAvailable() ? '' : 'haproxy missing'}`);
  } else console.log('skipping PostgreSQL: unreachable');
  return configs;
}

const fmt = (n: number | null, digits = 2) => (n === null ? '–' : String(round(n, digits)));

function markdown(results: ReturnType<typeof summary>): string {
  const lines: string[] = [];
  lines.push(`Measured ${results.at} with ${results.settings.tool}, ${results.settings.connections} connections, ${results.settings.threads} threads, ${results.settings.durationSeconds} s per row after ${results.settings.warmupSeconds} s of warm-up.`);
  lines.push(`Machine: ${results.machine.cpuModel}, ${results.machine.cores} cores, ${results.machine.memoryGb} GB; Node ${results.machine.node}; Linux ${results.machine.kernel}; load average ${results.machine.loadAverageAtStart.join(' ')} at start.`);
  if (results.note) lines.push('', `**${results.note}**`);
  for (const config of results.configs) {
    lines.push('', `### ${config.label}`, '', `Idle RSS after start: ${config.idleRssMb} MB${config.instances > 1 ? ' (largest instance)' : ''}.`, '');
    lines.push('| row | request | req/s | ×(b) | p50 ms | p99 ms | peak RSS MB | answered | served | audit expected | audit found | lost | extra | unanswered | errors |');
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of config.rows) {
      const ratio = `${fmt(r.ratioToB)}${r.ratioToC !== null ? ` (×(c) ${fmt(r.ratioToC)})` : ''}`;
      lines.push(`| ${r.id} | ${r.what} | ${r.rps} | ${ratio} | ${r.p50Ms} | ${r.p99Ms} | ${r.peakRssMb} | ${r.answered} | ${r.served} | ${r.id === 'a' ? '–' : r.audit.expected} | ${r.id === 'a' ? '–' : r.audit.found} | ${r.id === 'a' ? '–' : r.audit.lost} | ${r.id === 'a' ? '–' : r.audit.extra} | ${r.id === 'a' ? '–' : r.audit.unanswered} | ${r.errors} |`);
    }
    if (config.keys) {
      const k = config.keys;
      lines.push('', `${k.keys} distinct valid keys, each used once on a fresh server, against as many requests with one key: RSS ${k.rssBeforeMb} → ${k.rssAfterMb} MB, peak ${k.peakBeforeMb} → ${k.peakAfterMb} MB (growth taken: **${k.growthMb} MB**); audit events ${k.audit.found} of ${k.audit.expected} expected, ${k.audit.lost} lost, ${k.audit.extra} extra; ${k.errors} errors.`);
    }
    lines.push('', '| target | value | limit | |', '|---|---:|---|---|');
    for (const c of config.checks) lines.push(`| ${c.target} | ${fmt(c.value, 3)} | ${c.limit} | ${c.met === null ? 'n/a' : c.met ? 'met' : '**missed**'} |`);
  }
  return lines.join('\n');
}

function summary(configs: ConfigResult[], startLoad: number[]) {
  return {
    at: new Date().toISOString(),
    note: values.note || null,
    machine: {
      cpuModel: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      kernel: release(),
      loadAverageAtStart: startLoad.map((n) => round(n, 2)),
    },
    settings: { tool: TOOL, durationSeconds: DURATION, warmupSeconds: WARMUP, connections: CONNECTIONS, threads: THREADS, keys: KEYS },
    configs,
  };
}

const stopOnSignal = () => void stopAll().finally(() => process.exit(130));
process.once('SIGINT', stopOnSignal);
process.once('SIGTERM', stopOnSignal);

const startLoad = loadavg();
const configs = await availableConfigs();
console.log(`load: ${TOOL} -t${THREADS} -c${CONNECTIONS}, ${DURATION} s per row (+${WARMUP} s warm-up); configurations: ${configs.join(', ')}`);
const results: ConfigResult[] = [];
try {
  for (const config of configs) results.push(await runConfig(config));
} finally {
  await stopAll();
}
const report = summary(results, startLoad);
const table = markdown(report);
console.log(`\n${table}\n`);
mkdirSync(values.out, { recursive: true });
writeFileSync(path.join(values.out, 'http.json'), JSON.stringify(report, null, 2) + '\n');
if (values.readme) {
  const file = path.resolve('bench/README.md');
  const readme = readFileSync(file, 'utf8');
  const marked = /(<!-- bench-results:start -->\n)[\s\S]*?(<!-- bench-results:end -->)/;
  if (!marked.test(readme)) throw new Error('bench/README.md has no <!-- bench-results:start --> … <!-- bench-results:end --> section');
  writeFileSync(file, readme.replace(marked, (_, open: string, close: string) => `${open}${table}\n${close}`));
}
const missed = results.flatMap((c) => c.checks.filter((k) => k.met === false).map((k) => `${c.config}: ${k.target}`));
console.log(missed.length ? `targets missed: ${missed.join('; ')}` : 'every target met');
// Missed performance targets are the result; lost audit events and wrong answers are failures.
const broken = results.flatMap((c) => c.checks.filter((k) => k.met === false && (k.target.startsWith('audit') || k.target.startsWith('requests answered'))));
process.exitCode = broken.length > 0 ? 1 : 0;
