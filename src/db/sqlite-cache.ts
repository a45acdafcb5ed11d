/**
 * better-sqlite3 behind Kysely, with its prepared statements and the results of recent reads kept.
 *
 * Kysely's SQLite driver prepares every query anew, and a listing's time goes mostly to SQLite
 * building row objects: profiles of `GET /api/v1/components` put statement preparation near a
 * tenth and row reading over a third of the request. Both are kept here, below every repository,
 * so no query has to opt in and none can forget to invalidate:
 *
 * - Statements by SQL text. The text comes from our own queries with values as parameters, so the
 *   keys are query shapes (an `in (?, ?, …)` list makes one per length); bounded all the same.
 * - Results of read-only statements by SQL text and parameters, valid while the database is
 *   unchanged: any statement that writes (through this connection) bumps a local version, and
 *   SQLite's `data_version` tells of commits by other connections (the CLI, another process). Reads
 *   inside a transaction neither use nor fill the cache. Cached rows are frozen and each caller
 *   gets its own array, so no caller can change what another reads. Bounded by entries and rows.
 */
import type SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { LRUCache } from 'lru-cache';

export interface SqliteCacheOptions {
  /** Prepared statements kept. */
  statements?: number;
  /** Total rows kept across cached results; 0 turns the result cache off. */
  rows?: number;
}

/** A result larger than this is never kept (an export, a big page). */
const MAX_CACHED_RESULT_ROWS = 1000;
/** Nor one whose key (SQL and parameters) is longer than this: bounded by what clients send. */
const MAX_KEY_LENGTH = 4096;

export interface CachingSqlite extends SqliteDatabase {
  stats(): { statements: number; results: number; rows: number; hits: number; misses: number };
}

export function cachingSqlite(sqlite: SQLite.Database, options: SqliteCacheOptions = {}): CachingSqlite {
  const statements = new LRUCache<string, { raw: SQLite.Statement; wrapped: SqliteStatement }>({ max: options.statements ?? 500 });
  const rowBudget = options.rows ?? 5000;
  const results =
    rowBudget > 0
      ? new LRUCache<string, { version: number; external: number; rows: readonly unknown[] }>({ max: 1000, maxSize: rowBudget, sizeCalculation: (entry) => Math.max(1, entry.rows.length) })
      : null;
  const dataVersion = sqlite.prepare('pragma data_version').pluck();
  let version = 0;
  let hits = 0;
  let misses = 0;

  function wrap(statement: SQLite.Statement, sql: string): SqliteStatement {
    const writes = !statement.readonly;
    // A transaction's own statements (begin, commit, rollback, savepoint) count as writes too.
    const touches = writes || /^\s*(begin|commit|end|rollback|savepoint|release)\b/i.test(sql);
    const cacheable = results !== null && statement.reader && !writes;
    return {
      reader: statement.reader,
      all(parameters) {
        if (touches) version++;
        if (!cacheable || sqlite.inTransaction) return statement.all(parameters);
        const key = `${sql}\u0000${JSON.stringify(parameters)}`;
        if (key.length > MAX_KEY_LENGTH) return statement.all(parameters);
        const external = dataVersion.get() as number;
        const hit = results.get(key);
        if (hit !== undefined && hit.version === version && hit.external === external) {
          hits++;
          return hit.rows.slice();
        }
        misses++;
        const rows = statement.all(parameters);
        if (rows.length <= MAX_CACHED_RESULT_ROWS) {
          for (const row of rows) Object.freeze(row);
          results.set(key, { version, external, rows: rows.slice() });
        }
        return rows;
      },
      run(parameters) {
        if (touches) version++;
        return statement.run(parameters);
      },
      iterate(parameters) {
        if (touches) version++;
        return statement.iterate(parameters);
      },
    };
  }

  return {
    prepare(sql: string) {
      const hit = statements.get(sql);
      // A statement still iterating (a streamed query) is not shared: the caller gets a fresh one.
      if (hit !== undefined) return hit.raw.busy ? wrap(sqlite.prepare(sql), sql) : hit.wrapped;
      const raw = sqlite.prepare(sql);
      const wrapped = wrap(raw, sql);
      statements.set(sql, { raw, wrapped });
      return wrapped;
    },
    close() {
      statements.clear();
      results?.clear();
      sqlite.close();
    },
    stats: () => ({ statements: statements.size, results: results?.size ?? 0, rows: results?.calculatedSize ?? 0, hits, misses }),
  };
}
