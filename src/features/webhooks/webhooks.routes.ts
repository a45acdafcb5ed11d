/**
 * `/api/v1/webhooks`: outbound webhook subscriptions. Create and secret rotation answer the new
 * signing secret once, in `meta.secret`; nothing shows it again. The delivery log is read here too.
 */
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { found, validationError } from '../../http/errors.js';
import { itemEnvelope, listEnvelope, listParams, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import type { Clock } from '../../infra/clock.js';
import { parseDuration } from '../../infra/duration.js';
import {
  CreateWebhookBody,
  RotateWebhookSecretBody,
  UpdateWebhookBody,
  WEBHOOK_SORTABLE,
  WebhookDeliverySchema,
  WebhookListQuery,
  WebhookSchema,
  WebhookWithSecretSchema,
} from './webhooks.schema.js';
import { DEFAULT_SECRET_GRACE_MS, presentWebhook, type WebhooksService } from './webhooks.service.js';

export interface WebhooksRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  webhooks: WebhooksService;
  clock: Clock;
  perPageMax: number;
}

const tags = ['Webhooks'];

/** Registers the webhook routes. */
export function webhooksRoutes(app: ApiApp, { db, transact, webhooks, clock, perPageMax }: WebhooksRoutesDeps): void {
  app.get(
    '/api/v1/webhooks',
    {
      schema: { tags, summary: 'List webhooks (never their secrets)', querystring: WebhookListQuery, response: withErrors(200, listEnvelope(WebhookSchema)) },
      config: { access: { scope: 'webhooks.read', action: 'webhooks.list' } },
    },
    async (request) => {
      const params = listParams(request.query, WEBHOOK_SORTABLE, perPageMax);
      const { total, items } = await webhooks.list(db, params, request.timeZone);
      return paginated(request, params, total, items);
    },
  );

  app.get(
    '/api/v1/webhooks/:id',
    {
      schema: { tags, summary: 'Get a webhook (never its secrets)', params: IdParams, response: withErrors(200, itemEnvelope(WebhookSchema)) },
      config: { access: { scope: 'webhooks.read', action: 'webhooks.show' } },
    },
    async (request) => ({ data: found(await webhooks.show(db, parseId(request.params.id), request.timeZone)) }),
  );

  app.post(
    '/api/v1/webhooks',
    {
      schema: { tags, summary: 'Create a webhook; its signing secret is in this response only', body: CreateWebhookBody, response: withErrors(200, WebhookWithSecretSchema) },
      config: { access: { scope: 'webhooks.manage', action: 'webhooks.create' } },
    },
    async (request) => {
      const made = await transact(request, (trx) => webhooks.create(trx, request.body));
      return { data: presentWebhook(made.row, request.timeZone, clock.now()), meta: { secret: made.secret } };
    },
  );

  app.put(
    '/api/v1/webhooks/:id',
    {
      schema: { tags, summary: 'Change a webhook; `enabled: true` re-enables a disabled one', params: IdParams, body: UpdateWebhookBody, response: withErrors(200, itemEnvelope(WebhookSchema)) },
      config: { access: { scope: 'webhooks.manage', action: 'webhooks.update' } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const changed = await transact(request, async (trx) => found(await webhooks.update(trx, id, request.body)));
      return { data: presentWebhook(changed.after, request.timeZone, clock.now()) };
    },
  );

  app.delete(
    '/api/v1/webhooks/:id',
    {
      schema: { tags, summary: 'Delete a webhook and its delivery log', params: IdParams, response: noContentWithErrors() },
      config: { access: { scope: 'webhooks.delete', action: 'webhooks.delete' } },
    },
    async (request, reply) => {
      const id = parseId(request.params.id);
      await transact(request, async (trx) => found(await webhooks.remove(trx, id)));
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/webhooks/:id/secret',
    {
      schema: {
        tags,
        operationId: 'rotateWebhookSecret',
        summary: 'Rotate the signing secret: the new one (shown once) signs now, the previous ones beside it for a grace',
        params: IdParams,
        body: Type.Optional(RotateWebhookSecretBody),
        response: withErrors(200, WebhookWithSecretSchema),
      },
      config: { access: { scope: 'webhooks.manage', action: 'webhooks.rotate' } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const graceText = request.body?.grace;
      const graceMs = graceText === undefined ? DEFAULT_SECRET_GRACE_MS : parseDuration(graceText);
      if (graceMs === null) throw validationError([`The grace must be a duration such as 24h, 90m or 30s; got "${graceText}".`]);
      const made = await transact(request, async (trx) => found(await webhooks.rotateSecret(trx, id, graceMs)));
      return { data: presentWebhook(made.row, request.timeZone, clock.now()), meta: { secret: made.secret } };
    },
  );

  app.get(
    '/api/v1/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        operationId: 'listWebhookDeliveries',
        summary: "A webhook's delivery log, newest first: each attempt's status, error and the start of the answer",
        params: IdParams,
        querystring: WebhookListQuery,
        response: withErrors(200, listEnvelope(WebhookDeliverySchema)),
      },
      config: { access: { scope: 'webhooks.read', action: 'webhooks.show' } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const params = listParams(request.query, [], perPageMax);
      const { total, items } = found(await webhooks.deliveries(db, id, params, request.timeZone));
      return paginated(request, params, total, items);
    },
  );
}
