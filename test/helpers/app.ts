/** Starts the real application on a fresh database for one test suite, and drives it with inject(). */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { Config } from '../../src/config.js';
import type { Database, Dialect } from '../../src/db/database.js';
import type { Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.js';
import { createAuditRepo } from '../../src/features/audit/audit.repo.js';
import { systemContext } from '../../src/features/audit/audit.types.js';
import { createAuditWriter } from '../../src/features/audit/audit.writer.js';
import { administerKeys, type KeysAdmin } from '../../src/features/keys/keys.admin.js';
import type { KeysService } from '../../src/features/keys/keys.service.js';
import { fixedClock, systemClock, type Clock } from '../../src/infra/clock.js';
import { createLogger } from '../../src/logger.js';
import { createServer, type Server } from '../../src/main.js';
import { freshDatabase } from './dialects.js';

/** An Ed25519 checkpoint signing key for this test process (PKCS#8 PEM). */
export const TEST_SIGNING_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A configuration for tests: no files, fixed pepper, UTC. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: '127.0.0.1',
    databaseUrl: 'sqlite::memory:',
    redisUrl: null,
    dataDir: '/nonexistent',
    pepper: Buffer.from('test-pepper-test-pepper-test-pepper-0123'),
    secretFiles: [],
    trustedProxies: [],
    rateLimitDefault: 1_000_000,
    // High enough that suites sending thousands of requests from one address never meet them;
    // the rate-limit tests set their own.
    rateLimitAnonymous: 1_000_000,
    rateLimitFailedAuth: 1_000_000,
    rateLimitRedisDown: 'open',
    redisPrefix: `cachet-test-${randomBytes(4).toString('hex')}`,
    keyMaxTtlMs: 90 * 86_400_000,
    keyDefaultTtlMs: 90 * 86_400_000,
    timezone: 'UTC',
    publicUrl: 'http://status.test',
    perPageMax: 1000,
    keyRevisionPollMs: 50,
    auditSigningKey: TEST_SIGNING_KEY,
    auditCheckpointEvents: 1000,
    auditCheckpointIntervalMs: 300_000,
    logLevel: 'silent',
    auditSink: null,
    auditSinkMaxBytes: 10 * 1024 * 1024,
    auditShipIntervalMs: 25,
    webhookAllowPrivate: true,
    keyRotationIntervalMs: 0,
    deliveryTimeoutMs: 3000,
    keyExpiryWarningMs: 7 * 86_400_000,
    // Tests drive the expiry sweep by hand (server.sweepKeyExpiry) with the fixed clock.
    keyExpiryCheckMs: 3_600_000,
    sessionIdleMs: 30 * 60_000,
    sessionMaxMs: 12 * 3_600_000,
    notifyBudget: 1000,
    jobPollMs: 50,
    jobLeaseMs: 30_000,
    keyReviewRotationAgeMs: 90 * 86_400_000,
    keyReviewIntervalMs: 0,
    siteName: 'Cachet',
    about: '',
    stylesheetUrl: null,
    locale: 'en',
    smtpUrl: null,
    mailFrom: 'Cachet <noreply@status.test>',
    ...overrides,
  };
}

export interface TestApp {
  server: Server;
  database: Database;
  dialect: Dialect;
  clock: ReturnType<typeof fixedClock>;
  /** Creates a key with `scopes` and returns its token. */
  key(scopes: readonly string[], extra?: { expires?: string; allowedIps?: string[]; resources?: Record<string, number[]>; notBefore?: string }): Promise<string>;
  /** Sends a request; `token` goes in X-Cachet-Token; `body` objects are sent as JSON. */
  request(options: { method?: string; url: string; token?: string; body?: unknown; headers?: Record<string, string>; query?: Record<string, string> }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** Builds the app on a fresh `dialect` database; the suite closes it in `after`. */
export async function buildTestApp(dialect: Dialect, overrides: Partial<Config> = {}): Promise<TestApp> {
  const database = await freshDatabase(dialect);
  const clock = fixedClock(new Date('2026-11-25T12:00:00Z'));
  const config = testConfig(overrides);
  const server = await createServer(config, createLogger('silent'), database, clock);
  await server.app.ready();
  let closed = false;
  const testApp: TestApp = {
    server,
    database,
    dialect,
    clock,
    async key(scopes, extra = {}) {
      const created = await server.keys.create({ name: `test-${randomBytes(3).toString('hex')}`, scopes, createdBy: 'cli', ...extra });
      if (!created.ok) throw new Error(created.error);
      return created.token;
    },
    request({ method = 'GET', url, token, body, headers = {}, query }) {
      const allHeaders: Record<string, string> = { accept: 'application/json', ...headers };
      if (token !== undefined) allHeaders['x-cachet-token'] = token;
      return server.app.inject({
        method: method as 'GET',
        url,
        headers: allHeaders,
        ...(query ? { query } : {}),
        ...(body === undefined ? {} : typeof body === 'string' ? { payload: body } : { payload: body as object }),
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await database.close();
    },
  };
  return testApp;
}

/** Parsed JSON body of a response. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are read loosely in tests: the assertions check their shape
export function json<T = any>(response: LightMyRequestResponse): T {
  return JSON.parse(response.body) as T;
}

export type { TestContext };

/** A keys service administered as the CLI would (each change audited as `cachet test`). */
export function adminKeys(service: KeysService, db: Kysely<DB>, clock: Clock = systemClock): KeysAdmin {
  return administerKeys(service, db, createAuditWriter({ repo: createAuditRepo(), clock, pepper: testConfig().pepper }), systemContext('cachet test'));
}
