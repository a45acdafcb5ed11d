/**
 * Cachet input handling. Cachet (Laravel) merges the query string and the body, takes JSON or form
 * bodies, reads a JSON body even on GET, and clients send booleans as `1`, `"1"`, `true`, `"True"`.
 * This stage turns all of that into one plain object per request part before schema validation.
 */
import type { FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError } from './errors.js';

const TRUE_WORDS = new Set(['1', 'true', 'on', 'yes']);
const FALSE_WORDS = new Set(['0', 'false', 'off', 'no', '']);

/**
 * Cachet-client booleans → boolean. `"False"` is false here (Cachet 2.4's PHP cast made it true).
 * Anything else is returned unchanged so that validation reports it.
 */
export function coerceBoolean(value: unknown): unknown {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
  }
  return value;
}

type JsonSchemaLike = { type?: unknown; properties?: Record<string, JsonSchemaLike>; anyOf?: JsonSchemaLike[] };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deepest nesting of objects and arrays accepted in a field (`meta`, `vars`); deeper is a 400. */
export const MAX_NESTING = 32;

/**
 * Why a field value cannot be stored, or null: a NUL character in any string or key (PostgreSQL
 * text cannot hold one), or nesting deeper than MAX_NESTING. Iterative, so a hostile depth cannot
 * exhaust the stack here, and bounded, so nothing after this stage has to fear it.
 */
function unstorable(value: unknown): string | null {
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return 'must not contain NUL characters';
    } else if (typeof current === 'object' && current !== null) {
      if (depth >= MAX_NESTING) return `may not be nested more than ${MAX_NESTING} levels deep`;
      for (const [key, child] of Object.entries(current)) {
        if (key.includes('\u0000')) return 'must not contain NUL characters';
        pending.push([child, depth + 1]);
      }
    }
  }
  return null;
}

/** An empty object with no prototype: a field named `__proto__` is then just a field. */
function fieldMap(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

/** Drops `null` fields (Cachet leaves a field unchanged when it is null) and coerces booleans named by the schema. */
function normalise(input: Record<string, unknown>, schema: JsonSchemaLike | undefined): Record<string, unknown> {
  const out = fieldMap();
  for (const [name, value] of Object.entries(input)) {
    if (value === null) continue;
    const problem = unstorable(value);
    if (problem) throw new AppError(400, undefined, [`The ${name.replace(/_/g, ' ')} ${problem}.`]);
    const property = schema?.properties?.[name];
    out[name] = property?.type === 'boolean' ? coerceBoolean(value) : value;
  }
  return out;
}

/** Query or form fields → object: `tags[]=a&tags[]=b` becomes `tags: ['a','b']`, as PHP would read it. */
function foldListFields(query: unknown): Record<string, unknown> {
  const out = fieldMap();
  if (!isPlainObject(query)) return out;
  for (const [rawName, value] of Object.entries(query)) {
    const name = rawName.endsWith('[]') ? rawName.slice(0, -2) : rawName;
    if (rawName.endsWith('[]')) {
      const list: unknown[] = Array.isArray(value) ? value : [value];
      const previous = out[name];
      out[name] = [...(Array.isArray(previous) ? (previous as unknown[]) : previous === undefined ? [] : [previous]), ...list];
    } else {
      out[name] = value;
    }
  }
  return out;
}

async function readRawBody(request: FastifyRequest, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.raw) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new AppError(413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `preValidation` hook: merges query and body into `request.body` on writes, reads a JSON body
 * into `request.query` on GET (python-cachetclient sends filters that way), and normalises both.
 */
export function createInputHook(bodyLimit: number) {
  return async function mergeInput(request: FastifyRequest): Promise<void> {
    const schema = request.routeOptions.schema as { body?: JsonSchemaLike; querystring?: JsonSchemaLike } | undefined;
    const query = foldListFields(request.query);
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'DELETE') {
      let fromBody: Record<string, unknown> = {};
      const type = request.headers['content-type'] ?? '';
      const length = Number(request.headers['content-length'] ?? 0);
      if (request.method === 'GET' && type.includes('json') && length > 0) {
        const text = await readRawBody(request, bodyLimit);
        let parsed: unknown;
        try {
          // As the POST bodies are parsed: `__proto__` and `constructor.prototype` are refused.
          parsed = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
        } catch {
          throw new AppError(400, 'The request body is not valid JSON.');
        }
        if (isPlainObject(parsed)) fromBody = parsed;
      }
      request.query = normalise({ ...fromBody, ...query }, schema?.querystring);
      return;
    }
    const body = request.body;
    if (body !== undefined && body !== null && !isPlainObject(body)) {
      throw new AppError(400, 'The request body must be a JSON object.');
    }
    // Form bodies name lists as PHP does (`components[]=1&components[]=3`), so fold them like the query.
    request.body = normalise({ ...query, ...foldListFields(body) }, schema?.body);
  };
}
