/** One Kysely instance per dialect, chosen by DATABASE_URL; the rest of the code never asks which. */
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import type { DB } from './schema.js';
import { cachingSqlite } from './sqlite-cache.js';

export type Dialect = 'sqlite' | 'postgres';

/** An open database and how to close it. */
export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  /** PostgreSQL schema the connection works in, when not the default. */
  schema?: string;
  close(): Promise<void>;
}

/** A connection or an open transaction: repositories accept either. */
export type Executor = Kysely<DB> | Transaction<DB>;

export interface DatabaseOptions {
  /** PostgreSQL only: schema to put first on the search path (tests use one schema per suite). */
  schema?: string;
  /** PostgreSQL pool size. */
  poolSize?: number;
  /**
   * PostgreSQL: told when an idle pooled connection fails (the server restarted, a proxy dropped
   * it). The pool discards that connection and opens a new one when needed; without a listener
   * the pool's 'error' event would end the process.
   */
  onIdleError?: (err: Error) => void;
}

// The driver of the other dialect is never loaded (both are CommonJS, so require() keeps opening synchronous):
// a CLI command on SQLite starts without pg.
const requireCjs = createRequire(import.meta.url);
const loadSqlite = () => requireCjs('better-sqlite3') as typeof import('better-sqlite3');
const loadPg = () => requireCjs('pg') as typeof import('pg');

// pg returns int8 (count(*), sums) as strings; every such value here fits a JS number.
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (value: string) => Number(value);
    return loadPg().types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};

/** The files of a `sqlite:<file>` database (with its WAL and shared-memory files); none for memory or PostgreSQL. */
export function sqliteFiles(url: string): string[] {
  if (!url.startsWith('sqlite:')) return [];
  const file = url.slice('sqlite:'.length);
  if (file === ':memory:') return [];
  const resolved = path.resolve(file);
  return [resolved, `${resolved}-wal`, `${resolved}-shm`];
}

/** Opens the database named by `url` (`sqlite:<file>`, `sqlite::memory:`, `postgres://…`). */
export function openDatabase(url: string, options: DatabaseOptions = {}): Database {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    const inMemory = file === ':memory:';
    // The file holds subscriber emails and key digests: a new one is readable by its owner only
    // (SQLite gives its -wal and -shm files the same mode).
    const isNew = !inMemory && !existsSync(file);
    if (!inMemory) mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    if (isNew) closeSync(openSync(file, 'a', 0o600));
    const SQLite = loadSqlite();
    const sqlite = new SQLite(inMemory ? ':memory:' : file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL');
    const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: cachingSqlite(sqlite) }) });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  const pool = new (loadPg().Pool)({
    connectionString: url,
    max: options.poolSize ?? 10,
    types: pgTypes,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    // A connection attempt to a database that is down fails in bounded time (then a 503).
    connectionTimeoutMillis: 5000,
  });
  pool.on('error', (err) => options.onIdleError?.(err));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', schema: options.schema, close: () => db.destroy() };
}
