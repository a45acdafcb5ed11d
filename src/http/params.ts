/** Route parameter helpers. */
import { Type } from 'typebox';
import { notFound } from './errors.js';

/** `{id}` params; the value is checked by `parseId` so that `/components/abc` is a 404, as in Cachet. */
export const IdParams = Type.Object({ id: Type.String({ description: 'Numeric id.' }) });

/** A positive database id from a path segment, or a 404. */
export function parseId(text: string): number {
  if (!/^[0-9]{1,10}$/.test(text)) throw notFound();
  const id = Number(text);
  if (id < 1 || id > 2_147_483_647) throw notFound();
  return id;
}
