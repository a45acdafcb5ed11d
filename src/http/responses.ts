/** Response maps for route schemas: the success body plus the documented error envelopes. */
import type { TSchema } from 'typebox';
import { Type } from 'typebox';
import { ErrorEnvelopeSchema } from './schemas.js';

const ERROR_CODES = [400, 401, 403, 404, 406, 409, 413, 429] as const;

/** `{200: body, 4xx: error envelope}` for a route returning `body`. */
export function withErrors<T extends TSchema>(status: 200, body: T) {
  const map: Record<number, TSchema> = { [status]: body };
  for (const code of ERROR_CODES) map[code] = ErrorEnvelopeSchema;
  return map as { 200: T } & Record<number, TSchema>;
}

/** `{204: empty, 4xx: error envelope}` for a delete. */
export function noContentWithErrors() {
  const map: Record<number, TSchema> = { 204: Type.Null({ description: 'No content.' }) };
  for (const code of ERROR_CODES) map[code] = ErrorEnvelopeSchema;
  return map as { 204: TSchema } & Record<number, TSchema>;
}
