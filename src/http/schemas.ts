/** Schema pieces shared by the resource slices. */
import { Type } from 'typebox';

export const INT32_MAX = 2_147_483_647;

/** A non-negative 32-bit integer field. */
export function uint(options: { maximum?: number; description?: string } = {}) {
  return Type.Integer({ minimum: 0, maximum: options.maximum ?? INT32_MAX, ...(options.description ? { description: options.description } : {}) });
}

/** A signed 32-bit integer field. */
export function int(description?: string) {
  return Type.Integer({ minimum: -INT32_MAX - 1, maximum: INT32_MAX, ...(description ? { description } : {}) });
}

/** A `Y-m-d H:i:s` timestamp in the request's zone. */
export const Timestamp = Type.String({ description: 'Y-m-d H:i:s in the Time-Zone header zone (default CACHET_TIMEZONE).' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

/** A free-form JSON object (`meta`). */
export const MetaObject = Type.Object({}, { additionalProperties: true, description: 'Free-form JSON object.' });

/** The error envelope, for the OpenAPI document. */
export const ErrorEnvelopeSchema = Type.Object({
  errors: Type.Array(
    Type.Object({
      id: Type.String(),
      status: Type.Integer(),
      title: Type.String(),
      detail: Type.String(),
      meta: Type.Optional(Type.Object({ details: Type.Array(Type.String()) })),
    }),
  ),
});
