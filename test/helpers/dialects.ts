/**
 * The databases every API suite runs on: SQLite always; PostgreSQL when reachable. With
 * CACHET_TEST_REQUIRE_SERVICES=1 (set by .ci/run) an unreachable PostgreSQL fails the run.
 * CACHET_TEST_DIALECTS (comma-separated: sqlite, postgres) runs on exactly those instead; a
 * PostgreSQL named there must be reachable, and one left out is not even probed (.ci/run's
 * SQLite-only pass on Node 20 relies on that).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database, type Dialect } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';

export const PG_URL = process.env.CACHET_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REQUIRE_SERVICES = process.env.CACHET_TEST_REQUIRE_SERVICES === '1';

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const ALL_DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

/** The dialects CACHET_TEST_DIALECTS names, in canonical order; null when it is unset or blank. */
function selectedDialects(): Dialect[] | null {
  const raw = process.env.CACHET_TEST_DIALECTS?.trim();
  if (!raw) return null;
  const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !(ALL_DIALECTS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(`CACHET_TEST_DIALECTS=${raw}: expected a comma-separated list of ${ALL_DIALECTS.join(', ')}`);
  }
  return ALL_DIALECTS.filter((dialect) => names.includes(dialect));
}

let cached: Promise<Dialect[]> | null = null;

/** Dialects to run on; throws when PostgreSQL is required but unreachable. */
export function dialects(): Promise<Dialect[]> {
  cached ??= (async (): Promise<Dialect[]> => {
    const selected = selectedDialects();
    if (selected) {
      if (selected.includes('postgres') && !(await postgresReachable())) {
        throw new Error(`PostgreSQL is required (CACHET_TEST_DIALECTS=${process.env.CACHET_TEST_DIALECTS}) but ${PG_URL} is unreachable`);
      }
      return selected;
    }
    const ok = await postgresReachable();
    if (!ok && REQUIRE_SERVICES) throw new Error(`PostgreSQL is required (CACHET_TEST_REQUIRE_SERVICES=1) but ${PG_URL} is unreachable`);
    return ok ? ['sqlite', 'postgres'] : ['sqlite'];
  })();
  return cached;
}

/** A fresh, migrated database: in-memory SQLite, or a new schema on PostgreSQL dropped at close. */
export async function freshDatabase(dialect: Dialect): Promise<Database & { url: string; schema?: string }> {
  if (dialect === 'sqlite') {
    const database = openDatabase('sqlite::memory:');
    await migrateToLatest(database);
    return { ...database, url: 'sqlite::memory:' };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const database = openDatabase(PG_URL, { schema, poolSize: 4 });
  await migrateToLatest(database);
  return {
    ...database,
    url: PG_URL,
    schema,
    async close() {
      await database.close();
      const cleanup = new pg.Client({ connectionString: PG_URL });
      await cleanup.connect();
      await cleanup.query(`drop schema ${schema} cascade`);
      await cleanup.end();
    },
  };
}
