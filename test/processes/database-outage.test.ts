/**
 * A PostgreSQL outage under a real `cachet serve` process: while the database refuses connections
 * (and its open ones are cut), requests are answered 503 in Cachet's envelope within bounded time,
 * the process stays up, and it serves again by itself once the database is back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { dialects, PG_URL } from '../helpers/dialects.js';
import { createKey, exited, freshUrl, start, type Instance } from '../helpers/processes.js';

const postgres = (await dialects()).includes('postgres');

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('a PostgreSQL outage', { skip: !postgres && 'needs PostgreSQL' }, () => {
  let dir: string;
  let url: string;
  let drop: () => Promise<void>;
  let server: Instance;
  let name: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-outage-'));
    ({ url, drop } = await freshUrl('postgres', dir));
    name = new URL(url).pathname.slice(1);
    server = await start(dir, url);
  });
  after(async () => {
    await admin(`alter database ${name} allow_connections true`).catch(() => undefined);
    server.child.kill('SIGTERM');
    await exited(server.child);
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 in bounded time while the database is gone, stays up, and recovers by itself', async () => {
    const token = createKey(dir, url);
    const get = async (route: string) => {
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${server.port}${route}`, { headers: { 'x-cachet-token': token, accept: 'application/json' } });
      return { status: response.status, body: await response.text(), ms: Date.now() - started, retryAfter: response.headers.get('retry-after') };
    };
    assert.equal((await get('/api/v1/components')).status, 200);

    await admin(`alter database ${name} allow_connections false`);
    await admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and pid <> pg_backend_pid()`);
    for (const route of ['/api/v1/components', '/api/v1/incidents', '/health/ready']) {
      const down = await get(route);
      assert.equal(down.status, 503, `${route}: ${down.body}`);
      assert.ok(down.ms < 8000, `${route} took ${down.ms} ms`);
      if (route.startsWith('/api')) {
        assert.equal((JSON.parse(down.body) as { errors: Array<{ status: number }> }).errors[0]!.status, 503);
        assert.equal(down.retryAfter, '5');
      }
    }
    assert.equal(server.child.exitCode, null, 'the process is still up');

    await admin(`alter database ${name} allow_connections true`);
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await get('/api/v1/components')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 200, 'serves again once the database is back');
    assert.doesNotMatch(server.output(), /"level":50.*unhandled error/, 'no 500 on the way');
  });
});
