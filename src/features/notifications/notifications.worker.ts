/**
 * The notification jobs: a fan-out expands one event into one `notify` job per subscriber who
 * should hear of it and one `webhook` job per target; a `notify` job renders and sends one mail;
 * a `mail` job sends a mail rendered when it was enqueued (verification). Each unit is its own
 * job with a unique key (`notify:<event>:<subscriber>`), so a crash or a retry of the fan-out never
 * doubles one, and one failing address or target never holds up the rest.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../../db/schema.js';
import type { Clock } from '../../infra/clock.js';
import { enqueue, FinalFailure, type JobRow, type NewJob } from '../../infra/queue.js';
import { deliverWebhook, webhookTargets, type WebhookDeliveryDeps } from '../webhooks/webhooks.delivery.js';
import { WEBHOOK_ONLY, type NotificationEvent } from './notifications.events.js';
import { FANOUT } from './notifications.joiner.js';
import { manageLink, unsubscribeLink } from './notifications.links.js';
import { notificationMail, type MailMessage } from './notifications.mail.js';
import type { Mailer } from './notifications.mailer.js';

export const NOTIFY = 'notify';
export const MAIL = 'mail';
export const WEBHOOK = 'webhook';

/** Fan-out events kept in memory while their mails are sent (each `notify` job names its fan-out). */
const EVENT_CACHE = 64;

export interface NotificationJobsDeps {
  db: Kysely<DB>;
  clock: Clock;
  pepper: Buffer;
  publicUrl: string;
  siteName: () => Promise<string>;
  mailer: Mailer;
  webhooks: WebhookDeliveryDeps;
  logger: Logger;
  /** Marks a job done (the queue's): a mail's job is completed before the server may take the mail. */
  complete: (id: number) => Promise<void>;
}

export function notificationJobs(deps: NotificationJobsDeps) {
  const { db, clock } = deps;
  const events = new Map<number, NotificationEvent>();

  async function eventOf(fanoutId: number): Promise<NotificationEvent | null> {
    const cached = events.get(fanoutId);
    if (cached) return cached;
    const row = await db.selectFrom('jobs').select('payload').where('id', '=', fanoutId).executeTakeFirst();
    if (!row) return null;
    const event = (JSON.parse(row.payload) as { event: NotificationEvent }).event;
    if (events.size >= EVENT_CACHE) events.delete(events.keys().next().value!);
    events.set(fanoutId, event);
    return event;
  }

  /** Verified subscribers who should hear of an event: everyone subscribed to all, and the event's component's subscribers. */
  async function audienceOf(event: NotificationEvent): Promise<number[]> {
    let query = db.selectFrom('subscribers').select('id').where('verified_at', 'is not', null);
    if (event.component_id !== null) {
      const componentId = event.component_id;
      query = query.where((eb) =>
        eb.or([eb('global', '=', 1), eb('id', 'in', eb.selectFrom('subscriptions').select('subscriber_id').where('component_id', '=', componentId))]),
      );
    }
    return (await query.orderBy('id').execute()).map((r) => r.id);
  }

  return {
    async [FANOUT](job: JobRow): Promise<void> {
      const { event } = JSON.parse(job.payload) as { event: NotificationEvent };
      const jobs: NewJob[] = [];
      if (!WEBHOOK_ONLY.has(event.type)) {
        for (const subscriber of await audienceOf(event)) {
          jobs.push({ kind: NOTIFY, payload: { fanout: job.id, subscriber }, dedupe: `notify:${event.id}:${subscriber}` });
        }
      }
      for (const target of await webhookTargets(db, event.type)) {
        jobs.push({ kind: WEBHOOK, payload: { fanout: job.id, webhook: target.id }, dedupe: `webhook:${event.id}:${target.id}` });
      }
      await db.transaction().execute((trx) => enqueue(trx, clock, jobs));
    },

    async [NOTIFY](job: JobRow): Promise<void> {
      const { fanout, subscriber } = JSON.parse(job.payload) as { fanout: number; subscriber: number };
      const event = await eventOf(fanout);
      if (!event) throw new FinalFailure(`the event of fan-out ${fanout} is gone`);
      // Read now: an address that unsubscribed after the fan-out is not mailed.
      const row = await db.selectFrom('subscribers').select(['id', 'email', 'verify_code', 'verified_at']).where('id', '=', subscriber).executeTakeFirst();
      if (!row || row.verified_at === null) return;
      const message = notificationMail({ name: await deps.siteName(), publicUrl: deps.publicUrl }, event, row, {
        manage: manageLink(deps.publicUrl, deps.pepper, row),
        unsubscribe: unsubscribeLink(deps.publicUrl, deps.pepper, row),
      });
      await deps.mailer.send(message, () => deps.complete(job.id));
    },

    async [MAIL](job: JobRow): Promise<void> {
      await deps.mailer.send(JSON.parse(job.payload) as MailMessage, () => deps.complete(job.id));
    },

    async [WEBHOOK](job: JobRow): Promise<void> {
      const { fanout, webhook } = JSON.parse(job.payload) as { fanout: number; webhook: number };
      const event = await eventOf(fanout);
      if (!event) throw new FinalFailure(`the event of fan-out ${fanout} is gone`);
      const result = await deliverWebhook(deps.webhooks, webhook, event, job.attempts);
      if (!result.ok) throw result.retry ? new Error(result.error) : new FinalFailure(result.error);
    },
  };
}
