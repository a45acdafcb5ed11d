/** One page of a list query, with its exact total, on either dialect. */
import { sql, type SelectQueryBuilder } from 'kysely';
import { compiledFor, rowsOf } from './compiled.js';
import type { Executor } from './database.js';
import type { DB } from './schema.js';

/** Which page, how large, and in which order. */
export interface PageRequest {
  page: number;
  perPage: number;
  /** A column name already checked against the list's allow-list, or null for the default order. */
  sort: string | null;
  direction: 'asc' | 'desc';
  /** A key's resource limit (`allowedIds`): only rows with these ids, in the count as in the page; null or absent for all. */
  onlyIds?: readonly number[] | null;
}

/**
 * Runs `query` for one page and counts all matching rows. `table` qualifies the sort column;
 * ties (and the default order) fall back to `id` so pages never overlap.
 */
export async function fetchPage<TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O> | (() => SelectQueryBuilder<DB, TB, O>),
  table: TB,
  page: PageRequest,
  defaultOrder: { column: string; direction: 'asc' | 'desc' } = { column: 'id', direction: 'asc' },
  /**
   * For a hot list: the database and a key naming everything `query` depends on besides `page`;
   * the compiled queries are then kept (`compiledFor`) and `query`, a function, is only called to
   * build them.
   */
  memo?: { db: Executor; key: string },
): Promise<{ total: number; rows: O[] }> {
  const build = typeof query === 'function' ? query : () => query;
  const key = memo ? `${memo.key}\u0000${JSON.stringify([table, page, defaultOrder])}` : '';
  const run = async <R>(name: string, make: () => SelectQueryBuilder<DB, TB, R>): Promise<R[]> =>
    memo ? rowsOf(memo.db, compiledFor(memo.db, `${key}\u0000${name}`, make)) : make().execute();
  // One row more than the page: when it is not there, this is the last page and the total follows
  // without a count query (most lists fit one page).
  const rows = await run('list', () => pageQuery(build(), table, page, defaultOrder));
  const offset = (page.page - 1) * page.perPage;
  if (rows.length <= page.perPage && (rows.length > 0 || offset === 0)) return { total: offset + rows.length, rows };
  rows.length = Math.min(rows.length, page.perPage);
  const [counted] = await run('count', () => countQuery(build(), table, page));
  return { total: Number(counted?.total ?? 0), rows };
}

/** A key's resource limit applied; an empty list matches nothing (`in ()` is not valid SQL). */
function limited<TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, table: TB, page: PageRequest): SelectQueryBuilder<DB, TB, O> {
  if (!page.onlyIds) return query;
  const ids = page.onlyIds;
  return query.where(sql.ref(`${String(table)}.id`), 'in', ids.length > 0 ? [...ids] : [-1]);
}

/** The page itself, one row more than asked (see `fetchPage`). */
function pageQuery<TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, table: TB, page: PageRequest, defaultOrder: { column: string; direction: 'asc' | 'desc' }) {
  const column = page.sort ?? defaultOrder.column;
  const direction = page.sort ? page.direction : defaultOrder.direction;
  return limited(query, table, page)
    .orderBy(sql.ref(`${String(table)}.${column}`), direction)
    .orderBy(sql.ref(`${String(table)}.id`), direction)
    .limit(page.perPage + 1)
    .offset((page.page - 1) * page.perPage);
}

function countQuery<TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, table: TB, page: PageRequest) {
  return limited(query, table, page).clearSelect().clearOrderBy().select(sql<number>`count(*)`.as('total'));
}
