/**
 * Queries compiled once per database and arguments. Kysely builds and compiles a query on every
 * call, which profiles put at about a fifth of a component listing's time; a hot read whose SQL
 * and parameters follow from a few arguments can instead keep its compiled form, keyed by those
 * arguments. The key must name everything the query depends on (callers build it with JSON of
 * their arguments); a transaction compiles afresh, and the cache is bounded, since arguments come
 * from clients.
 */
import type { Compilable, CompiledQuery } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Executor } from './database.js';

const PER_DATABASE = 500;
const MAX_KEY_LENGTH = 2048;
const caches = new WeakMap<object, LRUCache<string, CompiledQuery>>();

export function compiledFor<R>(db: Executor, key: string, build: () => Compilable<R>): CompiledQuery<R> {
  if (db.isTransaction || key.length > MAX_KEY_LENGTH) return build().compile();
  let cache = caches.get(db);
  if (cache === undefined) {
    cache = new LRUCache({ max: PER_DATABASE });
    caches.set(db, cache);
  }
  let compiled = cache.get(key) as CompiledQuery<R> | undefined;
  if (compiled === undefined) {
    compiled = build().compile();
    cache.set(key, compiled);
  }
  return compiled;
}

/** Runs a compiled query; its rows. */
export async function rowsOf<R>(db: Executor, compiled: CompiledQuery<R>): Promise<R[]> {
  return (await db.executeQuery(compiled)).rows;
}
