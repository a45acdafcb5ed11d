/** Response maps for route schemas: the success body plus the documented error envelopes. */
import type { TSchema } from 'typebox';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from './schemas.js';

const ERROR_CODES = [400, 401, 403, 404, 406, 409, 413, 429] as const;

/** `{200: body, 4xx: error envelope}` for a route returning `body` (with `status`, 200 or 202). */
export function withErrors<S extends 200 | 202, T extends TSchema>(status: S, body: T) {
  const map: Record<number, TSchema> = { [status]: body };
  for (const code of ERROR_CODES) map[code] = ErrorEnvelopeSchema;
  return map as { [K in S]: T } & Record<number, TSchema>;
}

/** `{204: empty, 4xx: error envelope}` for a delete. */
export function noContentWithErrors() {
  const map: Record<number, TSchema> = { 204: Type.Null({ description: 'No content.' }) };
  for (const code of ERROR_CODES) map[code] = ErrorEnvelopeSchema;
  return map as { 204: TSchema } & Record<number, TSchema>;
}
