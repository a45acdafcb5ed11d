/**
 * `npm run bench:heap`: where a server's memory goes. A real `cachet serve` process (the code path of
 * `npm start`) on a fresh SQLite file writes a V8 heap snapshot (`--heapsnapshot-signal`) at idle;
 * a second after N requests with one key; a third after those and N distinct keys (each used once
 * on /api/v1/ping, as bench/http.ts's keys row does). Each is a fresh process, read once. Each snapshot is summed by what V8 calls the
 * objects (constructor or kind) and the differences printed, biggest first, next to the resident
 * memory from /proc: live heap that grew is retained state, resident memory that grew beyond it is
 * garbage not yet returned, code, or native memory. Writes bench/results/heap.json.
 *
 *   node --import tsx bench/heap.ts [--keys 10000] [--top 25] [--out bench/results]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { envFor, freshUrl } from '../test/helpers/processes.js';
import { createKeys } from './lib/keys.js';
import { drive, settle } from './lib/load.js';
import { memoryOf, START_NODE_OPTIONS, startCachet, stopAll } from './lib/processes.js';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: process.env.BENCH_KEYS ?? '10000' },
    top: { type: 'string', default: '25' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const KEYS = Number(values.keys);
const TOP = Number(values.top);
if (!Number.isInteger(KEYS) || KEYS < 1 || !Number.isInteger(TOP) || TOP < 1) throw new Error('--keys and --top take whole numbers from 1');

/** Self size and count of the live objects of each kind in a snapshot (V8's node type, then name). */
interface Summary {
  total: number;
  kinds: Map<string, { bytes: number; count: number }>;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] }; node_count: number };
  nodes: number[];
  strings: string[];
}

const NAMED = new Set(['object', 'native', 'closure', 'array']);

function summarise(file: string): Summary {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const types = heap.snapshot.meta.node_types[0];
  const kinds = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    const size = heap.nodes[i + sizeAt]!;
    // Objects by constructor, V8's internal arrays by their role ("(object elements)"…); strings, code
    // and the rest by their kind (their names are their contents).
    const name = NAMED.has(type) ? `${type} ${heap.strings[heap.nodes[i + nameAt]!]!.slice(0, 60)}` : type;
    const entry = kinds.get(name) ?? { bytes: 0, count: 0 };
    entry.bytes += size;
    entry.count += 1;
    kinds.set(name, entry);
    total += size;
  }
  return { total, kinds };
}

const dir = mkdtempSync(path.join(tmpdir(), 'cachet-heap-'));
const snapshots = path.join(dir, 'snapshots');
mkdirSync(snapshots);
const mb = (bytes: number) => Number((bytes / 1_048_576).toFixed(1));

/** Signals the server to write a snapshot and waits until the file is whole (its size stops moving). */
async function snapshot(pid: number, label: string): Promise<{ label: string; file: string; rssMb: number }> {
  const before = new Set(readdirSync(snapshots));
  const rssMb = memoryOf(pid).rssMb;
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const fresh = readdirSync(snapshots).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (!fresh) continue;
    const file = path.join(snapshots, fresh);
    const size = statSync(file).size;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (size > 0 && statSync(file).size === size) return { label, file, rssMb };
  }
  throw new Error(`no heap snapshot for ${label} after five minutes`);
}

try {
  const { url } = await freshUrl('sqlite', dir);
  const env = { LOG_LEVEL: 'info', CACHET_RATE_LIMIT_ANONYMOUS: '1000000', CACHET_RATE_LIMIT_FAILED_AUTH: '1000000' };
  console.log(`creating ${KEYS} keys…`);
  const [reader, ...tokens] = await createKeys(envFor(dir, url, env), Array.from({ length: KEYS + 1 }, (_, i) => ({ name: `heap-${i}`, scopes: ['components.read'] })));
  // One server per snapshot: writing a snapshot costs the process far more resident memory than
  // it holds (about 100 MB here), so a process is read once, then stopped.
  const stages = [
    { label: 'idle', traffic: [] as Array<(i: number) => string> },
    { label: `after ${KEYS} requests with one key`, traffic: [() => reader!] },
    { label: `after ${KEYS} distinct keys`, traffic: [() => reader!, (i: number) => tokens[i]!] },
  ];
  const taken = [];
  for (const stage of stages) {
    const server = await startCachet(dir, url, { ...env, NODE_OPTIONS: `${START_NODE_OPTIONS} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}` });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      for (const tokenFor of stage.traffic) {
        await drive(base, '/api/v1/ping', tokenFor, KEYS);
        await settle(server);
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
      console.log(`snapshot: ${stage.label}`);
      taken.push(await snapshot(server.pid, stage.label));
    } finally {
      await server.stop();
    }
  }

  const summaries = taken.map((t) => ({ ...t, summary: summarise(t.file) }));
  const steps = [];
  for (let i = 1; i < summaries.length; i++) {
    const [from, to] = [summaries[i - 1]!, summaries[i]!];
    const names = new Set([...from.summary.kinds.keys(), ...to.summary.kinds.keys()]);
    const changes = [...names]
      .map((name) => {
        const a = from.summary.kinds.get(name) ?? { bytes: 0, count: 0 };
        const b = to.summary.kinds.get(name) ?? { bytes: 0, count: 0 };
        return { kind: name, bytes: b.bytes - a.bytes, count: b.count - a.count };
      })
      .sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes))
      .slice(0, TOP);
    steps.push({ from: from.label, to: to.label, heapMb: mb(to.summary.total - from.summary.total), rssMb: Number((to.rssMb - from.rssMb).toFixed(1)), changes });
  }
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    keys: KEYS,
    snapshots: summaries.map((s) => ({ label: s.label, liveHeapMb: mb(s.summary.total), rssMb: s.rssMb })),
    idle: [...summaries[0]!.summary.kinds]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, TOP)
      .map(([kind, { bytes, count }]) => ({ kind, mb: mb(bytes), count })),
    steps: steps.map((s) => ({ ...s, changes: s.changes.map((c) => ({ kind: c.kind, mb: mb(c.bytes), count: c.count })) })),
  };
  for (const s of result.snapshots) console.log(`${s.label}: live heap ${s.liveHeapMb} MB, RSS ${s.rssMb} MB`);
  console.log('\nidle, the largest kinds:');
  for (const c of result.idle) console.log(`  ${String(c.mb).padStart(7)} MB  ${String(c.count).padStart(8)}  ${c.kind}`);
  for (const step of result.steps) {
    console.log(`\n${step.from} → ${step.to}: live heap ${step.heapMb >= 0 ? '+' : ''}${step.heapMb} MB, RSS ${step.rssMb >= 0 ? '+' : ''}${step.rssMb} MB`);
    for (const c of step.changes) console.log(`  ${String(c.mb).padStart(7)} MB  ${String(c.count).padStart(8)}  ${c.kind}`);
  }
  mkdirSync(values.out, { recursive: true });
  writeFileSync(path.join(values.out, 'heap.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
