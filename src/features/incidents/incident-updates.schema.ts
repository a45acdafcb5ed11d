/** Incident update request and response schemas (Cachet 2.4 wire format). */
import { Type, type Static } from 'typebox';
import { listQueryProperties } from '../../http/list.js';
import { Timestamp } from '../../http/schemas.js';

/** Longest incident or update message (Markdown), in characters. */
export const MESSAGE_MAX_LENGTH = 65_535;

const status = Type.Integer({ minimum: 1, maximum: 4, description: '1 Investigating, 2 Identified, 3 Watching, 4 Fixed; the incident takes this status.' });
const message = Type.String({ minLength: 1, maxLength: MESSAGE_MAX_LENGTH, description: 'Markdown.' });

export const IncidentUpdateSchema = Type.Object({
  id: Type.Integer(),
  incident_id: Type.Integer(),
  status: Type.Integer(),
  message: Type.String(),
  user_id: Type.Union([Type.Integer(), Type.Null()], { description: 'Always null: API keys are not users (the audit trail names the key).' }),
  created_at: Timestamp,
  updated_at: Timestamp,
  human_status: Type.String(),
  permalink: Type.String({ description: 'Status-page URL of the incident, anchored at this update.' }),
});
export type IncidentUpdate = Static<typeof IncidentUpdateSchema>;

export const CreateIncidentUpdateBody = Type.Object({ status, message });
export type CreateIncidentUpdateInput = Static<typeof CreateIncidentUpdateBody>;

export const UpdateIncidentUpdateBody = Type.Object({ status: Type.Optional(status), message: Type.Optional(message) });
export type UpdateIncidentUpdateInput = Static<typeof UpdateIncidentUpdateBody>;

export const IncidentUpdateListQuery = Type.Object({ ...listQueryProperties });

/** `{id}` of the incident and `{update}` of one of its updates. */
export const IncidentUpdateParams = Type.Object({ id: Type.String({ description: 'Incident id.' }), update: Type.String({ description: 'Update id.' }) });

export const UPDATE_SORTABLE = ['id', 'status', 'created_at'] as const;
