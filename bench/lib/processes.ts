/**
 * What the bench runs and watches: real `cachet serve` processes (through test/helpers/processes.ts,
 * the code path of `npm start`), the bare node:http ceiling, HAProxy configured by the README's
 * recipe, and the resident memory of each process from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exited, freePort, start } from '../../test/helpers/processes.js';

export interface Target {
  /** Base URL the load goes to: the one process, or the proxy. */
  url: string;
  /** The processes whose memory is reported (never the proxy). */
  pids: number[];
  /** Every response the servers logged. */
  total: () => number;
  /** Records the servers' logged responses until the returned function is called; null for the bare server. */
  record: (() => () => Logged[]) | null;
  stop: () => Promise<void>;
}

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops every process this bench started and is still running (on an error or a signal). */
export async function stopAll(): Promise<void> {
  const running = [...children];
  for (const child of running) child.kill('SIGTERM');
  await Promise.all(running.map((child) => stop(child)));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited(child);
  clearTimeout(timer);
}

/** One `request` log line: the response was sent. */
export interface Logged {
  method: string;
  path: string;
  reqId: string;
}

export interface Cachet {
  port: number;
  pid: number;
  /** Every response this server has logged. */
  total: () => number;
  /** Starts keeping the request ids of the responses logged from now on; the returned function stops and hands them over. */
  record: () => () => Logged[];
  stop: () => Promise<void>;
}

/** What `npm start` gives node besides the bin (package.json "start"), so the bench measures that. */
export const START_NODE_OPTIONS = '--max-semi-space-size=4';

export async function startCachet(dir: string, url: string, env: NodeJS.ProcessEnv): Promise<Cachet> {
  const instance = await start(dir, url, { NODE_OPTIONS: `${START_NODE_OPTIONS} ${process.env.NODE_OPTIONS ?? ''}`.trim(), ...env });
  track(instance.child);
  let total = 0;
  let partial = '';
  let recording: Logged[] | null = null;
  const count = (line: string) => {
    if (!line.includes('"msg":"request"')) return;
    total++;
    const match = /"method":"([A-Z]+)","path":"([^"]*)"/.exec(line);
    if (!match) return;
    if (recording) recording.push({ method: match[1]!, path: match[2]!, reqId: /"reqId":"([^"]+)"/.exec(line)?.[1] ?? '' });
  };
  const record = () => {
    const mine: Logged[] = [];
    recording = mine;
    return () => {
      if (recording === mine) recording = null;
      return mine;
    };
  };
  instance.child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    lines.forEach(count);
  });
  return { port: instance.port, pid: instance.child.pid!, total: () => total, record, stop: () => stop(instance.child) };
}

export async function startBare(): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = track(spawn(process.execPath, [path.resolve('bench/bare-server.js')], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] }));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening')) resolve();
    });
    child.once('exit', () => reject(new Error('bare server exited')));
  });
  return { port, pid: child.pid!, stop: () => stop(child) };
}

export function haproxyAvailable(): boolean {
  return spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).status === 0;
}

/** HAProxy with the README's recipe, as written, but this bench's ports and as many backends as given. */
export async function startProxy(dir: string, backendPorts: readonly number[]): Promise<{ port: number; stop: () => Promise<void> }> {
  const readme = readFileSync('README.md', 'utf8');
  const recipe = /<!-- haproxy-recipe -->\n```\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!recipe) throw new Error('README.md has no HAProxy recipe between <!-- haproxy-recipe --> markers');
  const port = await freePort();
  const servers = backendPorts.map((p, i) => `    server ${String.fromCharCode(97 + i)} 127.0.0.1:${p} check`).join('\n');
  const config = recipe
    .replace('bind 127.0.0.1:8000', `bind 127.0.0.1:${port}`)
    .replace(/( {4}server [a-z] 127\.0\.0\.1:800\d check\n)+/, `${servers}\n`);
  if (!config.includes(`127.0.0.1:${backendPorts[0]}`)) throw new Error('the HAProxy recipe changed shape: no `server a 127.0.0.1:8001 check` lines to replace');
  const file = path.join(dir, `haproxy-${port}.cfg`);
  writeFileSync(file, config);
  const child = track(spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (child.exitCode !== null) throw new Error('haproxy exited');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, stop: () => stop(child) };
}

/** VmRSS and VmHWM of a process, in MB. */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rssMb: field('VmRSS'), hwmMb: field('VmHWM') };
}

/** Resets a process's VmHWM to its current RSS (`echo 5 > /proc/PID/clear_refs`); false where the kernel refuses. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Peak resident memory of some processes over a stretch of time: VmHWM after a reset at the start
 * where the kernel allows it, and VmRSS sampled every 100 ms in any case; the larger of the two.
 */
export function watchPeak(pids: readonly number[]): () => number {
  const reset = pids.map((pid) => resetPeak(pid));
  const sampled = pids.map((pid) => memoryOf(pid).rssMb);
  const timer = setInterval(() => pids.forEach((pid, i) => (sampled[i] = Math.max(sampled[i]!, memoryOf(pid).rssMb))), 100);
  return () => {
    clearInterval(timer);
    return Math.max(...pids.map((pid, i) => Math.max(sampled[i]!, memoryOf(pid).rssMb, reset[i] ? memoryOf(pid).hwmMb : 0)));
  };
}
