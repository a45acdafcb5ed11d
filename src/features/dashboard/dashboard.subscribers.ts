/**
 * The dashboard's subscribers: the list with the components each is subscribed to, adding one
 * (Cachet's subscribe: an address already subscribed is left as it is) and removing one. Every
 * change goes through the subscribers service, checked against the API's body schema.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { validationError } from '../../http/errors.js';
import type { ComponentsService } from '../components/components.service.js';
import { CreateSubscriberBody } from '../subscribers/subscribers.schema.js';
import type { SubscribersService } from '../subscribers/subscribers.service.js';
import type { SendVerification } from '../notifications/notifications.verify.js';
import { DASHBOARD_ZONE, bodyChecker, everything, form, notFound, pageOf, pagerOf, submit, type Input } from './dashboard.content-forms.js';
import { field, fields, idParam, type Kit } from './dashboard.kit.js';

export interface SubscriberPagesDeps {
  subscribers: SubscribersService;
  /** For the component checkboxes and the names in the list. */
  components: ComponentsService;
  /** Enqueues the verification mail of a subscriber added unverified (as the API does). */
  sendVerification: SendVerification;
}

const checkSubscriber = bodyChecker(CreateSubscriberBody);

/** The form's values: the address, whether it is verified already, and the ticked components. */
interface SubscriberValues {
  email: string;
  verify: string;
  components: string[];
}

function subscriberInput(body: unknown): Input {
  const ticked = fields(body, 'components').map((id) => (/^\d{1,10}$/.test(id) ? Number(id) : id));
  return {
    email: form.text(body, 'email'),
    verify: form.checked(body, 'verify'),
    // None ticked: every component, as the API's default.
    components: ticked.length > 0 ? ticked : undefined,
  };
}

/** The subscribers page group (section `subscribers`). */
export function subscriberPages(deps: SubscriberPagesDeps) {
  const { subscribers, components } = deps;
  return (app: FastifyInstance, kit: Kit): void => {
    const { db } = kit;

    async function listPage(request: FastifyRequest, reply: FastifyReply, values: SubscriberValues, errors: string[] = [], status = 200) {
      const page = pageOf(request, 'created_at', 'desc');
      const [list, all] = await Promise.all([subscribers.list(db, page, DASHBOARD_ZONE), components.list(db, {}, everything('order'), true, DASHBOARD_ZONE)]);
      const names = new Map(all.items.map((c) => [c.id, c.name]));
      return kit.html(request, reply, 'subscribers', {
        title: 'Subscribers',
        section: 'subscribers',
        subscribers: list.items.map((s) => ({
          id: s.id,
          email: s.email,
          verified: s.verified_at,
          created: s.created_at,
          global: s.global,
          components: s.subscriptions.map((sub) => names.get(sub.component_id) ?? `#${sub.component_id} (deleted)`),
        })),
        pager: pagerOf(page, list.total, '/dashboard/subscribers'),
        components: all.items.map((c) => ({ id: c.id, name: c.name })),
        values,
        errors,
      }, status);
    }

    app.get('/dashboard/subscribers', { schema: { hide: true } }, async (request, reply) => listPage(request, reply, { email: '', verify: '', components: [] }));

    app.post('/dashboard/subscribers', { schema: { hide: true } }, async (request, reply) => {
      const result = await submit(checkSubscriber(subscriberInput(request.body)), (input) =>
        kit.act(request, async (trx) => {
          // A refusal is thrown inside the transaction, as the API does, so nothing of it commits.
          const outcome = await subscribers.subscribe(trx, input);
          if (!outcome.ok) throw validationError(outcome.details);
          if (outcome.created && outcome.subscriber.verified_at === null) await deps.sendVerification(trx, outcome.subscriber);
          return outcome;
        }),
      );
      if (!result.ok) {
        const values = { email: field(request.body, 'email'), verify: field(request.body, 'verify'), components: fields(request.body, 'components') };
        return listPage(request, reply, values, result.errors, 400);
      }
      const { created, subscriber } = result.value;
      return kit.done(reply, '/dashboard/subscribers', created ? { kind: 'ok', text: subscriber.verified_at === null ? `${subscriber.email} subscribed: a verification mail is on its way.` : `${subscriber.email} subscribed.` } : { kind: 'error', text: `${subscriber.email} was subscribed already: nothing changed.` });
    });

    app.post('/dashboard/subscribers/:id/delete', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const removed = id === null ? null : await kit.act(request, (trx) => subscribers.remove(trx, id));
      if (!removed) return notFound(kit, request, reply, 'subscribers.delete', 'subscribers', id);
      return kit.done(reply, '/dashboard/subscribers', { kind: 'ok', text: `${removed.email} removed, with their subscriptions.` });
    });
  };
}
