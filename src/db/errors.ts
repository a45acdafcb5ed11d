/** Recognises driver errors that mean "the store cannot be reached right now" (a 503), not "this request is wrong". */

// Node socket errors, PostgreSQL connection/availability SQLSTATEs, and SQLite lock time-outs.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300', 'SQLITE_BUSY', 'SQLITE_LOCKED']);
const UNAVAILABLE_MESSAGES = [/has already been destroyed/i, /is not currently accepting connections/i, /Connection terminated/i, /Cannot use a pool after calling end/i, /database connection is not open/i, /timeout exceeded when trying to connect/i];

/** True when `error` says the database is down, closed, locked or out of connections. */
export function isStoreUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^08/.test(code))) return true;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message));
}
