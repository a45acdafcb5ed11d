/** `last_used_at`/`last_used_ip`, collected in memory and written in batches: no database write on the request path. */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import { toStoredTime } from '../../infra/time.js';
import type { KeysRepo } from './keys.repo.js';

export function createUsageRecorder({ db, repo }: { db: Kysely<DB>; repo: KeysRepo }) {
  let pending = new Map<number, { at: Date; ip: string; firstAt: Date }>();
  let timer: NodeJS.Timeout | null = null;

  async function flush(): Promise<void> {
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    for (const [id, use] of batch) await repo.recordUse(db, id, toStoredTime(use.at), use.ip, toStoredTime(use.firstAt));
  }

  return {
    /** Notes that key `id` was used from `ip` at `at` (the latest use wins; the earliest is kept as a possible first use). */
    record(this: void, id: number, ip: string, at: Date): void {
      const earlier = pending.get(id);
      pending.set(id, { at, ip, firstAt: earlier && earlier.firstAt < at ? earlier.firstAt : at });
    },
    flush,
    start(intervalMs: number, onError: (err: unknown) => void): void {
      timer = setInterval(() => void flush().catch(onError), intervalMs);
      timer.unref();
    },
    /** Stops the timer and writes what is pending. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await flush();
    },
  };
}

export type UsageRecorder = ReturnType<typeof createUsageRecorder>;
