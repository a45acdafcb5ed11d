/**
 * Ships the audit trail to a sink from an outbox cursor: reads the events after the sink's row in
 * `audit_cursors`, sends them, then moves the row forward. It runs in the background, so a sink
 * that is down delays shipping but never a request; every event arrives once the sink is back.
 */
import type { Logger } from 'pino';
import type { Database, Executor } from '../../db/database.js';
import type { Clock } from '../../infra/clock.js';
import { toStoredTime } from '../../infra/time.js';
import { eventOfRow } from './audit.chain.js';
import type { AuditRepo } from './audit.repo.js';
import type { AuditSink } from './audit.sinks.js';

export interface AuditShipperOptions {
  database: Database;
  repo: AuditRepo;
  sink: AuditSink;
  logger: Logger;
  clock: Clock;
  /** Pause between polls when nothing is waiting (ms); after failures the pause doubles up to `maxBackoffMs`. */
  intervalMs?: number;
  /** Longest pause between attempts while the sink fails (ms); by default 16 intervals, at most 4 s. */
  maxBackoffMs?: number;
  /** Most events read and sent at once. */
  batchSize?: number;
  /** Least time between two warnings about a failing sink (ms). */
  warnEveryMs?: number;
}

/** The outcome of one attempt: how many events went out (0 when none waited or another instance holds the cursor). */
type Attempt = number;

export function createAuditShipper({
  database,
  repo,
  sink,
  logger,
  clock,
  intervalMs = 250,
  maxBackoffMs = Math.min(4000, intervalMs * 16),
  batchSize = 500,
  warnEveryMs = 30_000,
}: AuditShipperOptions) {
  const { db, dialect } = database;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = true;
  let failures = 0;
  let lastWarning = -Infinity;
  let cursorCreated = false;

  /** Reads after `cursor`, sends, and moves the cursor in `executor` (a transaction holding the row on PostgreSQL). */
  async function shipAfter(executor: Executor, cursor: number): Promise<Attempt> {
    const rows = await repo.after(executor, cursor, batchSize);
    if (rows.length === 0) return 0;
    await sink.send(rows.map(eventOfRow));
    await executor
      .updateTable('audit_cursors')
      .set({ seq: rows[rows.length - 1]!.seq, updated_at: toStoredTime(clock.now()) })
      .where('name', '=', sink.name)
      .execute();
    return rows.length;
  }

  /** One batch. A new sink name gets a cursor at 0, so it receives the trail from its first event. */
  async function shipOnce(): Promise<Attempt> {
    if (!cursorCreated) {
      await db
        .insertInto('audit_cursors')
        .values({ name: sink.name, seq: 0, updated_at: toStoredTime(clock.now()) })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      cursorCreated = true;
    }
    if (dialect === 'postgres') {
      // The row lock is held while the batch is sent: another instance skips the sink meanwhile
      // instead of sending the same events, and takes over when this one stops.
      return db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('audit_cursors').select('seq').where('name', '=', sink.name).forUpdate().skipLocked().executeTakeFirst();
        return row ? shipAfter(trx, Number(row.seq)) : 0;
      });
    }
    // SQLite: one process writes a file at a time, and a transaction here would hold every other
    // query of this process for the length of a send.
    const row = await db.selectFrom('audit_cursors').select('seq').where('name', '=', sink.name).executeTakeFirstOrThrow();
    return shipAfter(db, Number(row.seq));
  }

  function noteFailure(err: unknown): void {
    failures++;
    const now = Date.now();
    if (now - lastWarning >= warnEveryMs) {
      lastWarning = now;
      const error = err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}` : String(err);
      logger.warn({ sink: sink.name, failures, error }, 'audit sink unavailable; events are kept and sent when it is back');
    }
  }

  function noteSuccess(): void {
    if (failures > 0) logger.info({ sink: sink.name, failures }, 'audit sink available again');
    failures = 0;
    lastWarning = -Infinity;
  }

  /** Ships until nothing waits or an attempt fails; returns the pause before the next round. */
  async function round(): Promise<number> {
    try {
      while (!stopped && (await shipOnce()) === batchSize) noteSuccess();
      noteSuccess();
      return intervalMs;
    } catch (err) {
      noteFailure(err);
      return Math.min(maxBackoffMs, intervalMs * 2 ** failures);
    }
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      running = round().then((next) => {
        running = null;
        schedule(next);
      });
    }, delayMs);
  }

  return {
    /** Starts polling in the background. */
    start(): void {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },

    /**
     * Stops polling, then ships what waits until nothing is left, an attempt fails or
     * `deadlineMs` passes; closes the sink. What is not shipped goes out on the next start.
     */
    async stop(deadlineMs = 2000): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      let draining = true;
      const drain = (async () => {
        await running;
        try {
          while (draining && (await shipOnce()) > 0) {
            // until nothing waits
          }
        } catch (err) {
          noteFailure(err);
        }
      })();
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([drain, new Promise<void>((resolve) => (deadline = setTimeout(resolve, deadlineMs)))]);
      clearTimeout(deadline);
      draining = false;
      // Closing the sink ends a send still waiting on the network; its batch is sent next time.
      await sink.close();
      await drain;
    },
  };
}

export type AuditShipper = ReturnType<typeof createAuditShipper>;
