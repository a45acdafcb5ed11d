/**
 * Every API mutation runs through `transact`: one database transaction per request, in which the
 * services record what they change and the audit stage writes the request's events, so that a
 * change and its events commit together or not at all.
 */
import type { FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import { trackChanges } from '../features/audit/audit.changes.js';
import type { Change } from '../features/audit/audit.types.js';

/** Runs `work` in a transaction on behalf of `request`. */
export type Transact = <T>(request: FastifyRequest, work: (trx: Transaction<DB>) => Promise<T>) => Promise<T>;

/** Work that joins the request's transaction after the mutation itself (the audit writer), given what it changed. */
export type TransactionJoiner = (request: FastifyRequest, trx: Transaction<DB>, changes: readonly Change[]) => Promise<void>;

declare module 'fastify' {
  interface FastifyRequest {
    /** True once the request's audit event committed with its mutation; the response stage then writes none. */
    auditCommitted: boolean;
  }
}

/** A `Transact` over `db`; `joiners` run inside the same transaction, after `work`. */
export function createTransact(db: Kysely<DB>, joiners: readonly TransactionJoiner[] = []): Transact {
  return async (request, work) => {
    const result = await db.transaction().execute(async (trx) => {
      const changes = trackChanges(trx);
      const value = await work(trx);
      for (const join of joiners) await join(request, trx, changes);
      return value;
    });
    request.auditCommitted = joiners.length > 0;
    return result;
  };
}
