/**
 * Every API mutation runs through `transact`: one database transaction per request, which the
 * audit stage joins so that a change and its audit event commit together or not at all.
 */
import type { FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/schema.js';

/** Runs `work` in a transaction on behalf of `request`. */
export type Transact = <T>(request: FastifyRequest, work: (trx: Transaction<DB>) => Promise<T>) => Promise<T>;

/** Work that joins the request's transaction after the mutation itself (the audit writer). */
export type TransactionJoiner = (request: FastifyRequest, trx: Transaction<DB>) => Promise<void>;

/** A `Transact` over `db`; `joiners` run inside the same transaction, after `work`. */
export function createTransact(db: Kysely<DB>, joiners: readonly TransactionJoiner[] = []): Transact {
  return (request, work) =>
    db.transaction().execute(async (trx) => {
      const result = await work(trx);
      for (const join of joiners) await join(request, trx);
      return result;
    });
}
