/** A transaction whose changes are audited under a given context: the CLI's and background jobs' `transact`. */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema.js';
import { trackChanges } from './audit.changes.js';
import type { AuditContext } from './audit.types.js';
import type { AuditWriter } from './audit.writer.js';

export type Audited = <T>(context: AuditContext, work: (trx: Transaction<DB>) => Promise<T>) => Promise<T>;

/** Runs `work` in a transaction and writes one event per change it recorded, in the same transaction. */
export function createAudited(db: Kysely<DB>, writer: AuditWriter): Audited {
  return (context, work) =>
    db.transaction().execute(async (trx) => {
      const changes = trackChanges(trx);
      const result = await work(trx);
      await writer.append(
        trx,
        changes.map((change) => ({ context, fact: writer.factOf(change) })),
      );
      return result;
    });
}
