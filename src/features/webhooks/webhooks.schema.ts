/** Outbound webhook request and response schemas (`/api/v1/webhooks`). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';
import { EVENT_TYPES } from '../notifications/notifications.events.js';

/** What a webhook's `events` may list: event types, or `*` for every one (present and future). */
export const WEBHOOK_EVENT_CHOICES = ['*', ...EVENT_TYPES] as const;

/** Longest accepted target URL. */
export const WEBHOOK_URL_MAX = 2000;

const name = Type.String({ minLength: 1, maxLength: 255 });
const url = Type.String({
  maxLength: WEBHOOK_URL_MAX,
  description: 'Where deliveries are POSTed: an http or https URL without credentials. Private, loopback and link-local addresses are refused unless the server sets CACHET_WEBHOOK_ALLOW_PRIVATE.',
});
// Strings here: the service names an unknown event type in its refusal.
const events = Type.Array(Type.String({ maxLength: 64 }), {
  maxItems: 32,
  description: `Event types to deliver (${EVENT_TYPES.join(', ')}), or \`["*"]\` for all.`,
});
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const WebhookSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  failures: Type.Integer({ description: 'Failed deliveries in a row; at 20 the webhook is disabled.' }),
  disabled_at: NullableTimestamp,
  disabled_reason: Nullable(Type.String({ description: 'Why it was disabled (by an operator, or after failing deliveries).' })),
  signing_secrets: Type.Array(
    Type.Object({ created_at: Timestamp, expires_at: NullableTimestamp }),
    { description: 'The secrets that sign deliveries now, newest first (never their values): more than one during a secret rotation.' },
  ),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Webhook = Static<typeof WebhookSchema>;

/** A webhook with its new signing secret, shown in this answer only. */
export const WebhookWithSecretSchema = Type.Object({
  data: WebhookSchema,
  meta: Type.Object({
    secret: Type.String({ description: 'Shown once: the `whsec_…` signing secret the consumer verifies deliveries with (Standard Webhooks). Store it now.' }),
  }),
});

export const CreateWebhookBody = Type.Object({ name, url, events });
export type CreateWebhookInput = Static<typeof CreateWebhookBody>;

/** Every create field optional, and `enabled`: a PUT changes only what it names. */
export const UpdateWebhookBody = Type.Object({
  name: Type.Optional(name),
  url: Type.Optional(url),
  events: Type.Optional(events),
  enabled: Type.Optional(Type.Boolean({ description: 'false stops deliveries; true resumes them and clears the failure count.' })),
});
export type UpdateWebhookInput = Static<typeof UpdateWebhookBody>;

export const RotateWebhookSecretBody = Type.Object({
  grace: Type.Optional(Type.String({ maxLength: 20, description: 'How long the previous secrets keep signing beside the new one (default `24h`, at most `30d`).' })),
});

export const WebhookListQuery = Type.Object({ ...listQueryProperties });

export const WEBHOOK_SORTABLE = ['id', 'name', 'enabled', 'failures', 'created_at'] as const;

export const WebhookDeliverySchema = Type.Object({
  id: Type.Integer(),
  webhook_id: Type.Integer(),
  event_id: Type.String({ description: 'The event, and the delivery\'s `webhook-id` (the same on every retry).' }),
  event_type: Type.String(),
  attempt: Type.Integer({ description: '1 for the first try, then each retry.' }),
  status: Type.Union([Type.Integer(), Type.Null()], { description: 'The HTTP status answered; null when there was no answer.' }),
  error: Nullable(Type.String({ description: 'Why the attempt failed; null when it succeeded.' })),
  response: Nullable(Type.String({ description: 'The start of the response body (at most 1,000 characters).' })),
  duration_ms: Type.Integer(),
  at: Timestamp,
});
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>;
