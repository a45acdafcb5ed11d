/**
 * Several instances, run as the README says: three `cachet serve` processes on one PostgreSQL and
 * one Redis, behind a real HAProxy configured with the README's own recipe. A key's limit holds
 * exactly across them; the client address the servers see (and audit) is the client's, not the
 * proxy's; a revocation made through one instance is refused by another within a second.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { dialects, REQUIRE_SERVICES } from '../helpers/dialects.js';
import { createKey, exited, freePort, freshUrl, start, type Instance } from '../helpers/processes.js';

const REDIS_URL = process.env.CACHET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const haproxy = spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).status === 0;
const redis = spawnSync('redis-cli', ['-u', REDIS_URL, 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
const postgres = (await dialects()).includes('postgres');
if (REQUIRE_SERVICES && postgres && (!haproxy || !redis)) throw new Error(`several-instances test needs haproxy (${haproxy}) and Redis (${redis})`);

/** A request from `localAddress` (a loopback alias), as a distinct client. */
function request(port: number, options: { method?: string; path: string; token?: string; localAddress?: string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, localAddress: options.localAddress, headers: { accept: 'application/json', ...(options.token ? { 'x-cachet-token': options.token } : {}) } },
      (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('several instances behind HAProxy', { skip: (!postgres || !haproxy || !redis) && 'needs PostgreSQL, Redis and haproxy' }, () => {
  let dir: string;
  let drop: () => Promise<void>;
  let url: string;
  let instances: Instance[] = [];
  let proxy: ChildProcess | null = null;
  let proxyPort: number;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-several-'));
    ({ url, drop } = await freshUrl('postgres', dir));
    createKey(dir, url); // migrates the database before the instances race to
    const env = { REDIS_URL, CACHET_REDIS_PREFIX: `several-${randomBytes(4).toString('hex')}`, CACHET_TRUSTED_PROXIES: '127.0.0.1/32', CACHET_KEY_POLL_MS: '250' };
    instances = await Promise.all([start(dir, url, env), start(dir, url, env), start(dir, url, env)]);
    // The README's HAProxy recipe, as written, with this test's ports.
    const readme = readFileSync('README.md', 'utf8');
    const recipe = /<!-- haproxy-recipe -->\n```\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(recipe, 'the README has the HAProxy recipe');
    proxyPort = await freePort();
    const config = recipe
      .replace('bind 127.0.0.1:8000', `bind 127.0.0.1:${proxyPort}`)
      .replace('127.0.0.1:8001', `127.0.0.1:${instances[0]!.port}`)
      .replace('127.0.0.1:8002', `127.0.0.1:${instances[1]!.port}`)
      .replace('127.0.0.1:8003', `127.0.0.1:${instances[2]!.port}`);
    const file = path.join(dir, 'haproxy.cfg');
    writeFileSync(file, config);
    proxy = spawn('haproxy', ['-db', '-f', file], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const ready = await request(proxyPort, { path: '/health/ready' }).catch(() => null);
      if (ready?.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (proxy) {
      proxy.kill('SIGTERM');
      await exited(proxy);
    }
    for (const i of instances) i.child.kill('SIGTERM');
    await Promise.all(instances.map((i) => exited(i.child)));
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("holds a key's limit exactly across the instances, and sees and audits the client's address", async () => {
    const token = createKey(dir, url, 'components.read', ['--rate-limit', '20']);
    const responses = await Promise.all(Array.from({ length: 45 }, () => request(proxyPort, { path: '/api/v1/components', token, localAddress: '127.0.0.2' })));
    const statuses = responses.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 20, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 25);
    const limited = responses.find((r) => r.status === 429)!;
    assert.equal(limited.headers['x-ratelimit-limit'], '20');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    const served = new Set(instances.map((i) => i.output().split('"msg":"request"').length - 1));
    assert.ok(served.size > 1 || [...served][0]! > 0);

    const database = openDatabase(url);
    try {
      const ids = responses.map((r) => r.headers['x-request-id'] as string);
      const events = await database.db.selectFrom('audit_events').select(['ip', 'status']).where('request_id', 'in', ids).execute();
      assert.equal(events.length, 45, 'one event per response');
      assert.deepEqual([...new Set(events.map((e) => e.ip))], ['127.0.0.2'], 'the client address, from X-Forwarded-For of the trusted proxy');
    } finally {
      await database.close();
    }
  });

  it('refuses a key on every instance within a second of its revocation through one of them', async () => {
    const admin = createKey(dir, url, 'keys.manage,keys.delete,keys.read,components.read');
    const victim = createKey(dir, url, 'components.read');
    const [a, b] = instances as [Instance, Instance];
    assert.equal((await request(b.port, { path: '/api/v1/components', token: victim })).status, 200);
    const self = JSON.parse((await request(a.port, { path: '/api/v1/keys', token: admin })).body) as { data: Array<{ id: number; prefix: string }> };
    const id = self.data.find((k) => victim.startsWith(k.prefix))!.id;
    assert.equal((await request(a.port, { method: 'DELETE', path: `/api/v1/keys/${id}`, token: admin })).status, 204);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 2000) {
      status = (await request(b.port, { path: '/api/v1/components', token: victim })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 10));
    }
    const latency = Date.now() - revokedAt;
    console.log(`revocation seen by another instance after ${latency} ms`);
    assert.equal(status, 401);
    assert.ok(latency < 1000, `revocation took ${latency} ms to reach another instance`);
  });
});
