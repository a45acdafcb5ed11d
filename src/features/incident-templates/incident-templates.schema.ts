/** Incident template request and response schemas (Cachet 2.4's raw model; the write routes are new). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { NullableTimestamp, Timestamp, uint } from '../../http/schemas.js';
import { TEMPLATE_MAX_LENGTH } from './incident-templates.render.js';

const slug = Type.String({ minLength: 1, maxLength: 255, pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', description: 'Lower-case letters, digits and single dashes.' });
const template = Type.String({ minLength: 1, maxLength: TEMPLATE_MAX_LENGTH, description: 'Liquid source; variables are the incident request `vars` plus `incident`.' });

export const IncidentTemplateSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  slug: Type.String(),
  template: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  deleted_at: NullableTimestamp,
});
export type IncidentTemplate = Static<typeof IncidentTemplateSchema>;

export const CreateIncidentTemplateBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  template,
  /** Defaults to the slug of the name. */
  slug: Type.Optional(slug),
});
export type CreateIncidentTemplateInput = Static<typeof CreateIncidentTemplateBody>;

/** Every create field, optional: a PUT changes only what it names. */
export const UpdateIncidentTemplateBody = Type.Partial(CreateIncidentTemplateBody);
export type UpdateIncidentTemplateInput = Static<typeof UpdateIncidentTemplateBody>;

export const IncidentTemplateListQuery = Type.Object({
  ...listQueryProperties,
  id: Type.Optional(uint()),
  name: Type.Optional(Type.String({ maxLength: 255 })),
  slug: Type.Optional(Type.String({ maxLength: 255 })),
});

export const TEMPLATE_SORTABLE = ['id', 'name', 'slug'] as const;
