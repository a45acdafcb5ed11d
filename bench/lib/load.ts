/**
 * The load process of `npm run bench`: wrk (a separate C process, cheap on a small machine) with a
 * generated Lua script for the method, headers and body, or autocannon when wrk is not installed.
 * Either way the result is the requests answered, their statuses split into expected and not, the
 * socket errors, and p50/p99 latency.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import autocannon from 'autocannon';

export type LoadTool = 'wrk' | 'autocannon';

export interface LoadRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Seconds of load (wrk's smallest is 1). */
  seconds: number;
  connections: number;
  threads: number;
}

export interface LoadResult {
  tool: LoadTool;
  /** Responses received, whatever their status. */
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with status ≥ 400 (wrk's "status" errors; autocannon's non-2xx). */
  errorStatuses: number;
  /** Connect, read, write errors and timeouts. */
  socketErrors: number;
}

export function wrkAvailable(): boolean {
  return spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
}

/** Lua long bracket that `text` cannot close. */
function luaString(text: string): string {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}

function wrkScript(request: LoadRequest): string {
  const lines = [`wrk.method = "${request.method ?? 'GET'}"`];
  for (const [name, value] of Object.entries(request.headers ?? {})) lines.push(`wrk.headers[ ${luaString(name)} ] = ${luaString(value)}`);
  if (request.body !== undefined) lines.push(`wrk.body = ${luaString(request.body)}`);
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'BENCH_RESULT {"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p99_us":%.0f}\\n\',',
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))',
    'end',
  );
  return lines.join('\n') + '\n';
}

async function runWrk(request: LoadRequest, scratchDir: string): Promise<LoadResult> {
  const script = path.join(scratchDir, `load-${process.pid}-${Date.now()}.lua`);
  writeFileSync(script, wrkScript(request));
  const args = ['-t', String(request.threads), '-c', String(request.connections), '-d', `${Math.max(1, Math.round(request.seconds))}s`, '--timeout', '10s', '-s', script, request.url];
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = /BENCH_RESULT (\{.*\})/.exec(out)?.[1];
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} failed (${code}): ${out}`);
  const r = JSON.parse(line) as Record<'requests' | 'duration_us' | 'connect' | 'read' | 'write' | 'status' | 'timeout' | 'p50_us' | 'p99_us', number>;
  const seconds = r.duration_us / 1e6;
  return {
    tool: 'wrk',
    requests: r.requests,
    seconds,
    rps: r.requests / seconds,
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
    errorStatuses: r.status,
    socketErrors: r.connect + r.read + r.write + r.timeout,
  };
}

async function runAutocannon(request: LoadRequest): Promise<LoadResult> {
  const result = await autocannon({
    url: request.url,
    method: request.method ?? 'GET',
    headers: request.headers,
    body: request.body,
    connections: request.connections,
    duration: Math.max(1, Math.round(request.seconds)),
    timeout: 10,
  });
  const seconds = result.duration;
  const requests = result.requests.total;
  return {
    tool: 'autocannon',
    requests,
    seconds,
    rps: requests / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errorStatuses: result['4xx'] + result['5xx'],
    socketErrors: result.errors + result.timeouts,
  };
}

export function runLoad(tool: LoadTool, request: LoadRequest, scratchDir: string): Promise<LoadResult> {
  return tool === 'wrk' ? runWrk(request, scratchDir) : runAutocannon(request);
}

/** `count` keyed requests over `concurrency` keep-alive connections, token i for request i. */
export async function drive(base: string, path_: string, tokenFor: (i: number) => string, count: number, concurrency = 16): Promise<{ answered: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(path_, base);
  let next = 0;
  let answered = 0;
  let errors = 0;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const req = http.request({ agent, host: target.hostname, port: target.port, path: target.pathname, headers: { accept: 'application/json', 'x-cachet-token': tokenFor(i) } }, (res) => {
        res.resume();
        res.on('end', () => {
          answered++;
          if (res.statusCode !== 200) errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await one(next++);
    }),
  );
  agent.destroy();
  return { answered, errors };
}

/** Waits until the server has logged every response it owes (its count stops moving for half a second, at most ten seconds). */
export async function settle(target: { total: () => number }): Promise<void> {
  let last = target.total();
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = target.total();
    if (now === last) return;
    last = now;
  }
}
