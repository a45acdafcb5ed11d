/** A short render cache for the public pages: one render per page per version, shared by concurrent visitors. */
import { createHash } from 'node:crypto';

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
  const entries = new Map<string, { at: number; page: Promise<RenderedPage> }>();
  return {
    get(key, render) {
      const hit = entries.get(key);
      if (hit && now() - hit.at < ttlMs) return hit.page;
      if (entries.size >= maxEntries) entries.clear();
      const page = render().then((p) => ({ ...p, etag: etagOf(p.body) }));
      entries.set(key, { at: now(), page });
      // A failed render is not kept: the next visitor tries again.
      page.catch(() => {
        if (entries.get(key)?.page === page) entries.delete(key);
      });
      return page;
    },
    invalidate() {
      entries.clear();
    },
  };
}
