/**
 * `/api/v1/subscribers` and `/api/v1/subscriptions` (Cachet 2.4 rows 40–43). Subscriber data is
 * personal, so no route here has a guest view: a request without a key is a 401.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { found, validationError } from '../../http/errors.js';
import { itemEnvelope, listEnvelope, listParams, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import type { SendVerification } from '../notifications/notifications.verify.js';
import { CreateSubscriberBody, SUBSCRIBER_SORTABLE, SubscriberListQuery, SubscriberSchema } from './subscribers.schema.js';
import type { SubscribersService } from './subscribers.service.js';

export interface SubscribersRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  subscribers: SubscribersService;
  perPageMax: number;
  /** Enqueues the verification mail of a subscriber created unverified, in the request's transaction. */
  sendVerification: SendVerification;
}

const tags = ['Subscribers'];

/** Registers the subscriber and subscription routes. */
export function subscribersRoutes(app: ApiApp, { db, transact, subscribers, perPageMax, sendVerification }: SubscribersRoutesDeps): void {
  app.get(
    '/api/v1/subscribers',
    {
      schema: { tags, summary: 'List subscribers', querystring: SubscriberListQuery, response: withErrors(200, listEnvelope(SubscriberSchema)) },
      config: { access: { scope: 'subscribers.read', action: 'subscribers.list' } },
    },
    async (request) => {
      const params = listParams(request.query, SUBSCRIBER_SORTABLE, perPageMax);
      const { total, items } = await subscribers.list(db, params, request.timeZone);
      return paginated(request, params, total, items);
    },
  );

  app.post(
    '/api/v1/subscribers',
    {
      schema: {
        tags,
        summary: 'Subscribe an email address (returns the existing subscriber, unchanged, when the address is already subscribed)',
        description: 'Without `verify: true` the new subscriber is unverified and is sent a mail with a link that verifies it.',
        body: CreateSubscriberBody,
        response: withErrors(200, itemEnvelope(SubscriberSchema)),
      },
      config: { access: { scope: 'subscribers.manage', action: 'subscribers.create' } },
    },
    async (request) => {
      // Refusals are thrown inside the transaction so that nothing joined to it (the audit event) commits.
      const subscriber = await transact(request, async (trx) => {
        const result = await subscribers.subscribe(trx, request.body);
        if (!result.ok) throw validationError(result.details);
        if (result.created && result.subscriber.verified_at === null) {
          await sendVerification(trx, result.subscriber, request.principal.type === 'key' ? request.principal.key.id : null);
        }
        return result.subscriber;
      });
      return { data: (await subscribers.present(db, [subscriber], request.timeZone))[0]! };
    },
  );

  app.delete(
    '/api/v1/subscribers/:id',
    {
      schema: { tags, summary: 'Delete a subscriber and its subscriptions', params: IdParams, response: noContentWithErrors() },
      config: { access: { scope: 'subscribers.delete', action: 'subscribers.delete' } },
    },
    async (request, reply) => {
      const id = parseId(request.params.id);
      await transact(request, async (trx) => found(await subscribers.remove(trx, id)));
      return reply.code(204).send();
    },
  );

  app.delete(
    '/api/v1/subscriptions/:id',
    {
      schema: { tags, operationId: 'deleteSubscription', summary: 'Delete one subscription', params: IdParams, response: noContentWithErrors() },
      // Removing a subscription changes its subscriber, hence manage (not delete) and the update action.
      config: { access: { scope: 'subscribers.manage', action: 'subscribers.update', resource: 'subscriptions' } },
    },
    async (request, reply) => {
      const id = parseId(request.params.id);
      await transact(request, async (trx) => found(await subscribers.removeSubscription(trx, id)));
      return reply.code(204).send();
    },
  );
}
