/** Schedule (planned maintenance) request and response schemas (Cachet 2.4 wire format). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { NullableTimestamp, Timestamp } from '../../http/schemas.js';

export const SCHEDULE_STATUS_NAMES = ['Upcoming', 'In Progress', 'Complete'] as const;

const name = Type.String({ minLength: 1, maxLength: 255 });
const message = Type.String({ maxLength: 65_535, description: 'Markdown.' });
const status = Type.Integer({ minimum: 0, maximum: 2, description: '0 Upcoming, 1 In Progress, 2 Complete.' });
const dateText = (description: string, minLength = 0) => Type.String({ minLength, maxLength: 64, description });
const DATE_FORMS = '`Y-m-d H:i`, `Y-m-d H:i:s`, `Y-m-d` (in the Time-Zone header zone) or ISO 8601';
// Cachet 2.4 validates `components` and then drops it; clients still send it, so it is accepted and ignored.
const components = Type.Union([Type.Array(Type.Unknown(), { maxItems: 1000 }), Type.Object({}, { additionalProperties: true })], {
  description: 'Accepted for Cachet 2.x compatibility and ignored (Cachet 2.4 ignores it too).',
});

export const ScheduleSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  message: Type.String(),
  status: Type.Integer(),
  scheduled_at: Timestamp,
  completed_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
  deleted_at: NullableTimestamp,
  components: Type.Array(Type.Unknown(), { description: 'Always empty, as in Cachet 2.4.' }),
  human_status: Type.String(),
});
export type Schedule = Static<typeof ScheduleSchema>;

export const CreateScheduleBody = Type.Object({
  name,
  message: Type.Optional(message),
  status,
  scheduled_at: dateText(`When the maintenance starts: ${DATE_FORMS}.`, 1),
  completed_at: Type.Optional(dateText(`When it ended: ${DATE_FORMS}.`)),
  components: Type.Optional(components),
  notify: Type.Optional(Type.Boolean({ description: 'false: subscribers and webhooks are not told of this maintenance (default true).' })),
});
export type CreateScheduleInput = Static<typeof CreateScheduleBody>;

export const UpdateScheduleBody = Type.Object({
  name: Type.Optional(name),
  message: Type.Optional(message),
  status: Type.Optional(status),
  scheduled_at: Type.Optional(dateText(DATE_FORMS)),
  completed_at: Type.Optional(dateText(`${DATE_FORMS}; an empty string clears it.`)),
  components: Type.Optional(components),
  notify: Type.Optional(Type.Boolean({ description: 'false: subscribers and webhooks are not told of this change (default true).' })),
});
export type UpdateScheduleInput = Static<typeof UpdateScheduleBody>;

export const ScheduleListQuery = Type.Object({ ...listQueryProperties });

export const SCHEDULE_SORTABLE = ['id', 'name', 'status', 'scheduled_at', 'completed_at', 'created_at', 'updated_at'] as const;
