/**
 * A short shared cache for public reads: one computation per key per `ttlMs`, shared by every
 * caller that asks meanwhile; emptied by `invalidate()` (the server calls it after each write
 * through its API); at most `maxEntries` keys (emptied when full: the keys are few and fixed, a
 * page or a visibility, so reaching the bound means something is wrong, not that one must go).
 * A failed computation is not kept: the next caller tries again.
 */
export interface ShortCache<T> {
  get(key: string, compute: () => Promise<T>): Promise<T>;
  invalidate(): void;
}

export function createShortCache<T>(ttlMs: number, maxEntries: number, now: () => number = Date.now): ShortCache<T> {
  const entries = new Map<string, { at: number; value: Promise<T> }>();
  return {
    get(key, compute) {
      const hit = entries.get(key);
      if (hit && now() - hit.at < ttlMs) return hit.value;
      if (entries.size >= maxEntries) entries.clear();
      const value = compute();
      entries.set(key, { at: now(), value });
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      return value;
    },
    invalidate() {
      entries.clear();
    },
  };
}
