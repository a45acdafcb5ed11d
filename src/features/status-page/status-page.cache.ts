/** A short render cache for the public pages: one render per page per version, shared by concurrent visitors. */
import { createHash } from 'node:crypto';
import { createShortCache } from '../../infra/short-cache.js';

/** A rendered page as it is sent. */
export interface RenderedPage {
  status: number;
  type: string;
  body: string;
  etag: string;
}

/** How long a render is reused when no write invalidates it (writes by other instances or the CLI). */
export const PAGE_CACHE_TTL_MS = 5000;

export interface PageCache {
  /** The cached render of `key`, or the result of `render` (started once, however many ask meanwhile). */
  get(key: string, render: () => Promise<Omit<RenderedPage, 'etag'>>): Promise<RenderedPage>;
  /** Drops every render (after a write through the API). */
  invalidate(): void;
}

/** Strong ETag of a body. */
export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

export function createPageCache(now: () => number = Date.now, ttlMs = PAGE_CACHE_TTL_MS, maxEntries = 500): PageCache {
  const pages = createShortCache<RenderedPage>(ttlMs, maxEntries, now);
  return {
    get: (key, render) => pages.get(key, () => render().then((p) => ({ ...p, etag: etagOf(p.body) }))),
    invalidate: () => pages.invalidate(),
  };
}
