/**
 * `/api/v1/keys`: list, show, create (token shown once), update, revoke, rotate, `self`, a key's
 * usage (in the audit feature), and the unauthenticated leak report `POST /keys/revoke`.
 * A key acting here can never produce or manage a key stronger than itself.
 */
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { AppError, refused } from '../../http/errors.js';
import { itemEnvelope, listEnvelope, listParams, listQueryProperties, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import type { Clock } from '../../infra/clock.js';
import { parseDuration } from '../../infra/duration.js';
import { keyView, type KeyAuthority, type KeyRefused, type KeysService, type KeyView } from './keys.service.js';

const tags = ['Keys'];
const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);
const ScopeList = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64, description: 'Scopes such as `components.manage`, or `*`.' });
const ResourceLimitsSchema = Type.Record(Type.String({ maxLength: 64 }), Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 100 }), {
  description: 'Ids the key may act on per resource, e.g. `{"components": [7, 9]}`; other ids are refused (403 resource_denied).',
});
const CidrList = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100, description: 'IPv4 or IPv6 CIDRs the key may be used from.' });

const DeliverySchema = Type.Object(
  {
    type: Type.String({ description: '`webhook` (through the API), `file` or `command` (set with the CLI: they act on the server\'s host).' }),
    url: Type.Optional(Type.String({ maxLength: 2000 })),
    path: Type.Optional(Type.String({ maxLength: 4096 })),
    argv: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 32 })),
  },
  { description: 'Where the successor\'s token is delivered.' },
);

const RotationSchema = Type.Object({
  every: Type.String({ description: 'How often the key is rotated on schedule (`30d`).' }),
  grace: Type.String({ description: 'How long the old key keeps working after its successor was delivered (`24h`).' }),
  deliver: DeliverySchema,
  retire_after_pickup: Nullable(Type.String({ description: "Retire the old key this long after the successor's first use, if sooner than the grace." })),
});

const RotationBody = Type.Object({
  every: Type.String({ maxLength: 20 }),
  grace: Type.String({ maxLength: 20 }),
  deliver: DeliverySchema,
  retire_after_pickup: Type.Optional(Nullable(Type.String({ maxLength: 20 }))),
});

const DeliveryStateSchema = Type.Object({
  last_attempt_at: Nullable(Type.String()),
  last_error: Nullable(Type.String({ description: 'Why the last delivery failed; null after a success.' })),
  next_attempt_at: Nullable(Type.String({ description: 'When the next scheduled rotation, or the retry of a failed delivery, is due.' })),
  delivered_at: Nullable(Type.String()),
  failures: Type.Integer({ description: 'Failed deliveries since the last success.' }),
});

const SecretMeta = {
  webhook_secret: Type.Optional(Type.String({ description: 'Shown once, when a webhook target is set: the signing secret the consumer verifies deliveries with (not an API key).' })),
};

const KeySchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  prefix: Type.String({ description: 'The public start of the token; the token itself is never shown again.' }),
  scopes: Type.Array(Type.String()),
  purpose: Nullable(Type.String()),
  allowed_ips: Type.Union([Type.Array(Type.String()), Type.Null()]),
  rate_limit: Nullable(Type.Integer()),
  resources: Type.Union([Type.Record(Type.String(), Type.Array(Type.Integer())), Type.Null()]),
  not_before: Nullable(Type.String({ description: 'The key is refused (401 key_not_yet_valid) before this time.' })),
  expires_at: Nullable(Type.String()),
  revoked_at: Nullable(Type.String()),
  status: Type.String({ description: '`active`, `pending` (before `not_before`), `expired` or `revoked`.' }),
  created_by: Type.String(),
  owner_user_id: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Type.String(),
  last_used_at: Nullable(Type.String()),
  last_used_ip: Nullable(Type.String()),
  first_used_at: Nullable(Type.String()),
  replaces_id: Nullable(Type.Integer()),
  replaced_by_id: Nullable(Type.Integer()),
  rotated_at: Nullable(Type.String()),
  rotation: Type.Union([RotationSchema, Type.Null()]),
  delivery: Type.Union([DeliveryStateSchema, Type.Null()]),
  successor_first_used_at: Type.Optional(Nullable(Type.String({ description: "Rotation: when the successor was first used (proof that its consumer picked it up)." }))),
});

const CreatedKeySchema = Type.Object({
  data: Type.Intersect([KeySchema, Type.Object({ token: Type.String({ description: 'Shown once: store it now.' }) })]),
  meta: Type.Object({ warnings: Type.Array(Type.String()), ...SecretMeta }),
});

const UpdatedKeySchema = Type.Object({ data: KeySchema, meta: Type.Optional(Type.Object(SecretMeta)) });

const CreateKeyBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  scopes: ScopeList,
  expires: Type.Optional(Type.String({ maxLength: 20, description: 'Lifetime such as `30d`, `24h`, or `never` where the policy allows.' })),
  purpose: Type.String({ maxLength: 500, description: 'Required: who uses the key, and why (the key review reports keys without one).' }),
  rate_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  allowed_ips: Type.Optional(CidrList),
  rotation: Type.Optional(RotationBody),
  resources: Type.Optional(ResourceLimitsSchema),
  not_before: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 time with a zone before which the key is refused.' })),
});

const UpdateKeyBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  scopes: Type.Optional(ScopeList),
  purpose: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  rate_limit: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 1_000_000 }))),
  allowed_ips: Type.Optional(CidrList),
  rotation: Type.Optional(RotationBody),
  resources: Type.Optional(Type.Union([ResourceLimitsSchema, Type.Null()], { description: 'A new limit map, or `{}` to lift the limit.' })),
});

const RotateKeyBody = Type.Object({
  grace: Type.Optional(Type.String({ maxLength: 20, description: 'How long the old key keeps working (default `24h`).' })),
});

const RevokeTokensBody = Type.Object({
  tokens: Type.Array(Type.String({ maxLength: 256 }), { minItems: 1, maxItems: 100, description: 'Tokens found where they should not be.' }),
});

export interface KeysRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  keys: KeysService;
  clock: Clock;
  perPageMax: number;
  /** Told after a key change commits: this instance forgets cached keys at once (others within a poll). */
  keysChanged: () => void;
}

/** The calling key's authority (every route here but the leak report needs a key). */
function callerOf(request: FastifyRequest): { id: number; authority: KeyAuthority } {
  const principal = request.principal;
  if (principal.type !== 'key') throw refused('key_missing');
  return { id: principal.key.id, authority: { scopes: principal.key.scopes, allowedIps: principal.key.allowedCidrs, resources: principal.key.resources } };
}

/** A refused lifecycle operation as an API error; escalation is a 403 with its reason code. */
function failure(result: KeyRefused): AppError {
  return result.status === 403 ? refused('escalation_denied', `A key cannot do this: ${result.error}.`) : new AppError(result.status, `${result.error[0]!.toUpperCase()}${result.error.slice(1)}.`);
}

/** The same answer to every leak report, whatever it contained. */
const LEAK_REPORT_ANSWER = { data: { received: true, detail: 'Every active key among these tokens has been revoked.' } };

