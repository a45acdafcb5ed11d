/**
 * Enqueues a subscriber's verification mail in the caller's transaction: the status page's
 * subscribe form and the API's `POST /api/v1/subscribers` (without `verify: true`) both use it, so
 * the subscriber and its mail commit together or not at all.
 */
import { createHash } from 'node:crypto';
import type { Executor } from '../../db/database.js';
import type { Clock } from '../../infra/clock.js';
import { enqueue } from '../../infra/queue.js';
import { VERIFY_LINK_TTL_MS, verifyLink } from './notifications.links.js';
import { verificationMail } from './notifications.mail.js';

/** What a verification needs of a subscriber. */
export interface VerifiableSubscriber {
  id: number;
  email: string;
  verify_code: string;
}

export interface VerificationDeps {
  /** Keys the link's signature. */
  pepper: Buffer;
  clock: Clock;
  /** `CACHET_PUBLIC_URL`. */
  publicUrl: string;
  /** The status page's current name, read in the caller's transaction. */
  siteName: (db: Executor) => Promise<string>;
  /** How long the link works; 7 days by default. */
  ttlMs?: number;
}

/**
 * Enqueues the verification mail of `subscriber` in `trx` (`keyId`: the key whose request caused it);
 * returns 1, or 0 when this subscriber's mail for its current `verify_code` is already enqueued.
 */
export type SendVerification = (trx: Executor, subscriber: VerifiableSubscriber, keyId?: number | null) => Promise<number>;

/** Creates the verification sender. */
export function createVerificationSender({ pepper, clock, publicUrl, siteName, ttlMs = VERIFY_LINK_TTL_MS }: VerificationDeps): SendVerification {
  return async (trx, subscriber, keyId = null) => {
    const link = verifyLink(publicUrl, pepper, subscriber, new Date(clock.now().getTime() + ttlMs));
    const message = verificationMail({ name: await siteName(trx), publicUrl }, subscriber, link);
    // One mail per code: a new code (a re-subscribe) is a new mail. The code itself stays in its table.
    const code = createHash('sha256').update(subscriber.verify_code, 'utf8').digest('hex').slice(0, 32);
    return enqueue(trx, clock, [{ kind: 'mail', payload: message, dedupe: `verify:${subscriber.id}:${code}`, keyId }]);
  };
}
