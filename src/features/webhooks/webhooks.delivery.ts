/**
 * Delivering one notification event to one webhook, as a queue job does: a JSON body signed with
 * every secret that signs now (Standard Webhooks and `X-Cachet-Signature`), POSTed through the
 * address-checking outbound client, each attempt written to the delivery log, and a webhook that
 * keeps failing disabled, logged and audited. Nothing here throws for a failed delivery: the result
 * says whether the queue should try again.
 */
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Executor } from '../../db/database.js';
import type { DB } from '../../db/schema.js';
import type { Clock } from '../../infra/clock.js';
import { OutboundError, postForAnswer } from '../../infra/outbound.js';
import { toStoredTime } from '../../infra/time.js';
import { createAudited } from '../audit/audited.js';
import { systemContext } from '../audit/audit.types.js';
import type { AuditWriter } from '../audit/audit.writer.js';
import { webhookSignatures } from '../keys/keys.delivery.js';
import type { NotificationEvent } from '../notifications/notifications.events.js';
import { activeSecrets, createWebhooksRepo, parseEvents, parseSecrets } from './webhooks.repo.js';
import { recordWebhookChange } from './webhooks.service.js';

/** Failed deliveries in a row after which a webhook is disabled (an operator re-enables it). */
export const WEBHOOK_DISABLE_AFTER = 20;

/** The `user-agent` of every delivery. */
export const WEBHOOK_USER_AGENT = 'Cachet-TS-Webhooks';

/** The audit actor of a webhook disabled for failing. */
const ACTOR = 'cachet notifications';

export interface WebhookDeliveryDeps {
  db: Kysely<DB>;
  clock: Clock;
  /** `CACHET_WEBHOOK_ALLOW_PRIVATE`: the resolved address may be private, loopback or link-local. */
  allowPrivate: boolean;
  /** Longest one attempt may take, connection included. */
  timeoutMs: number;
  /** Told (at error level) when a webhook is disabled for failing. */
  logger: Pick<Logger, 'error'>;
  /** Writes the audit event of a webhook disabled for failing. */
  writer: AuditWriter;
}

/** An attempt's outcome for the queue: `retry` false when trying again cannot help (the webhook is gone or disabled). */
export type WebhookDeliveryResult = { ok: true } | { ok: false; error: string; retry: boolean };

/** A webhook an event goes to. */
export interface WebhookTarget {
  id: number;
  name: string;
}

const repo = createWebhooksRepo();

/** The enabled webhooks that want `eventType` (listed, or `*`), by id. */
export async function webhookTargets(db: Executor, eventType: string): Promise<WebhookTarget[]> {
  const rows = await repo.enabled(db);
  return rows
    .filter((row) => {
      const events = parseEvents(row.events);
      return events.includes('*') || events.includes(eventType);
    })
    .map((row) => ({ id: row.id, name: row.name }));
}

/** The JSON body of an event's delivery. */
export function webhookBody(event: NotificationEvent): string {
  return JSON.stringify({ id: event.id, type: event.type, timestamp: event.at, data: event });
}

/** The origin of a stored URL, for messages (a path or query may carry a consumer's own secret). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the target';
  }
}

/**
 * Delivers `event` to webhook `webhookId` as attempt number `attempt` (1 first, then each retry;
 * `webhook-id` is the event's id every time, so a consumer can drop a duplicate). A 2xx answer
 * clears the webhook's failure count; anything else adds one, and the failure that reaches
 * WEBHOOK_DISABLE_AFTER disables it. Every failure but a gone or disabled webhook asks for a
 * retry, 4xx included: the consumer may be fixed meanwhile.
 *
 * @example
 * const result = await deliverWebhook(deps, job.webhookId, job.event, job.attempts + 1);
 * if (!result.ok && result.retry) throw new Error(result.error); // the queue backs off and retries
 */
export async function deliverWebhook(deps: WebhookDeliveryDeps, webhookId: number, event: NotificationEvent, attempt: number): Promise<WebhookDeliveryResult> {
  const { db, clock } = deps;
  const webhook = await repo.find(db, webhookId);
  if (!webhook) return { ok: false, error: `webhook ${webhookId} no longer exists`, retry: false };
  if (webhook.enabled !== 1) return { ok: false, error: `webhook ${webhookId} is disabled`, retry: false };

  const now = clock.now();
  const body = webhookBody(event);
  const secrets = activeSecrets(parseSecrets(webhook.secrets), now).map((s) => s.secret);
  // Cannot happen through the service (the newest secret never expires), but a hand-edited row could.
  if (secrets.length === 0) return { ok: false, error: `webhook ${webhookId} has no signing secret in force: rotate its secret`, retry: false };
  const headers = {
    ...webhookSignatures(secrets, event.id, Math.floor(now.getTime() / 1000), body),
    'content-type': 'application/json',
    'user-agent': WEBHOOK_USER_AGENT,
  };
  const started = performance.now();
  let status: number | null = null;
  let response: string | null = null;
  let error: string | null = null;
  try {
    const answer = await postForAnswer(new URL(webhook.url), body, headers, { allowPrivate: deps.allowPrivate, timeoutMs: deps.timeoutMs });
    status = answer.status;
    response = answer.body;
    if (status < 200 || status > 299) error = `answered ${status}`;
  } catch (err) {
    error = err instanceof OutboundError ? err.message : 'the request failed';
  }
  const durationMs = Math.round(performance.now() - started);
  const ok = error === null;

  // The log row, the count and a disabling commit together; the disabling's event joins them.
  const audited = createAudited(db, deps.writer);
  const disabled = await audited(systemContext(ACTOR), async (trx) => {
    const counted = await repo.countOutcome(trx, webhookId, ok);
    // Deleted while the request was out: its log went with it, so this attempt is not logged either.
    if (!counted) return null;
    const at = toStoredTime(clock.now());
    await repo.insertDelivery(trx, {
      webhook_id: webhookId,
      event_id: event.id,
      event_type: event.type,
      attempt,
      status,
      error,
      response,
      duration_ms: durationMs,
      at,
    });
    if (ok || counted.failures < WEBHOOK_DISABLE_AFTER) return null;
    const reason = `Disabled after ${counted.failures} failed deliveries in a row; the last: ${error}.`;
    const after = await repo.disable(trx, webhookId, at, reason);
    if (!after) return null;
    recordWebhookChange(trx, webhookId, counted, after);
    return after;
  });

  if (disabled) {
    deps.logger.error(
      { webhook: { id: disabled.id, name: disabled.name, origin: originOf(disabled.url) }, failures: disabled.failures },
      `webhook "${disabled.name}" (id ${disabled.id}) disabled after ${disabled.failures} failed deliveries in a row; enable it again once ${originOf(disabled.url)} answers`,
    );
  }
  if (ok) return { ok: true };
  return { ok: false, error: `webhook ${webhookId} (${originOf(webhook.url)}): ${error}`, retry: disabled === null };
}
