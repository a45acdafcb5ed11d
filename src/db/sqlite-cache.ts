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
 * - Results of read-only statements by SQL text and parameters, valid while the tables they read
 *   are unchanged. A write through this connection marks its table changed, and the tables whose
 *   foreign keys cascade from it; a write whose table cannot be told, or a schema change, marks
 *   every table. SQLite's `data_version` tells of commits by other connections (the CLI, another
 *   process) and drops everything. Per table, so the audit event every keyed request writes does
 *   not empty the cache of the components it read. Reads inside a transaction neither use nor fill
 *   the cache. Cached rows are frozen and each caller gets its own array, so no caller can change
 *   what another reads. Bounded by entries and rows.
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

/** The table an insert, update or delete writes, quoted or not; null for anything else. */
const WRITTEN_TABLE = /^\s*(?:insert(?:\s+or\s+\w+)?\s+into|replace\s+into|update(?:\s+or\s+\w+)?|delete\s+from)\s+"?([A-Za-z_]\w*)"?/i;
/** Names a read may depend on: every quoted identifier, and every bare name after `from` or `join`. */
const READ_NAMES = /"([^"]+)"|\b(?:from|join)\s+([A-Za-z_]\w*)/gi;
/** Statements that change no rows and no schema. */
const TRANSACTION_CONTROL = /^\s*(?:begin|commit|end|rollback|savepoint|release)\b/i;

export function cachingSqlite(sqlite: SQLite.Database, options: SqliteCacheOptions = {}): CachingSqlite {
  const statements = new LRUCache<string, { raw: SQLite.Statement; wrapped: SqliteStatement }>({ max: options.statements ?? 500 });
  const rowBudget = options.rows ?? 5000;
  const results =
    rowBudget > 0
      ? new LRUCache<string, { stamp: number; external: number; names: readonly string[]; rows: readonly unknown[] }>({
          max: 1000,
          maxSize: rowBudget,
          sizeCalculation: (entry) => Math.max(1, entry.rows.length),
        })
      : null;
  const dataVersion = sqlite.prepare('pragma data_version').pluck();
  /** Counts writes; each table remembers the count at its last write, `everything` at the last write to all. */
  let clock = 0;
  let everything = 0;
  const changedAt = new Map<string, number>();
  /** Table → the tables whose foreign keys act on its changes (on delete cascade…); built on first need. */
  let dependents: Map<string, string[]> | null = null;
  let hits = 0;
  let misses = 0;

  function dependentsOf(table: string): readonly string[] {
    if (dependents === null) {
      dependents = new Map();
      const tables = sqlite.prepare("select name from sqlite_master where type = 'table'").pluck().all() as string[];
      for (const child of tables) {
        const keys = sqlite.prepare('select "table", on_delete, on_update from pragma_foreign_key_list(?)').all(child) as Array<{ table: string; on_delete: string; on_update: string }>;
        for (const key of keys) {
          if (key.on_delete === 'NO ACTION' && key.on_update === 'NO ACTION') continue;
          dependents.set(key.table, [...(dependents.get(key.table) ?? []), child]);
        }
      }
    }
    return dependents.get(table) ?? [];
  }

  function wrote(sql: string): void {
    clock++;
    const table = WRITTEN_TABLE.exec(sql)?.[1];
    if (table === undefined) {
      // A schema change, or a write we cannot attribute: nothing cached can be trusted.
      everything = clock;
      changedAt.clear();
      dependents = null;
      return;
    }
    changedAt.set(table, clock);
    for (const child of dependentsOf(table)) changedAt.set(child, clock);
  }

  function fresh(entry: { stamp: number; names: readonly string[] }): boolean {
    if (everything > entry.stamp) return false;
    for (const name of entry.names) if ((changedAt.get(name) ?? 0) > entry.stamp) return false;
    return true;
  }

  function wrap(statement: SQLite.Statement, sql: string): SqliteStatement {
    const writes = !statement.readonly && !TRANSACTION_CONTROL.test(sql);
    const cacheable = results !== null && statement.reader && statement.readonly;
    const names = cacheable ? [...new Set([...sql.matchAll(READ_NAMES)].map((match) => match[1] ?? match[2]!))] : [];
    return {
      reader: statement.reader,
      all(parameters) {
        if (writes) {
          const rows = statement.all(parameters);
          wrote(sql);
          return rows;
        }
        if (!cacheable || sqlite.inTransaction) return statement.all(parameters);
        const key = `${sql}\u0000${JSON.stringify(parameters)}`;
        if (key.length > MAX_KEY_LENGTH) return statement.all(parameters);
        const external = dataVersion.get() as number;
        const hit = results.get(key);
        if (hit !== undefined && hit.external === external && fresh(hit)) {
          hits++;
          return hit.rows.slice();
        }
        misses++;
        const rows = statement.all(parameters);
        if (rows.length <= MAX_CACHED_RESULT_ROWS) {
          for (const row of rows) Object.freeze(row);
          results.set(key, { stamp: clock, external, names, rows: rows.slice() });
        }
        return rows;
      },
      run(parameters) {
        const result = statement.run(parameters);
        if (writes) wrote(sql);
        return result;
      },
      iterate(parameters) {
        if (writes) wrote(sql);
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
