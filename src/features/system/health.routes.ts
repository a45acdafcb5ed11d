/**
 * `GET /health/live` (the process answers) and `GET /health/ready` (it can serve: the database
 * answers within 2 s; Redis state reported). Outside `/api`: no key, not audited, never cached.
 */
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';

export interface HealthDeps {
  db: Kysely<DB>;
  /** `up`/`down` with REDIS_URL set, `off` without. */
  redisState: () => 'up' | 'down' | 'off';
}

async function databaseAnswers(db: Kysely<DB>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([sql`select 1`.execute(db).then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(app: ApiApp, { db, redisState }: HealthDeps): void {
  // Operational endpoints, not part of the Cachet API document.
  app.get('/health/live', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  app.get('/health/ready', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    const database = (await databaseAnswers(db, 2000)) ? 'up' : 'down';
    const redis = redisState();
    // Redis down is not unready: limits go on under CACHET_RATE_LIMIT_REDIS_DOWN.
    const ready = database === 'up' && !app.draining;
    return reply.code(ready ? 200 : 503).send({ status: app.draining ? 'shutting down' : ready ? 'ready' : 'unavailable', database, redis });
  });
}