export function keysRoutes(app: ApiApp, deps: KeysRoutesDeps): void {
  const { db, keys, clock, perPageMax, keysChanged } = deps;
  /** `transact`, then the cache drop: a changed or revoked key is refused on the very next request. */
  const transact: Transact = async (request, work) => {
    try {
      return await deps.transact(request, work);
    } finally {
      keysChanged();
    }
  };
  /** A key's view, with its successor's first use when it was rotated. */
  async function detailed(view: KeyView): Promise<KeyView & { successor_first_used_at?: string | null }> {
    if (view.replaced_by_id === null) return view;
    const successor = await keys.byId(db, view.replaced_by_id);
    return { ...view, successor_first_used_at: successor?.first_used_at ?? null };
  }

  app.get(
    '/api/v1/keys',
    {
      schema: { tags, summary: 'List keys (never their tokens)', querystring: Type.Object({ ...listQueryProperties }), response: withErrors(200, listEnvelope(KeySchema)) },
      config: { access: { scope: 'keys.read', action: 'keys.list' } },
    },
    async (request) => {
      const params = listParams(request.query, [], perPageMax);
      const all = await keys.list();
      const page = all.slice((params.page - 1) * params.perPage, params.page * params.perPage);
      return paginated(request, params, all.length, page);
    },
  );

  app.get(
    '/api/v1/keys/self',
    {
      schema: { tags, operationId: 'getCurrentKey', summary: 'The key making the request: scopes, restrictions, expiry, rotation state', response: withErrors(200, itemEnvelope(KeySchema)) },
      config: { access: { scope: 'public', requiresKey: true, action: 'keys.show' } },
    },
    async (request) => {
      const { id } = callerOf(request);
      const row = await keys.byId(db, id);
      if (!row) throw refused('key_unknown');
      return { data: await detailed(keyView(row, clock.now())) };
    },
  );

  app.get(
    '/api/v1/keys/:id',
    {
      schema: { tags, summary: 'Get a key (never its token)', params: IdParams, response: withErrors(200, itemEnvelope(KeySchema)) },
      config: { access: { scope: 'keys.read', action: 'keys.show' } },
    },
    async (request) => {
      const view = await keys.show(parseId(request.params.id));
      if (!view) throw new AppError(404);
      return { data: await detailed(view) };
    },
  );

  app.post(
    '/api/v1/keys',
    {
      schema: { tags, summary: 'Create a key; its token is in this response only', body: CreateKeyBody, response: withErrors(200, CreatedKeySchema) },
      config: { access: { scope: 'keys.manage', action: 'keys.create' } },
    },
    async (request) => {
      const caller = callerOf(request);
      const body = request.body;
      const result = await transact(request, async (trx) => {
        const created = await keys.create(trx, {
          name: body.name,
          scopes: body.scopes,
          expires: body.expires,
          purpose: body.purpose,
          requirePurpose: true,
          rateLimit: body.rate_limit,
          allowedIps: body.allowed_ips,
          resources: body.resources,
          notBefore: body.not_before,
          createdBy: `key:${caller.id}`,
          creator: caller.authority,
          ...(body.rotation ? { rotation: body.rotation } : {}),
        });
        // A refusal rolls the transaction back; escalation is told apart from bad input.
        if (!created.ok) throw /cannot grant/.test(created.error) ? refused('escalation_denied', `A key cannot do this: ${created.error}.`) : new AppError(400, undefined, [created.error]);
        return created;
      });
      return { data: { ...result.key, token: result.token }, meta: { warnings: result.warnings, ...(result.webhookSecret ? { webhook_secret: result.webhookSecret } : {}) } };
    },
  );

  app.put(
    '/api/v1/keys/:id',
    {
      schema: { tags, summary: "Change a key's name, purpose, scopes or restrictions", params: IdParams, body: UpdateKeyBody, response: withErrors(200, UpdatedKeySchema) },
      config: { access: { scope: 'keys.manage', action: 'keys.update' } },
    },
    async (request) => {
      const caller = callerOf(request);
      const id = parseId(request.params.id);
      const body = request.body;
      const updated = await transact(request, async (trx) => {
        const result = await keys.update(
          trx,
          id,
          { name: body.name, purpose: body.purpose, scopes: body.scopes, rateLimit: body.rate_limit, allowedIps: body.allowed_ips, resources: body.resources, rotation: body.rotation },
          caller.authority,
        );
        if (!result.ok) throw result.status === 400 ? new AppError(400, undefined, [result.error]) : failure(result);
        return result;
      });
      return { data: await detailed(updated.key), ...(updated.webhookSecret ? { meta: { webhook_secret: updated.webhookSecret } } : {}) };
    },
  );

  app.delete(
    '/api/v1/keys/:id/rotation',
    {
      schema: { tags, operationId: 'removeKeyRotationPolicy', summary: "Remove a key's rotation policy (and its webhook signing secret)", params: IdParams, response: withErrors(200, UpdatedKeySchema) },
      config: { access: { scope: 'keys.manage', action: 'keys.update', status: 200 } },
    },
    async (request) => {
      const caller = callerOf(request);
      const id = parseId(request.params.id);
      const key = await transact(request, async (trx) => {
        const result = await keys.update(trx, id, { rotation: null }, caller.authority);
        if (!result.ok) throw result.status === 400 ? new AppError(400, undefined, [result.error]) : failure(result);
        return result.key;
      });
      return { data: await detailed(key) };
    },
  );

  app.delete(
    '/api/v1/keys/:id',
    {
      schema: { tags, summary: 'Revoke a key at once', params: IdParams, response: noContentWithErrors() },
      config: { access: { scope: 'keys.delete', action: 'keys.revoke' } },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const id = parseId(request.params.id);
      await transact(request, async (trx) => {
        const result = await keys.revoke(trx, id, caller.authority);
        if (!result.ok) throw failure(result);
      });
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/keys/:id/rotate',
    {
      schema: { tags, summary: 'Rotate a key: a successor now (token shown once), the old key kept for a grace period', params: IdParams, body: Type.Optional(RotateKeyBody), response: withErrors(200, CreatedKeySchema) },
      config: { access: { scope: 'keys.manage', action: 'keys.rotate' } },
    },
    async (request) => {
      const caller = callerOf(request);
      const id = parseId(request.params.id);
      const graceText = request.body?.grace ?? '24h';
      const graceMs = parseDuration(graceText);
      if (graceMs === null) throw new AppError(400, undefined, [`grace must be a duration such as 24h, 90m or 30s; got "${graceText}"`]);
      const result = await transact(request, async (trx) => {
        const rotated = await keys.rotate(trx, id, { graceMs, createdBy: `key:${caller.id}` }, caller.authority);
        if (!rotated.ok) throw rotated.status === 400 ? new AppError(400, undefined, [rotated.error]) : failure(rotated);
        return rotated;
      });
      return { data: { ...result.key, token: result.token }, meta: { warnings: result.warnings } };
    },
  );

  app.post(
    '/api/v1/keys/revoke',
    {
      schema: {
        tags,
        operationId: 'reportLeakedTokens',
        summary: 'Report leaked tokens: each active one is revoked. No key needed; the answer is always the same',
        body: RevokeTokensBody,
        response: withErrors(202, Type.Object({ data: Type.Object({ received: Type.Boolean(), detail: Type.String() }) })),
      },
      config: { access: { scope: 'public', action: 'keys.revoke', publicWrite: true, status: 202 } },
    },
    async (request, reply) => {
      await transact(request, (trx) => keys.revokeTokens(trx, request.body.tokens));
      return reply.code(202).send(LEAK_REPORT_ANSWER);
    },
  );
}
