/** Component group request and response schemas (Cachet 2.4 wire format). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { Timestamp, int, uint } from '../../http/schemas.js';
import { ComponentSchema } from '../components/components.schema.js';

const collapsed = Type.Integer({ minimum: 0, maximum: 4, description: '0 never, 1 always, 2 unless a component is not operational.' });

export const ComponentGroupSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  order: Type.Integer(),
  collapsed: Type.Integer(),
  visible: Type.Integer({ description: '0 key holders only, 1 everyone.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
  enabled_components: Type.Array(ComponentSchema),
  enabled_components_lowest: Type.Array(ComponentSchema),
  lowest_human_status: Type.Union([Type.String(), Type.Null()]),
});
export type ComponentGroup = Static<typeof ComponentGroupSchema>;

export const CreateComponentGroupBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  order: Type.Optional(int()),
  collapsed: Type.Optional(collapsed),
  visible: Type.Optional(Type.Boolean({ description: 'Shown to guests; default false, as in Cachet.' })),
});
export type CreateComponentGroupInput = Static<typeof CreateComponentGroupBody>;

/** Every create field, optional: a PUT changes only what it names. */
export const UpdateComponentGroupBody = Type.Partial(CreateComponentGroupBody);
export type UpdateComponentGroupInput = Static<typeof UpdateComponentGroupBody>;

export const ComponentGroupListQuery = Type.Object({
  ...listQueryProperties,
  id: Type.Optional(uint()),
  name: Type.Optional(Type.String({ maxLength: 255 })),
  order: Type.Optional(Type.Union([Type.String({ pattern: '^([aA][sS][cC]|[dD][eE][sS][cC])$' }), int()])),
  collapsed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4 })),
  visible: Type.Optional(Type.Boolean()),
});

export const GROUP_SORTABLE = ['id', 'name', 'order', 'collapsed', 'visible'] as const;
