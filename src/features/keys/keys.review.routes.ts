/**
 * `GET /api/v1/keys/review` and `POST /api/v1/keys/{id}/narrow`: the key review over the audit
 * trail, and narrowing a key to its observed use, at once or in report-only mode first.
 */
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { AppError, refused } from '../../http/errors.js';
import { IdParams, parseId } from '../../http/params.js';
import { withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import type { Clock } from '../../infra/clock.js';
import { parseDuration } from '../../infra/duration.js';
import { toStoredTime } from '../../infra/time.js';
import type { Narrower } from './keys.narrow.js';
import { narrowingOf, reviewKeys } from './keys.review.js';
import type { KeyRefused } from './keys.service.js';

const tags = ['Keys'];
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Limits = Type.Record(Type.String(), Type.Array(Type.Integer()));

const SuggestionSchema = Type.Object({ scopes: Type.Array(Type.String()), resources: Nullable(Limits), allowed_ips: Nullable(Type.Array(Type.String())) });
const ReviewSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  prefix: Type.String(),
  purpose: Nullable(Type.String()),
  owner_user_id: Nullable(Type.Integer()),
  created_at: Type.String(),
  scopes: Type.Array(Type.String()),
  resources: Nullable(Limits),
  allowed_ips: Nullable(Type.Array(Type.String())),
  usage: Type.Object({
    events: Type.Integer(),
    denied: Type.Integer(),
    first_at: Nullable(Type.String()),
    last_at: Nullable(Type.String()),
    scopes_used: Type.Array(Type.String()),
    addresses: Type.Array(Type.String()),
    shadow_denials: Type.Integer(),
  }),
  findings: Type.Array(Type.Object({ code: Type.String(), severity: Type.String(), reason: Type.String() })),
  suggestion: Nullable(SuggestionSchema),
  changes: Type.Record(Type.String(), Type.Array(Type.Unknown())),
});
const Days = Type.Integer({ minimum: 1, maximum: 365, description: 'The window of audit events looked at, in days (default 30).' });

const NarrowBody = Type.Object({
  apply: Type.Optional(Type.Boolean({ description: 'true: make the change now; otherwise only say what would change.' })),
  shadow: Type.Optional(Type.String({ maxLength: 20, description: 'Report-only for this long (`14d`): the key keeps working, would-be refusals are audited as `shadow_denied`.' })),
  on_quiet: Type.Optional(Type.Union([Type.Literal('apply'), Type.Literal('propose')], { description: 'With shadow: at the end of a period without a would-be refusal, apply the narrowing (default) or only propose it.' })),
  days: Type.Optional(Days),
});

export interface KeyReviewRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  clock: Clock;
  narrower: Narrower;
  rotationAgeMs: number;
  keysChanged: () => void;
}

function failure(result: KeyRefused): AppError {
  return result.status === 403 ? refused('escalation_denied', `A key cannot do this: ${result.error}.`) : new AppError(result.status, `${result.error[0]!.toUpperCase()}${result.error.slice(1)}.`);
}

export function keyReviewRoutes(app: ApiApp, deps: KeyReviewRoutesDeps): void {
  const { db, clock, narrower, rotationAgeMs } = deps;

  app.get(
    '/api/v1/keys/review',
    {
      schema: {
        tags,
        summary: "Every active key's findings from the audit trail: unused scopes, suggested resource and address limits, unused and never-used keys, `*` keys, missing rotation policies, owners or purposes",
        querystring: Type.Object({ days: Type.Optional(Days) }),
        response: withErrors(200, Type.Object({ data: Type.Array(ReviewSchema), meta: Type.Object({ days: Type.Integer(), generated_at: Type.String() }) })),
      },
      config: { access: { scope: 'keys.read', action: 'keys.review', resource: 'keys' } },
    },
    async (request) => {
      const days = request.query.days ?? 30;
      const now = clock.now();
      return { data: await reviewKeys(db, { now, days, rotationAgeMs }), meta: { days, generated_at: toStoredTime(now) } };
    },
  );

  app.post(
    '/api/v1/keys/:id/narrow',
    {
      schema: {
        tags,
        summary: 'Narrow a key to what it was seen to use: say what would change, apply it, or try it in report-only mode first',
        params: IdParams,
        body: Type.Optional(NarrowBody),
        response: withErrors(
          200,
          Type.Object({
            data: Type.Object({
              key_id: Type.Integer(),
              applied: Type.Boolean(),
              shadow: Nullable(Type.Object({ until: Type.String(), on_quiet: Type.String(), scopes: Type.Array(Type.String()), allowed_ips: Nullable(Type.Array(Type.String())), resources: Nullable(Limits) })),
              changes: Type.Record(Type.String(), Type.Array(Type.Unknown())),
              suggestion: Nullable(SuggestionSchema),
              findings: Type.Array(Type.Object({ code: Type.String(), severity: Type.String(), reason: Type.String() })),
            }),
          }),
        ),
      },
      config: { access: { scope: 'keys.manage', action: 'keys.narrow' } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const body = request.body ?? {};
      const principal = request.principal;
      if (principal.type !== 'key') throw refused('key_missing');
      const caller = { scopes: principal.key.scopes, allowedIps: principal.key.allowedCidrs, resources: principal.key.resources };
      const shadowMs = body.shadow === undefined ? null : parseDuration(body.shadow);
      if (body.shadow !== undefined && shadowMs === null) throw new AppError(400, undefined, [`shadow must be a duration such as 14d or 24h; got "${body.shadow}"`]);
      if (body.apply && shadowMs !== null) throw new AppError(400, undefined, ['give apply or shadow, not both']);
      const review = await narrower.reviewOf(db, id, body.days ?? 30, rotationAgeMs);
      if (!review) throw new AppError(404, `No active key with id ${id}.`);
      const narrowing = narrowingOf(review);
      const answer = { key_id: id, applied: false, shadow: null, changes: review.changes, suggestion: review.suggestion, findings: review.findings };
      if (!body.apply && shadowMs === null) return { data: answer };
      if (narrowing === null) {
        throw new AppError(409, review.suggestion === null ? `Key ${id} was not used in the window: there is nothing to narrow it to; revoke it if nobody needs it.` : `Key ${id} is as narrow as its use already.`);
      }
      try {
        if (body.apply) {
          await deps.transact(request, async (trx) => {
            const result = await narrower.apply(trx, id, narrowing, caller);
            if (!result.ok) throw failure(result);
          });
          return { data: { ...answer, applied: true } };
        }
        const shadow = await deps.transact(request, async (trx) => {
          const result = await narrower.shadow(trx, id, narrowing, { forMs: shadowMs!, onQuiet: body.on_quiet ?? 'apply' }, caller);
          if (!result.ok) throw failure(result);
          return result.shadow;
        });
        return { data: { ...answer, shadow } };
      } finally {
        deps.keysChanged();
      }
    },
  );
}
