/** Subscriber and subscription request and response schemas (Cachet 2.4 wire format, minus `verify_code`). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { Timestamp, uint } from '../../http/schemas.js';

/** Most component ids one request may name; keeps the `IN (…)` list well inside both dialects' parameter limits. */
export const MAX_COMPONENTS = 1000;

export const SubscriptionSchema = Type.Object({
  id: Type.Integer(),
  subscriber_id: Type.Integer(),
  component_id: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Subscription = Static<typeof SubscriptionSchema>;

// Every field is declared because the serialiser drops undeclared ones: that is what keeps
// `verify_code` (which Cachet 2.4 leaked) out of every response.
export const SubscriberSchema = Type.Object({
  id: Type.Integer(),
  email: Type.String(),
  phone_number: Type.Union([Type.String(), Type.Null()]),
  slack_webhook_url: Type.Union([Type.String(), Type.Null()]),
  global: Type.Boolean({ description: 'True when subscribed without naming components.' }),
  verified_at: Type.Union([Timestamp, Type.Null()], { description: 'When the subscriber was verified; null while unverified.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
  subscriptions: Type.Array(SubscriptionSchema),
});
export type Subscriber = Static<typeof SubscriberSchema>;

export const CreateSubscriberBody = Type.Object({
  // Checked by the service after trimming, so surrounding spaces are forgiven rather than refused.
  email: Type.String({ maxLength: 320, description: 'Email address; trimmed and lower-cased, matched case-insensitively.' }),
  verify: Type.Optional(Type.Boolean({ description: 'Mark as verified now (default false).' })),
  // The string branch comes first: with Ajv's array coercion a one-item list becomes that item, which the
  // comma-separated parser reads the same way, and a longer list fails it without being altered.
  components: Type.Optional(
    Type.Union([Type.String({ maxLength: 12_000 }), Type.Array(uint(), { maxItems: MAX_COMPONENTS })], {
      description: 'Component ids to subscribe to: a list, a comma-separated string, or `components[]=1` form fields. Default: every component.',
    }),
  ),
});
export type CreateSubscriberInput = Static<typeof CreateSubscriberBody>;

export const SubscriberListQuery = Type.Object({ ...listQueryProperties });

export const SUBSCRIBER_SORTABLE = ['id', 'email', 'created_at', 'updated_at'] as const;
