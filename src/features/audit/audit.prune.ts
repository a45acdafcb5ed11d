/**
 * Pruning: removes the oldest events and records, in the head, the last removed event's seq and
 * hash (the anchor), from which the remaining chain still verifies. The prune is itself an event
 * (`audit.prune`), so later checkpoints sign the anchor it set.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { AuditContext } from './audit.types.js';
import type { AuditWriter } from './audit.writer.js';

export type PruneResult =
  | { pruned: false }
  | { pruned: true; removed: number; anchor: { seq: number; hash: string }; event: { seq: number; id: string } };

/**
 * Removes, in one transaction, the events before `before` (ISO 8601 UTC) that start the chain:
 * up to the first event at or after `before`, so the rest stays one chain even if clocks of
 * several instances disagreed. Writes the `audit.prune` event in the same transaction.
 */
export async function pruneAuditTrail(db: Kysely<DB>, writer: AuditWriter, before: string, context: AuditContext): Promise<PruneResult> {
  return db.transaction().execute(async (trx) => {
    // Taking the head's lock first: appends from other instances wait until the prune commits.
    const head = await trx.updateTable('audit_head').set({ id: 1 }).where('id', '=', 1).returningAll().executeTakeFirstOrThrow();
    const anchorSeq = Number(head.anchor_seq);
    const firstKept = await trx.selectFrom('audit_events').select((eb) => eb.fn.min('seq').as('seq')).where('at', '>=', before).executeTakeFirst();
    const lastRemoved = firstKept?.seq == null ? Number(head.seq) : Number(firstKept.seq) - 1;
    if (lastRemoved <= anchorSeq) return { pruned: false };
    const anchorEvent = await trx.selectFrom('audit_events').select(['hash']).where('seq', '=', lastRemoved).executeTakeFirstOrThrow();
    const deleted = await trx.deleteFrom('audit_events').where('seq', '<=', lastRemoved).executeTakeFirst();
    await trx.updateTable('audit_head').set({ anchor_seq: lastRemoved, anchor_hash: anchorEvent.hash }).where('id', '=', 1).execute();
    const [event] = await writer.append(trx, [
      {
        context,
        fact: {
          action: 'audit.prune',
          resourceType: 'audit',
          resourceId: null,
          outcome: 'allowed',
          status: null,
          reason: null,
          changes: { anchor_seq: [anchorSeq, lastRemoved], anchor_hash: [head.anchor_hash, anchorEvent.hash], before: [null, before] },
        },
      },
    ]);
    return {
      pruned: true,
      removed: Number(deleted.numDeletedRows),
      anchor: { seq: lastRemoved, hash: anchorEvent.hash },
      event: { seq: Number(event!.seq), id: event!.id },
    };
  });
}
