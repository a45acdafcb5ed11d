/**
 * Group commit for events that have no transaction of their own (keyed reads, denials, failed
 * requests): concurrent requests' events are written together in one transaction every few
 * milliseconds, and each request waits for its event's commit before its response is sent.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { AuditEntry, AuditWriter } from './audit.writer.js';

export interface AuditBatcherOptions {
  db: Kysely<DB>;
  writer: AuditWriter;
  /**
   * How long the first event of a batch waits for company (ms); 0 (the default) writes at the end
   * of the current event-loop turn, and events that arrive while a batch commits form the next one.
   */
  delayMs?: number;
  /** A batch this large is written at once. */
  maxBatch?: number;
}

interface Pending {
  entry: AuditEntry;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export function createAuditBatcher({ db, writer, delayMs = 0, maxBatch = 256 }: AuditBatcherOptions) {
  let queue: Pending[] = [];
  let timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  /** The write under way, if any; it takes what queued meanwhile when it ends. */
  let writing: Promise<void> | null = null;

  function clearTimer(): void {
    if (timer) {
      if (delayMs > 0) clearTimeout(timer as NodeJS.Timeout);
      else clearImmediate(timer as NodeJS.Immediate);
    }
    timer = null;
  }

  /**
   * One write at a time, and the next batch is formed when the write before it ends, from
   * everything that queued while it committed. (Forming it when the timer fired instead, as this
   * did first, chained batches of one event each behind a slow commit: on PostgreSQL, where a
   * commit waits for the WAL flush, keyed reads ran one event per transaction.)
   */
  function flush(): void {
    clearTimer();
    if (writing !== null || queue.length === 0) return;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    writing = (async () => {
      try {
        await db.transaction().execute((trx) => writer.append(trx, batch.map((p) => p.entry)));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      } finally {
        writing = null;
        flush();
      }
    })();
  }

  return {
    /** Resolves once `entry` is committed; rejects when it could not be written. */
    write(entry: AuditEntry): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        queue.push({ entry, resolve, reject });
        if (writing !== null) return;
        if (queue.length >= maxBatch) flush();
        else timer ??= delayMs > 0 ? setTimeout(flush, delayMs) : setImmediate(flush);
      });
    },
    /** Writes what is queued and waits for every write to end. */
    async drain(): Promise<void> {
      flush();
      while (writing !== null) {
        await writing;
        flush();
      }
    },
    /** Events waiting for a write (for tests and metrics). */
    pending: () => queue.length,
  };
}

export type AuditBatcher = ReturnType<typeof createAuditBatcher>;
