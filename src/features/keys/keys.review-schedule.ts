/**
 * The scheduled key review: every `intervalMs` (one instance at a time, through a lease, and once
 * per interval across restarts, through a row in `settings`), every key is reviewed and the
 * findings go to the log and, as a `keys.review` event, to webhooks that subscribe to it.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../../db/schema.js';
import type { Clock } from '../../infra/clock.js';
import { databaseLease } from '../../infra/lease.js';
import { enqueue } from '../../infra/queue.js';
import { toStoredTime } from '../../infra/time.js';
import { uuidv7 } from '../../infra/uuid.js';
import type { NotificationEvent } from '../notifications/notifications.events.js';
import { FANOUT } from '../notifications/notifications.joiner.js';
import { reviewKeys, type KeyReview } from './keys.review.js';

const LAST_RUN = 'review.last_run_at';
/** The window a scheduled review looks at. */
export const SCHEDULED_REVIEW_DAYS = 30;

export interface ReviewScheduleDeps {
  db: Kysely<DB>;
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  rotationAgeMs: number;
  holder: string;
  wake?: () => void;
}

/** The summary a review's event and log line carry. */
export function reviewSummary(reviews: readonly KeyReview[]) {
  const worst = (r: KeyReview) => (r.findings.some((f) => f.severity === 'high') ? 'high' : r.findings.some((f) => f.severity === 'medium') ? 'medium' : r.findings.length > 0 ? 'low' : null);
  const lines = reviews.flatMap((r) => r.findings.filter((f) => f.severity !== 'low').map((f) => `key ${r.id} (${r.prefix}…): ${f.code}: ${f.reason}`));
  return {
    keys_reviewed: reviews.length,
    high: reviews.filter((r) => worst(r) === 'high').length,
    medium: reviews.filter((r) => worst(r) === 'medium').length,
    low: reviews.filter((r) => worst(r) === 'low').length,
    lines,
  };
}

export function createReviewSchedule(deps: ReviewScheduleDeps) {
  const { db, clock, logger } = deps;
  const lease = databaseLease(db, { name: 'keys-review', holder: deps.holder, ttlMs: 10 * 60_000, clock });

  return {
    /** Runs the review when it is due (and this instance holds the lease); true when it ran. */
    async runIfDue(): Promise<boolean> {
      if (deps.intervalMs <= 0) return false;
      const now = clock.now();
      const last = await db.selectFrom('settings').select('value').where('name', '=', LAST_RUN).executeTakeFirst();
      if (last && Date.parse(last.value) + deps.intervalMs > now.getTime()) return false;
      if (!(await lease.acquire())) return false;
      try {
        const reviews = await reviewKeys(db, { now, days: SCHEDULED_REVIEW_DAYS, rotationAgeMs: deps.rotationAgeMs });
        const summary = reviewSummary(reviews);
        for (const line of summary.lines) logger.warn({ review: true }, `key review: ${line}`);
        logger.info({ review: true, ...summary, lines: undefined }, `key review: ${summary.keys_reviewed} keys, ${summary.high} with high, ${summary.medium} with medium, ${summary.low} with low findings (cachet keys review)`);
        const event: NotificationEvent = { id: uuidv7(), type: 'keys.review', at: toStoredTime(now), component_id: null, review: { days: SCHEDULED_REVIEW_DAYS, ...summary } };
        await db.transaction().execute(async (trx) => {
          await enqueue(trx, clock, [{ kind: FANOUT, payload: { event }, dedupe: `fanout:${event.id}` }]);
          await trx.insertInto('settings').values({ name: LAST_RUN, value: toStoredTime(now) }).onConflict((oc) => oc.column('name').doUpdateSet({ value: toStoredTime(now) })).execute();
        });
        deps.wake?.();
        return true;
      } finally {
        await lease.release();
      }
    },
  };
}
