/** Component request and response schemas (Cachet 2.4 wire format). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { MetaObject, NullableTimestamp, Timestamp, int, uint } from '../../http/schemas.js';

export const COMPONENT_STATUS_NAMES = ['Unknown', 'Operational', 'Performance Issues', 'Partial Outage', 'Major Outage'] as const;

const status = Type.Integer({ minimum: 0, maximum: 4, description: '0 Unknown, 1 Operational, 2 Performance Issues, 3 Partial Outage, 4 Major Outage.' });
const link = Type.String({ maxLength: 2048, pattern: '^(|https?://\\S+)$', description: 'http(s) URL.' });
const tags = Type.Union([Type.String({ maxLength: 2000 }), Type.Array(Type.String({ maxLength: 255 }), { maxItems: 100 }), Type.Object({}, { additionalProperties: Type.String({ maxLength: 255 }) })], {
  description: 'Comma-separated names (or a list); replaces the tag set.',
});

export const ComponentSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Type.String(),
  link: Type.String(),
  status: Type.Integer(),
  order: Type.Integer(),
  group_id: Type.Integer(),
  enabled: Type.Boolean(),
  meta: Type.Union([MetaObject, Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  deleted_at: NullableTimestamp,
  status_name: Type.String(),
  tags: Type.Unknown({ description: 'Object slug → name, or [] when there are none (as Cachet 2.4).' }),
});
export type Component = Static<typeof ComponentSchema>;

export const CreateComponentBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  status,
  description: Type.Optional(Type.String({ maxLength: 65_535 })),
  link: Type.Optional(link),
  order: Type.Optional(int()),
  group_id: Type.Optional(uint()),
  enabled: Type.Optional(Type.Boolean()),
  meta: Type.Optional(MetaObject),
  tags: Type.Optional(tags),
});
export type CreateComponentInput = Static<typeof CreateComponentBody>;

/** Every create field, optional (a PUT changes only what it names), plus `silent`. */
export const UpdateComponentBody = Type.Object({
  ...Type.Partial(CreateComponentBody).properties,
  silent: Type.Optional(Type.Boolean({ description: 'true: a status change is not told to subscribers and webhooks.' })),
});
export type UpdateComponentInput = Static<typeof UpdateComponentBody>;

export const ComponentListQuery = Type.Object({
  ...listQueryProperties,
  id: Type.Optional(uint()),
  name: Type.Optional(Type.String({ maxLength: 255 })),
  status: Type.Optional(Type.Integer({ minimum: 0, maximum: 4 })),
  order: Type.Optional(Type.Union([Type.String({ pattern: '^([aA][sS][cC]|[dD][eE][sS][cC])$' }), int()])),
  group_id: Type.Optional(uint()),
  enabled: Type.Optional(Type.Boolean()),
  tags: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Array(Type.String({ maxLength: 255 }), { maxItems: 50 })])),
});

export const COMPONENT_SORTABLE = ['id', 'name', 'status', 'order', 'group_id', 'enabled'] as const;
