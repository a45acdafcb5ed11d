/**
 * The audit writer: the one way an event enters the trail. Called with the caller's transaction,
 * so a change and its event commit together or not at all; it chains each event to the one before
 * under the head's lock, so the trail stays one chain with any number of instances writing.
 */
import type { Executor } from '../../db/database.js';
import type { Clock } from '../../infra/clock.js';
import { toStoredTime } from '../../infra/time.js';
import { uuidv7 } from '../../infra/uuid.js';
import { eventHash, hashedContent } from './audit.chain.js';
import type { AuditEventRow, AuditRepo } from './audit.repo.js';
import type { AuditContext, AuditFact, Change } from './audit.types.js';
import { changeAction, fieldChanges } from './audit.changes.js';

/** One event to write: its context and what happened. */
export interface AuditEntry {
  context: AuditContext;
  fact: AuditFact;
}

/** Longest stored text of a client-controlled field (user agent, path). */
const MAX_TEXT = 512;

/**
 * A client-controlled text as stored: at most MAX_TEXT characters, control characters (a `%00` in
 * a path) replaced by U+FFFD, since PostgreSQL text cannot hold NUL and a log line should not.
 */
function clip(text: string | null): string | null {
  if (text === null) return null;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '\ufffd');
  return clean.length <= MAX_TEXT ? clean : clean.slice(0, MAX_TEXT);
}

export interface AuditWriterDeps {
  repo: AuditRepo;
  clock: Clock;
  /** Key for the digests that stand in for personal data. */
  pepper: Buffer;
}

export function createAuditWriter({ repo, clock, pepper }: AuditWriterDeps) {
  return {
    /** Appends `entries` to the chain inside `trx`; returns the stored events. */
    async append(trx: Executor, entries: readonly AuditEntry[]): Promise<AuditEventRow[]> {
      if (entries.length === 0) return [];
      const at = toStoredTime(clock.now());
      const { first, prevHash } = await repo.reserve(trx, entries.length);
      let prev = prevHash;
      const rows = entries.map(({ context, fact }, i): AuditEventRow => {
        const content = {
          seq: first + i,
          id: uuidv7(),
          at,
          request_id: context.requestId,
          actor_type: context.actor.type,
          key_id: context.actor.keyId ?? null,
          key_prefix: context.actor.keyPrefix ?? null,
          user_id: context.actor.userId ?? null,
          ip: context.ip,
          user_agent: clip(context.userAgent),
          method: context.method,
          path: clip(context.path),
          action: fact.action,
          resource_type: fact.resourceType,
          resource_id: fact.resourceId === null ? null : clip(String(fact.resourceId)),
          outcome: fact.outcome,
          status: fact.status,
          reason: fact.reason,
          changes: fact.changes,
        };
        const hash = eventHash(prev, hashedContent(content));
        const row = { ...content, changes: content.changes === null ? null : JSON.stringify(content.changes), prev_hash: prev, hash };
        prev = hash;
        return row;
      });
      await repo.insert(trx, rows);
      await repo.setHeadHash(trx, prev);
      return rows;
    },

    /** The fact of a service's change: its action, resource and redacted field changes. */
    factOf(change: Change, status: number | null = null): AuditFact {
      return {
        action: changeAction(change),
        resourceType: change.resource,
        resourceId: change.id,
        outcome: 'allowed',
        status,
        reason: null,
        changes: fieldChanges(pepper, change.before, change.after),
      };
    },
  };
}

export type AuditWriter = ReturnType<typeof createAuditWriter>;
