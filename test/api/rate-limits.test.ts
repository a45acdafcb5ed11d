/**
 * Rate limits through the real pipeline: per key, per address without a key, failed key
 * presentations per address; headers on every counted response; 429s audited; shared through a
 * real Redis by two app instances, exact under concurrency; and a Redis outage (a redis-server this
 * test starts and kills) served under the insurance limiter (fail-open) or refused with 503 (fail-closed).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, createServer as createNetServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { createServer, type Server } from '../../src/main.js';
import { fixedClock } from '../../src/infra/clock.js';
import { generateToken } from '../../src/infra/token.js';
import { buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { freshDatabase, REQUIRE_SERVICES } from '../helpers/dialects.js';

const REDIS_URL = process.env.CACHET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisReachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const conn = connect(Number(port || 6379), hostname);
    let done = false;
    const finish = (value: boolean) => {
      if (done) return;
      done = true;
      conn.destroy();
      resolve(value);
    };
    conn.on('connect', () => conn.write('PING\r\n'));
    conn.on('data', (data) => finish(data.toString().startsWith('+PONG')));
    conn.on('error', () => finish(false));
    conn.setTimeout(3000, () => finish(false));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function keyWithLimit(server: Server, rateLimit: number): Promise<string> {
  const created = await server.keys.create({ name: `limited-${randomBytes(2).toString('hex')}`, scopes: ['*'], rateLimit, createdBy: 'cli' });
  assert.ok(created.ok);
  return created.token;
}

describe('rate limits in one instance (memory)', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp('sqlite', { rateLimitDefault: 1000, rateLimitAnonymous: 3, rateLimitFailedAuth: 4 });
  });
  after(() => t.close());

  it("holds a key to its own rate_limit, with the limit headers, then 429 naming the limit, audited", async () => {
    const token = await keyWithLimit(t.server, 5);
    const other = await keyWithLimit(t.server, 5);
    for (let i = 0; i < 5; i++) {
      const ok = await t.request({ url: '/api/v1/components', token });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.headers['x-ratelimit-limit'], '5');
      assert.equal(ok.headers['x-ratelimit-remaining'], String(4 - i));
      assert.equal(ok.headers['ratelimit-policy'], '"key";q=5;w=60');
      assert.match(String(ok.headers.ratelimit), new RegExp(`^"key";r=${4 - i};t=\\d+$`));
    }
    const refused = await t.request({ url: '/api/v1/components', token });
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['x-ratelimit-remaining'], '0');
    assert.ok(Number(refused.headers['retry-after']) >= 1 && Number(refused.headers['retry-after']) <= 60);
    assert.match(json(refused).errors[0].detail, /5 requests per minute for this key/);
    assert.equal((await t.request({ url: '/api/v1/components', token: other })).statusCode, 200, 'another key is not affected');
    const event = await t.database.db.selectFrom('audit_events').selectAll().where('request_id', '=', refused.headers['x-request-id'] as string).executeTakeFirstOrThrow();
    assert.deepEqual([event.outcome, event.status, event.reason], ['denied', 429, 'rate_limited']);
  });

  it('limits requests without a key per client address; other addresses are not affected', async () => {
    const from = (remoteAddress: string) => t.server.app.inject({ method: 'GET', url: '/api/v1/components', headers: { accept: 'application/json' }, remoteAddress });
    for (let i = 0; i < 3; i++) assert.equal((await from('192.0.2.10')).statusCode, 200);
    const refused = await from('192.0.2.10');
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['ratelimit-policy'], '"address";q=3;w=60');
    assert.equal((await from('192.0.2.11')).statusCode, 200);
  });

  it('makes guessing keys slow: past the failed-presentation limit even a correct key from that address is refused', async () => {
    const good = await keyWithLimit(t.server, 1000);
    const from = (remoteAddress: string, token: string) =>
      t.server.app.inject({ method: 'GET', url: '/api/v1/ping', headers: { accept: 'application/json', 'x-cachet-token': token }, remoteAddress });
    for (let i = 0; i < 4; i++) assert.equal((await from('198.51.100.7', generateToken())).statusCode, 401);
    const blocked = await from('198.51.100.7', good);
    assert.equal(blocked.statusCode, 429);
    assert.match(json(blocked).errors[0].detail, /failed key presentations/);
    assert.equal((await from('198.51.100.8', good)).statusCode, 200, 'another address is not affected');
  });
});

const redisUp = await redisReachable(REDIS_URL);
if (!redisUp && REQUIRE_SERVICES) throw new Error(`Redis is required (CACHET_TEST_REQUIRE_SERVICES=1) but ${REDIS_URL} is unreachable`);

describe('rate limits shared through Redis', { skip: !redisUp && 'Redis is not reachable' }, () => {
  let database: Database;
  let servers: Server[];
  let config: Config;

  before(async () => {
    database = await freshDatabase('sqlite');
    config = testConfig({ redisUrl: REDIS_URL, rateLimitDefault: 1000, rateLimitAnonymous: 1000, rateLimitFailedAuth: 1000 });
    const clock = fixedClock(new Date('2026-11-25T12:00:00Z'));
    servers = [await createServer(config, createLogger('silent'), database, clock), await createServer(config, createLogger('silent'), database, clock)];
    for (const s of servers) await s.app.ready();
  });
  after(async () => {
    for (const s of servers) await s.close();
    await database.close();
  });

  it('gives a key exactly its limit across two instances, under concurrent requests', async () => {
    const token = await keyWithLimit(servers[0]!, 25);
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => servers[i % 2]!.app.inject({ method: 'GET', url: '/api/v1/ping', headers: { accept: 'application/json', 'x-cachet-token': token } })),
    );
    const statuses = responses.map((r) => r.statusCode);
    assert.equal(statuses.filter((s) => s === 200).length, 25, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 35);
  });
});

describe('key changes announced through Redis', { skip: !redisUp && 'Redis is not reachable' }, () => {
  it('reaches another instance at once, without waiting for the database poll', async () => {
    const database = await freshDatabase('sqlite');
    // A poll once a minute: only the Redis message can make the revocation visible in time.
    const config = testConfig({ redisUrl: REDIS_URL, keyRevisionPollMs: 60_000 });
    const [a, b] = [await createServer(config, createLogger('silent'), database), await createServer(config, createLogger('silent'), database)];
    try {
      const admin = await keyWithLimit(a, 1000);
      const victim = await keyWithLimit(a, 1000);
      const get = (s: Server, token: string, url = '/api/v1/ping') => s.app.inject({ method: 'GET', url, headers: { accept: 'application/json', 'x-cachet-token': token } });
      assert.equal((await get(b, victim)).statusCode, 200, 'cached by instance b');
      const id = json(await get(a, victim, '/api/v1/keys/self')).data.id as number;
      assert.equal((await a.app.inject({ method: 'DELETE', url: `/api/v1/keys/${id}`, headers: { accept: 'application/json', 'x-cachet-token': admin } })).statusCode, 204);
      const started = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - started < 1000) {
        status = (await get(b, victim)).statusCode;
        if (status === 200) await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(status, 401, 'instance b still accepted the revoked key after 1 s');
    } finally {
      await a.close();
      await b.close();
      await database.close();
    }
  });
});

describe('a Redis outage', { skip: !redisUp && 'Redis is not reachable' }, () => {
  let redis: ChildProcess | null = null;
  let port: number;
  const startRedis = async () => {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 50 && !(await redisReachable(`redis://127.0.0.1:${port}`)); i++) await new Promise((r) => setTimeout(r, 100));
  };
  const stopRedis = async () => {
    const child = redis;
    if (!child) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    redis = null;
  };
  before(async () => {
    port = await freePort();
    await startRedis();
  });
  after(stopRedis);

  for (const whenDown of ['open', 'closed'] as const) {
    it(`fails ${whenDown} when Redis stops, and shares limits again when it returns`, async () => {
      if (!redis) await startRedis();
      const database = await freshDatabase('sqlite');
      const server = await createServer(
        testConfig({ redisUrl: `redis://127.0.0.1:${port}`, rateLimitRedisDown: whenDown, rateLimitDefault: 1000, rateLimitAnonymous: 1000 }),
        createLogger('silent'),
        database,
      );
      try {
        const token = await keyWithLimit(server, 1000);
        const get = () => server.app.inject({ method: 'GET', url: '/api/v1/ping', headers: { accept: 'application/json', 'x-cachet-token': token } });
        for (let i = 0; i < 20 && (await get()).headers['x-ratelimit-remaining'] === undefined; i++) await new Promise((r) => setTimeout(r, 100));
        assert.equal((await get()).statusCode, 200);
        await stopRedis();
        const started = Date.now();
        const during = await get();
        assert.ok(Date.now() - started < 3000, 'no hang while Redis is down');
        assert.equal(during.statusCode, whenDown === 'open' ? 200 : 503, during.body);
        if (whenDown === 'closed') assert.equal(json(during).errors[0].title, 'Service Unavailable');
        await startRedis();
        let back = 0;
        for (let i = 0; i < 50 && back !== 200; i++) {
          back = (await get()).statusCode;
          if (back !== 200) await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(back, 200, 'limits work again once Redis is back');
      } finally {
        await server.close();
        await database.close();
      }
    });
  }
});
