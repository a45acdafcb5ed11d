/**
 * A durable job queue in the database: work is enqueued in the transaction of the change that
 * causes it (so a rolled-back change leaves no job, and a committed one never loses its job), and
 * done outside any request by a worker in each instance. A worker takes jobs under a lease
 * (`locked_by`/`locked_until`): several instances share the queue (PostgreSQL skips rows another
 * instance has locked; SQLite runs one writer at a time), and a job whose worker died is taken
 * again once its lease runs out. Failures are retried with exponential backoff, up to a limit.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Dialect, Executor } from '../db/database.js';
import type { DB, JobTable } from '../db/schema.js';
import type { Clock } from './clock.js';
import { toStoredTime } from './time.js';

export type JobRow = Selectable<JobTable>;

export interface NewJob {
  kind: string;
  payload: unknown;
  /** Unique key: a job with the same one already enqueued makes this a no-op. */
  dedupe?: string;
  /** `held`: kept until released (the amplification guard). */
  status?: 'ready' | 'held';
  runAt?: Date;
  keyId?: number | null;
}

/** Enqueues `jobs` in the caller's transaction; returns how many were new (a duplicate `dedupe` adds nothing). */
export async function enqueue(trx: Executor, clock: Clock, jobs: readonly NewJob[]): Promise<number> {
  if (jobs.length === 0) return 0;
  const now = toStoredTime(clock.now());
  let added = 0;
  // In chunks: PostgreSQL takes at most 65,535 parameters per statement.
  for (let i = 0; i < jobs.length; i += 1000) {
    const rows = jobs.slice(i, i + 1000).map((job) => ({
      kind: job.kind,
      payload: JSON.stringify(job.payload),
      dedupe: job.dedupe ?? null,
      status: job.status ?? ('ready' as const),
      run_at: job.runAt ? toStoredTime(job.runAt) : now,
      key_id: job.keyId ?? null,
      created_at: now,
      updated_at: now,
    }));
    const result = await trx.insertInto('jobs').values(rows).onConflict((oc) => oc.column('dedupe').doNothing()).executeTakeFirst();
    added += Number(result.numInsertedOrUpdatedRows ?? 0n);
  }
  return added;
}

/** Retry delay after `attempts` failed attempts: 10 s doubling, at most an hour. */
export function backoffMs(attempts: number): number {
  return Math.min(3_600_000, 10_000 * 2 ** Math.max(0, attempts - 1));
}

export interface QueueOptions {
  db: Kysely<DB>;
  dialect: Dialect;
  clock: Clock;
  /** How long a taken job is this worker's before another may take it. */
  leaseMs?: number;
  /** Attempts before a job is given up (`dead`). */
  maxAttempts?: number;
}

export function createQueue(options: QueueOptions) {
  const { db, dialect, clock } = options;
  const leaseMs = options.leaseMs ?? 60_000;
  const maxAttempts = options.maxAttempts ?? 12;
  const holder = `${process.pid}-${randomUUID().slice(0, 8)}`;

  return {
    holder,
    maxAttempts,

    /** Takes up to `limit` due jobs of `kinds` under this worker's lease, oldest first. */
    async claim(kinds: readonly string[], limit: number): Promise<JobRow[]> {
      const now = clock.now();
      const at = toStoredTime(now);
      return db.transaction().execute(async (trx) => {
        let due = trx
          .selectFrom('jobs')
          .select('id')
          .where('status', '=', 'ready')
          .where('kind', 'in', [...kinds])
          .where('run_at', '<=', at)
          .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', at)]))
          .orderBy('id')
          .limit(limit);
        if (dialect === 'postgres') due = due.forUpdate().skipLocked();
        const ids = (await due.execute()).map((r) => r.id);
        if (ids.length === 0) return [];
        return trx
          .updateTable('jobs')
          .set((eb) => ({ locked_by: holder, locked_until: toStoredTime(new Date(now.getTime() + leaseMs)), attempts: eb('attempts', '+', 1), updated_at: at }))
          .where('id', 'in', ids)
          .returningAll()
          .execute()
          .then((rows) => rows.sort((a, b) => a.id - b.id));
      });
    },

    /** Marks a job this worker holds as done (`locked_by` is kept: who did it). */
    async complete(id: number): Promise<void> {
      const at = toStoredTime(clock.now());
      await db.updateTable('jobs').set({ status: 'done', done_at: at, locked_until: null, updated_at: at, last_error: null }).where('id', '=', id).where('locked_by', '=', holder).execute();
    },

    /** Records a failed attempt: retried after the backoff, or given up after `maxAttempts` (or at once when `final`). */
    async fail(job: JobRow, error: string, final = false): Promise<'retry' | 'dead'> {
      const now = clock.now();
      const dead = final || job.attempts >= maxAttempts;
      await db
        .updateTable('jobs')
        .set({
          status: dead ? 'dead' : 'ready',
          run_at: toStoredTime(new Date(now.getTime() + backoffMs(job.attempts))),
          last_error: error.slice(0, 1000),
          locked_by: null,
          locked_until: null,
          updated_at: toStoredTime(now),
        })
        .where('id', '=', job.id)
        .where('locked_by', '=', holder)
        .execute();
      return dead ? 'dead' : 'retry';
    },

    /** Held jobs (the amplification guard's batches), oldest first. */
    async held(executor: Executor = db): Promise<JobRow[]> {
      return executor.selectFrom('jobs').selectAll().where('status', '=', 'held').orderBy('id').execute();
    },

    /** Lets a held job run (`release`) or ends it unrun (`drop`); false when it is not held. */
    async decide(trx: Executor, id: number, decision: 'release' | 'drop'): Promise<JobRow | null> {
      const at = toStoredTime(clock.now());
      const row = await trx
        .updateTable('jobs')
        .set(decision === 'release' ? { status: 'ready', run_at: at, updated_at: at } : { status: 'dropped', done_at: at, updated_at: at })
        .where('id', '=', id)
        .where('status', '=', 'held')
        .returningAll()
        .executeTakeFirst();
      return row ?? null;
    },
  };
}

