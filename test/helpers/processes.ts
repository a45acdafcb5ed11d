/** Real `cachet serve` processes for the tests that need them: fresh databases, keys from the CLI, start and stop. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { PG_URL } from './dialects.js';

const BIN = path.resolve('bin/cachet.js');
const PEPPER = 'process-test-pepper-0123456789abcdef0123';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface Instance {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/** A fresh database URL for one test: a SQLite file, or a new PostgreSQL database dropped afterwards. */
export async function freshUrl(dialect: string, dir: string): Promise<{ url: string; drop: () => Promise<void> }> {
  if (dialect === 'sqlite') return { url: `sqlite:${path.join(dir, 'cachet.db')}`, drop: async () => undefined };
  const name = `cachet_proc_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const cleanup = new pg.Client({ connectionString: PG_URL });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

export function envFor(dir: string, url: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CACHET_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: url, CACHET_PEPPER: PEPPER, LOG_LEVEL: 'info', CACHET_RATE_LIMIT_DEFAULT: '1000000', ...extra };
  delete env.CACHET_PEPPER_FILE;
  return env;
}

export function createKey(dir: string, url: string, scopes = '*', extraArgs: string[] = []): string {
  const result = spawnSync(process.execPath, [BIN, 'keys', 'create', '--purpose', 'test', '--name', 'load', '--scopes', scopes, '--json', ...extraArgs], { env: envFor(dir, url), encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  return (JSON.parse(result.stdout) as { token: string }).token;
}

export async function start(dir: string, url: string, extra: NodeJS.ProcessEnv = {}): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...envFor(dir, url, extra), PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const started = Date.now();
  while (!output.includes('"msg":"listening"')) {
    if (child.exitCode !== null || Date.now() - started > 30_000) throw new Error(`server did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, port, output: () => output };
}

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

