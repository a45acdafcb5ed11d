/**
 * Notifications the amplification guard held: listed for an operator, who releases them (they
 * are sent) or drops them (never sent). Each decision is an audit event, made in the caller's
 * transaction, by whoever decides (the CLI's system actor, a dashboard admin).
 */
import type { Executor } from '../../db/database.js';
import type { Queue } from '../../infra/queue.js';
import { recordChange } from '../audit/audit.changes.js';
import type { NotificationEvent } from './notifications.events.js';
import { FANOUT } from './notifications.joiner.js';

export interface HeldBatch {
  id: number;
  key_id: number | null;
  event_type: string;
  /** What the event is about, in a few words (an incident's or component's name). */
  subject: string;
  held_at: string;
}

function subjectOf(event: NotificationEvent): string {
  return event.incident?.name ?? event.schedule?.name ?? event.component?.name ?? '';
}

export function heldNotifications(queue: Queue) {
  return {
    async list(executor?: Executor): Promise<HeldBatch[]> {
      return (await queue.held(executor))
        .filter((job) => job.kind === FANOUT)
        .map((job) => {
          const { event } = JSON.parse(job.payload) as { event: NotificationEvent };
          return { id: job.id, key_id: job.key_id, event_type: event.type, subject: subjectOf(event), held_at: job.created_at };
        });
    },

    /** Releases (`release`) or drops (`drop`) a held batch; null when no held batch has that id. */
    async decide(trx: Executor, id: number, decision: 'release' | 'drop'): Promise<HeldBatch | null> {
      const row = await queue.decide(trx, id, decision);
      if (!row || row.kind !== FANOUT) return null;
      const { event } = JSON.parse(row.payload) as { event: NotificationEvent };
      recordChange(trx, {
        resource: 'notifications',
        id,
        action: `notifications.${decision}`,
        before: { status: 'held' },
        after: { status: decision === 'release' ? 'released' : 'dropped', event_type: event.type, key_id: row.key_id },
      });
      return { id, key_id: row.key_id, event_type: event.type, subject: subjectOf(event), held_at: row.created_at };
    },
  };
}
