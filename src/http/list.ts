/** Cachet list conventions: `per_page`/`page`/`sort`/`order` and the `meta.pagination` envelope. */
import type { FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import type { PageRequest } from '../db/paging.js';

/** Query parameters every list accepts; extra keys are exact-match filters where a list allows them. */
export const listQueryProperties = {
  per_page: Type.Optional(Type.Integer({ minimum: 1, description: 'Items per page (default 20; larger than the server maximum is clamped).' })),
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: '1-based page number.' })),
  sort: Type.Optional(Type.String({ maxLength: 64, description: 'Column to sort by; unknown columns are ignored.' })),
  order: Type.Optional(Type.String({ pattern: '^([aA][sS][cC]|[dD][eE][sS][cC])$', description: '`asc` (default) or `desc`.' })),
};

/** `meta.pagination` as Cachet 2.x returns it. */
export const PaginationSchema = Type.Object({
  total: Type.Integer(),
  count: Type.Integer(),
  per_page: Type.Integer(),
  current_page: Type.Integer(),
  total_pages: Type.Integer(),
  links: Type.Object({
    next_page: Type.Union([Type.String(), Type.Null()]),
    previous_page: Type.Union([Type.String(), Type.Null()]),
  }),
});

/** `{meta: {pagination}, data: [item]}`. */
export function listEnvelope<T extends TSchema>(item: T) {
  return Type.Object({ meta: Type.Object({ pagination: PaginationSchema }), data: Type.Array(item) });
}

/** `{data: item}`. */
export function itemEnvelope<T extends TSchema>(item: T) {
  return Type.Object({ data: item });
}

/** Paging and ordering, resolved from the query and checked against a list's sortable columns. */
export type ListParams = PageRequest;

/** Resolves paging and sorting; `sort` outside `sortable` is ignored, as Cachet does. */
export function listParams(query: Record<string, unknown>, sortable: readonly string[], perPageMax: number): ListParams {
  const perPage = Math.min(Number(query.per_page ?? 20), perPageMax);
  const sort = typeof query.sort === 'string' && sortable.includes(query.sort) ? query.sort : null;
  const direction = typeof query.order === 'string' && query.order.toLowerCase() === 'desc' ? 'desc' : 'asc';
  return { page: Number(query.page ?? 1), perPage, sort, direction };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Base of absolute links (CACHET_PUBLIC_URL): a request's Host header never reaches a link. */
    publicUrl: string;
  }
}

/** The link to another page of this list: the public URL, this path, the same query with `page` replaced. */
function pageUrl(request: FastifyRequest, page: number): string {
  const queryAt = request.url.indexOf('?');
  const path = queryAt < 0 ? request.url : request.url.slice(0, queryAt);
  const params = new URLSearchParams(queryAt < 0 ? '' : request.url.slice(queryAt + 1));
  params.delete('page');
  params.append('page', String(page));
  const url = new URL(request.server.publicUrl);
  // Set as a path, never parsed as a URL: `//host/…` in a request line cannot name another host.
  url.pathname = url.pathname.replace(/\/$/, '') + path;
  url.search = params.toString();
  return url.toString();
}

/** The list envelope for one page of `total` items. */
export function paginated<T>(request: FastifyRequest, params: ListParams, total: number, data: T[]) {
  const totalPages = Math.max(1, Math.ceil(total / params.perPage));
  return {
    meta: {
      pagination: {
        total,
        count: data.length,
        per_page: params.perPage,
        current_page: params.page,
        total_pages: totalPages,
        links: {
          next_page: params.page < totalPages ? pageUrl(request, params.page + 1) : null,
          previous_page: params.page > 1 ? pageUrl(request, params.page - 1) : null,
        },
      },
    },
    data,
  };
}
