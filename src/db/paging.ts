/** One page of a list query, with its exact total, on either dialect. */
import { sql, type SelectQueryBuilder } from 'kysely';
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
  query: SelectQueryBuilder<DB, TB, O>,
  table: TB,
  page: PageRequest,
  defaultOrder: { column: string; direction: 'asc' | 'desc' } = { column: 'id', direction: 'asc' },
): Promise<{ total: number; rows: O[] }> {
  if (page.onlyIds) {
    const ids = page.onlyIds;
    // An empty list matches nothing; `in ()` is not valid SQL.
    query = query.where(sql.ref(`${String(table)}.id`), 'in', ids.length > 0 ? [...ids] : [-1]);
  }
  const column = page.sort ?? defaultOrder.column;
  const direction = page.sort ? page.direction : defaultOrder.direction;
  const offset = (page.page - 1) * page.perPage;
  // One row more than the page: when it is not there, this is the last page and the total follows
  // without a count query (most lists fit one page).
  const rows = await query
    .orderBy(sql.ref(`${String(table)}.${column}`), direction)
    .orderBy(sql.ref(`${String(table)}.id`), direction)
    .limit(page.perPage + 1)
    .offset(offset)
    .execute();
  if (rows.length <= page.perPage && (rows.length > 0 || offset === 0)) return { total: offset + rows.length, rows };
  rows.length = Math.min(rows.length, page.perPage);
  const counted = await query
    .clearSelect()
    .clearOrderBy()
    .select(sql<number>`count(*)`.as('total'))
    .executeTakeFirst();
  const total = Number((counted as { total?: number } | undefined)?.total ?? 0);
  return { total, rows };
}
