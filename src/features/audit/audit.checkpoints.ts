/**
 * Signed checkpoints of the chain's head, `(seq, hash, at)`: taken on demand (`cachet audit
 * checkpoint`) and by a background timer in every server once the head has moved on enough. A
 * checkpoint shipped outside the database lets `cachet audit verify --checkpoint` notice a tail
 * that was cut off or rewritten after it, which the chain alone cannot show.
 */
import type { Kysely } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { DB } from '../../db/schema.js';
import type { Clock } from '../../infra/clock.js';
import { toStoredTime } from '../../infra/time.js';
import type { CheckpointSigner, SignedCheckpoint } from './audit.signing.js';

export interface CheckpointerDeps {
  db: Kysely<DB>;
  clock: Clock;
  /** The signer, loaded (or generated) on first use. */
  signer: () => CheckpointSigner;
}

/** The newest stored checkpoint, or null. */
export async function latestCheckpoint(db: Executor): Promise<SignedCheckpoint | null> {
  const row = await db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row ? { ...row, seq: Number(row.seq) } : null;
}

export function createCheckpointer({ db, clock, signer }: CheckpointerDeps) {
  return {
    /**
     * Signs the current head and stores it; returns the stored checkpoint at that seq (another
     * instance's, when it signed the same head first), or null when the trail is empty.
     */
    async checkpoint(): Promise<SignedCheckpoint | null> {
      const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
      const seq = Number(head.seq);
      if (seq === 0) return null;
      const signed = signer().sign({ seq, hash: head.hash, at: toStoredTime(clock.now()) });
      await db.insertInto('audit_checkpoints').values(signed).onConflict((oc) => oc.column('seq').doNothing()).execute();
      const stored = await db.selectFrom('audit_checkpoints').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
      return { ...stored, seq: Number(stored.seq) };
    },
  };
}

export type Checkpointer = ReturnType<typeof createCheckpointer>;

export interface CheckpointTimerOptions {
  db: Kysely<DB>;
  clock: Clock;
  checkpointer: Checkpointer;
  /** Sign once the head is this many events past the last checkpoint… */
  everyEvents: number;
  /** …or has moved at all and the last checkpoint (or this timer's start) is this old. */
  intervalMs: number;
  onError: (err: unknown) => void;
}

/**
 * Looks at the head every second (or every `intervalMs`, if shorter) and signs a checkpoint when
 * one is due. The last checkpoint is read from the database, so several instances share one
 * cadence; two signing the same head store it once.
 */
export function startCheckpointTimer({ db, clock, checkpointer, everyEvents, intervalMs, onError }: CheckpointTimerOptions) {
  const startedAt = clock.now().getTime();
  let running: Promise<void> | null = null;
  let stopped = false;
  // After a failure (an unreadable key, a database outage) the next try waits a whole interval.
  let retryAfter = 0;

  async function tick(): Promise<void> {
    const now = clock.now().getTime();
    if (now < retryAfter) return;
    try {
      const head = await db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirstOrThrow();
      const last = await latestCheckpoint(db);
      const moved = Number(head.seq) - (last?.seq ?? 0);
      const since = last ? Date.parse(last.at) : startedAt;
      if (moved > 0 && (moved >= everyEvents || now - since >= intervalMs)) await checkpointer.checkpoint();
    } catch (err) {
      retryAfter = now + intervalMs;
      onError(err);
    }
  }

  const timer = setInterval(() => {
    // A slow tick (a busy database) is not queued behind: the next one simply comes later.
    if (stopped || running) return;
    running = tick().finally(() => {
      running = null;
    });
  }, Math.min(intervalMs, 1000));
  timer.unref();

  return {
    /** Stops the timer and waits for a checkpoint being signed. */
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