export type Queue = ReturnType<typeof createQueue>;

/** A failure that retrying cannot mend (the target is gone or disabled): the job is given up at once. */
export class FinalFailure extends Error {}

export type JobHandler = (job: JobRow) => Promise<void>;

export interface WorkerOptions {
  queue: Queue;
  handlers: Readonly<Record<string, JobHandler>>;
  /** Jobs worked on at once. */
  concurrency: number;
  /** How often the queue is looked at when idle (ms). */
  pollMs: number;
  onError: (err: unknown, job: JobRow | null) => void;
}

/**
 * Works the queue: takes due jobs of the handled kinds (up to `concurrency` at a time), runs each
 * job's handler, and completes it, or records the failure for a retry. `wake()` looks at the queue
 * now (after this process enqueued); other instances' jobs are found by polling.
 */
export function createWorker(options: WorkerOptions) {
  const { queue, handlers, concurrency, pollMs } = options;
  const kinds = Object.keys(handlers);
  const inflight = new Set<Promise<void>>();
  let running = false;
  let looping: Promise<void> | null = null;
  let poke: (() => void) | null = null;

  async function run(job: JobRow): Promise<void> {
    try {
      await handlers[job.kind]!(job);
      await queue.complete(job.id);
    } catch (err) {
      options.onError(err, job);
      const message = err instanceof Error ? err.message : String(err);
      await queue.fail(job, message, err instanceof FinalFailure).catch((failErr: unknown) => options.onError(failErr, job));
    }
  }

  /** Resolves after `ms`, or sooner when woken or when a running job ends. */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        poke = null;
        resolve();
      }
      poke = done;
      if (inflight.size >= concurrency) void Promise.race(inflight).then(done);
    });
  }

  async function loop(): Promise<void> {
    while (running) {
      const free = concurrency - inflight.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const jobs = await queue.claim(kinds, free);
          claimed = jobs.length;
          for (const job of jobs) {
            const task: Promise<void> = run(job).finally(() => inflight.delete(task));
            inflight.add(task);
          }
        } catch (err) {
          options.onError(err, null);
        }
      }
      // More may be due at once; otherwise wait for a poll, a wake-up or a free slot.
      if (claimed > 0 && claimed === free) continue;
      if (running) await pause(inflight.size >= concurrency ? pollMs * 10 : pollMs);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      looping = loop();
    },
    wake() {
      // After the enqueueing transaction commits (the caller is still inside it).
      setTimeout(() => poke?.(), 5).unref();
    },
    /** Stops taking jobs and waits for the running ones. */
    async stop() {
      running = false;
      poke?.();
      await looping;
      await Promise.all(inflight);
    },
    /** Jobs running now. */
    busy: () => inflight.size,
  };
}

export type Worker = ReturnType<typeof createWorker>;
