/** Incident request and response schemas (Cachet 2.4 wire format). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { MetaObject, NullableTimestamp, Timestamp, uint } from '../../http/schemas.js';
import { IncidentUpdateSchema, MESSAGE_MAX_LENGTH } from './incident-updates.schema.js';

/** Labels of incident (and update) statuses 0–4. */
export const INCIDENT_STATUS_NAMES = ['Scheduled', 'Investigating', 'Identified', 'Watching', 'Fixed'] as const;

/** Cachet 2.4's icon classes for statuses 0–4 (IncidentPresenter). */
export const INCIDENT_STATUS_ICONS = [
  'icon ion-android-calendar',
  'icon ion-alert-circled',
  'icon ion-bug',
  'icon ion-eye',
  'icon ion-checkmark-circled greens',
] as const;

/** The status that closes an incident. */
export const FIXED = 4;

const status = Type.Integer({ minimum: 0, maximum: 4, description: '0 Scheduled, 1 Investigating, 2 Identified, 3 Watching, 4 Fixed.' });
const componentStatus = Type.Integer({ minimum: 0, maximum: 4, description: 'New status of `component_id` (required with it).' });
const occurredAt = Type.String({ maxLength: 64, description: 'Y-m-d H:i, Y-m-d H:i:s or ISO 8601; wall times are in the Time-Zone header zone. Default now.' });
const message = Type.String({ maxLength: MESSAGE_MAX_LENGTH, description: 'Markdown; required unless `template` renders it.' });
const templateSlug = Type.String({ minLength: 1, maxLength: 255, description: 'Slug of an incident template that renders `message`.' });
// Responses render empty meta as [] (Cachet 2.4), so a client echoing an incident back sends [].
const metaInput = (description: string) => Type.Union([MetaObject, Type.Array(Type.Unknown(), { maxItems: 0 })], { description });
const vars = Type.Object({}, { additionalProperties: true, description: 'Template variables; `incident` is always the incident itself.' });

export const IncidentSchema = Type.Object({
  id: Type.Integer(),
  component_id: Type.Integer(),
  name: Type.String(),
  status: Type.Integer(),
  visible: Type.Integer({ description: '0 key holders only, 1 everyone.' }),
  stickied: Type.Boolean(),
  notifications: Type.Boolean(),
  message: Type.String(),
  user_id: Type.Union([Type.Integer(), Type.Null()], { description: 'Always null: API keys are not users (the audit trail names the key).' }),
  occurred_at: Timestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
  deleted_at: NullableTimestamp,
  is_resolved: Type.Boolean(),
  updates: Type.Array(IncidentUpdateSchema, { description: 'Newest first.' }),
  meta: Type.Unknown({ description: 'Object key → value, or [] when there is none (as Cachet 2.4).' }),
  human_status: Type.String(),
  latest_update_id: Type.Union([Type.Integer(), Type.Null()]),
  latest_status: Type.Integer({ description: 'Status of the newest update, else of the incident.' }),
  latest_human_status: Type.String(),
  latest_icon: Type.String(),
  permalink: Type.String(),
  duration: Type.Integer({ description: 'Seconds from occurred_at until it was fixed, or until now.' }),
});
export type Incident = Static<typeof IncidentSchema>;

export const CreateIncidentBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  status,
  message: Type.Optional(message),
  visible: Type.Optional(Type.Boolean({ description: 'Shown to guests; default true.' })),
  stickied: Type.Optional(Type.Boolean({ description: 'Default false.' })),
  notify: Type.Optional(Type.Boolean({ description: 'Stored as `notifications`; default true.' })),
  component_id: Type.Optional(uint()),
  component_status: Type.Optional(componentStatus),
  occurred_at: Type.Optional(occurredAt),
  template: Type.Optional(templateSlug),
  vars: Type.Optional(vars),
  meta: Type.Optional(metaInput('Free-form object; keys with an empty value ("" or null) are not stored.')),
});
export type CreateIncidentInput = Static<typeof CreateIncidentBody>;

/** Every create field, optional (a PUT changes only what it names); `component_id: 0` unlinks and `meta` merges. */
export const UpdateIncidentBody = Type.Object({
  ...Type.Partial(CreateIncidentBody).properties,
  component_id: Type.Optional(uint({ description: '0 unlinks the component.' })),
  meta: Type.Optional(metaInput('Merged by key; a key with an empty value ("" or null) is removed.')),
});
export type UpdateIncidentInput = Static<typeof UpdateIncidentBody>;

export const IncidentListQuery = Type.Object({
  ...listQueryProperties,
  id: Type.Optional(uint()),
  component_id: Type.Optional(uint()),
  name: Type.Optional(Type.String({ maxLength: 255 })),
  status: Type.Optional(Type.Integer({ minimum: 0, maximum: 4 })),
  visible: Type.Optional(Type.Boolean()),
  stickied: Type.Optional(Type.Boolean()),
});

export const INCIDENT_SORTABLE = ['id', 'name', 'status', 'visible', 'stickied', 'message', 'occurred_at'] as const;
