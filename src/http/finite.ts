/**
 * A guard against a hole in schema validation: with `coerceTypes`, Ajv 8 turns the strings
 * `"1e999"` and `"Infinity"` into `Infinity` and then skips `minimum`/`maximum` (it only range-checks
 * finite numbers), so an out-of-range value reaches the handler and the database. Run after
 * validation (`preHandler`), this turns any such number into the usual 400.
 */
import type { FastifyRequest } from 'fastify';
import { validationError } from './errors.js';

function nonFiniteFields(input: unknown): string[] {
  if (typeof input !== 'object' || input === null) return [];
  return Object.entries(input)
    .filter(([, value]) => typeof value === 'number' && !Number.isFinite(value))
    .map(([name]) => `The ${name.replace(/_/g, ' ')} must be a number.`);
}

/** `preHandler`: a 400 when validation let a non-finite number through in the query or body. */
export async function rejectNonFiniteNumbers(request: FastifyRequest): Promise<void> {
  const details = [...nonFiniteFields(request.query), ...nonFiniteFields(request.body)];
  if (details.length > 0) throw validationError(details);
}
