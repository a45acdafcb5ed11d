/**
 * The key verification path, measured: cached verify (no query), uncached verify (one indexed
 * query by digest), a checksum rejection (no store), and whole requests through the pipeline.
 * Prints the figures and writes them to bench/results/verify.json.
 *
 *   node --import tsx --expose-gc bench/verify.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createKeysRepo } from '../src/features/keys/keys.repo.js';
import { createKeyVerifier } from '../src/features/keys/keys.verify.js';
import { createLogger } from '../src/logger.js';
import { createServer } from '../src/main.js';
import { generateToken, isWellFormedToken } from '../src/infra/token.js';
import { testConfig } from '../test/helpers/app.js';
import { dialects, freshDatabase } from '../test/helpers/dialects.js';

async function rate(label: string, iterations: number, work: (i: number) => unknown): Promise<{ label: string; opsPerSec: number; usPerOp: number }> {
  for (let i = 0; i < Math.min(1000, iterations); i++) await work(i);
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await work(i);
  const ms = performance.now() - started;
  const result = { label, opsPerSec: Math.round((iterations / ms) * 1000), usPerOp: Number(((ms * 1000) / iterations).toFixed(2)) };
  console.log(`${label.padEnd(48)} ${String(result.opsPerSec).padStart(9)} ops/s  ${String(result.usPerOp).padStart(8)} µs/op`);
  return result;
}

async function postgresReachable(): Promise<boolean> {
  return (await dialects()).includes('postgres');
}

const gc = (globalThis as { gc?: () => void }).gc;
const dir = mkdtempSync(path.join(tmpdir(), 'cachet-bench-'));
const database = openDatabase(`sqlite:${path.join(dir, 'bench.db')}`);
await migrateToLatest(database);
const config = testConfig();
const server = await createServer(config, createLogger('silent'), database);
await server.app.ready();

const KEYS = 2000;
const tokens: string[] = [];
for (let i = 0; i < KEYS; i++) {
  const created = await server.keys.create({ name: `bench-${i}`, scopes: ['*'], createdBy: 'cli' });
  if (!created.ok) throw new Error(created.error);
  tokens.push(created.token);
}
await server.verifier.refresh();

const now = new Date();
const results = [];
const tampered = Array.from({ length: 1000 }, () => generateToken().slice(0, -1) + '0');
results.push(await rate('checksum rejection (no store)', 200_000, (i) => isWellFormedToken(tampered[i % 1000]!)));

// A verifier whose cache is emptied before each call: every verify is a query by digest.
const cold = createKeyVerifier({ db: database.db, repo: createKeysRepo(), pepper: config.pepper });
results.push(
  await rate('verify, not cached (SQLite query by digest)', 20_000, (i) => {
    cold.invalidate();
    return cold.verify(tokens[i % KEYS]!, now);
  }),
);
// The same on PostgreSQL, when one is reachable (several instances share one).
if (await postgresReachable()) {
  const pgDatabase = await freshDatabase('postgres');
  const pgServer = await createServer(config, createLogger('silent'), pgDatabase);
  const pgTokens: string[] = [];
  for (let i = 0; i < 200; i++) {
    const created = await pgServer.keys.create({ name: `bench-${i}`, scopes: ['*'], createdBy: 'cli' });
    if (created.ok) pgTokens.push(created.token);
  }
  const pgCold = createKeyVerifier({ db: pgDatabase.db, repo: createKeysRepo(), pepper: config.pepper });
  results.push(
    await rate('verify, not cached (PostgreSQL query by digest)', 5_000, (i) => {
      pgCold.invalidate();
      return pgCold.verify(pgTokens[i % pgTokens.length]!, now);
    }),
  );
  await pgServer.close();
  await pgDatabase.close();
}
results.push(await rate(`verify, cached (${KEYS} keys in the LRU)`, 200_000, (i) => server.verifier.verify(tokens[i % KEYS]!, now)));

const inject = (token?: string) => server.app.inject({ method: 'GET', url: '/api/v1/ping', headers: token ? { 'x-cachet-token': token } : {} });
results.push(await rate('GET /api/v1/ping, no key (inject)', 20_000, () => inject()));
results.push(await rate('GET /api/v1/ping, cached key (inject)', 20_000, (i) => inject(tokens[i % KEYS])));
results.push(await rate('GET /api/v1/components, cached key (inject)', 10_000, (i) => server.app.inject({ url: '/api/v1/components', headers: { 'x-cachet-token': tokens[i % KEYS]! } })));

// Memory held per cached key: fill a fresh verifier with 10,000 keys' worth of entries.
const memoryVerifier = createKeyVerifier({ db: database.db, repo: createKeysRepo(), pepper: config.pepper, maxEntries: 10_000 });
gc?.();
const heapBefore = process.memoryUsage().heapUsed;
for (const token of tokens) await memoryVerifier.verify(token, now);
gc?.();
const bytesPerEntry = Math.round((process.memoryUsage().heapUsed - heapBefore) / tokens.length);
console.log(`heap per cached key${gc ? '' : ' (run with --expose-gc for a stable figure)'}: ~${bytesPerEntry} bytes (${memoryVerifier.size()} entries)`);

const report = {
  when: new Date().toISOString(),
  node: process.version,
  machine: '2 cores, shared CI-class VM; numbers are for comparison between runs on one machine',
  keys: KEYS,
  results,
  bytesPerCachedKey: bytesPerEntry,
};
writeFileSync(path.join(import.meta.dirname ?? 'bench', 'results', 'verify.json'), JSON.stringify(report, null, 2) + '\n');
await server.close();
await database.close();
rmSync(dir, { recursive: true, force: true });
