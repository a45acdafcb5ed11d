/**
 * Outbound webhooks in the dashboard (admins only): the list, create, edit, enable and disable,
 * secret rotation, delete, and a webhook's delivery log with each attempt's answer. A signing
 * secret appears once, in the answer to the form that made it: never in a URL or a page served again.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseDuration } from '../../infra/duration.js';
import { EVENT_TYPES } from '../notifications/notifications.events.js';
import { CreateWebhookBody, UpdateWebhookBody, type Webhook } from '../webhooks/webhooks.schema.js';
import { DEFAULT_SECRET_GRACE_MS, presentWebhook, type WebhooksService, type WebhookWithSecret } from '../webhooks/webhooks.service.js';
import { WEBHOOK_DISABLE_AFTER } from '../webhooks/webhooks.delivery.js';
import { DASHBOARD_ZONE, attempt, bodyChecker, notFound, pageOf, pagerOf, submit, type Input } from './dashboard.content-forms.js';
import { field, fields, idParam, type Kit } from './dashboard.kit.js';

export interface WebhookPagesDeps {
  webhooks: WebhooksService;
}

const checkWebhook = bodyChecker(CreateWebhookBody);
const checkWebhookChange = bodyChecker(UpdateWebhookBody);

/** The route options of every page here: admins only, not in the API's document. */
const ADMIN = { config: { adminOnly: true }, schema: { hide: true } } as const;

/** What the create and edit forms hold, as entered. */
interface WebhookForm {
  name: string;
  url: string;
  events: string[];
}

/** The event choices the forms offer: every event, then each type. */
const EVENT_CHOICES = [{ value: '*', label: 'Every event (present and future)' }, ...EVENT_TYPES.map((type) => ({ value: type, label: type }))];

function readForm(body: unknown): WebhookForm {
  return { name: field(body, 'name').trim(), url: field(body, 'url').trim(), events: fields(body, 'events').slice(0, 32) };
}

function webhookInput(values: WebhookForm): Input {
  return { name: values.name, url: values.url, events: values.events };
}

/** The webhooks page group (section `webhooks`); every route is admin-only. */
export function webhookPages({ webhooks }: WebhookPagesDeps) {
  return (app: FastifyInstance, kit: Kit): void => {
    const { db } = kit;
    const shown = (webhook: Webhook) => ({ ...webhook, origin: new URL(webhook.url).origin });

    const formPage = (request: FastifyRequest, reply: FastifyReply, values: WebhookForm, errors: string[] = [], status = 200) =>
      kit.html(request, reply, 'webhook-form', { title: 'New webhook', section: 'webhooks', values, errors, choices: EVENT_CHOICES }, status);

    /**
     * A webhook's page: its state (a disabled one marked, with its reason), the delivery log, and
     * the forms that act on it. `secret` is set only in the answer to the form that made it.
     */
    async function webhookPage(
      request: FastifyRequest,
      reply: FastifyReply,
      webhook: Webhook,
      options: { secret?: string; heading?: string; values?: WebhookForm; errors?: string[]; actionError?: string } = {},
      status = 200,
    ) {
      const page = pageOf(request, null, 'desc');
      const log = (await webhooks.deliveries(db, webhook.id, page, DASHBOARD_ZONE)) ?? { total: 0, items: [] };
      return kit.html(request, reply, 'webhook', {
        title: `Webhook ${webhook.name}`,
        section: 'webhooks',
        webhook: shown(webhook),
        secret: options.secret ?? null,
        heading: options.heading ?? null,
        values: options.values ?? { name: webhook.name, url: webhook.url, events: webhook.events },
        errors: options.errors ?? [],
        actionError: options.actionError ?? null,
        choices: EVENT_CHOICES,
        deliveries: log.items,
        pager: pagerOf(page, log.total, `/dashboard/webhooks/${webhook.id}`),
        disableAfter: WEBHOOK_DISABLE_AFTER,
        defaultGrace: '24h',
      }, status);
    }

    /** The webhook the route's id names, or the audited 404 already answered. */
    async function named(request: FastifyRequest, reply: FastifyReply, action: string): Promise<Webhook | null> {
      const id = idParam(request);
      const webhook = id === null ? null : await webhooks.show(db, id, DASHBOARD_ZONE);
      if (!webhook) await notFound(kit, request, reply, action, 'webhooks', id);
      return webhook;
    }

    /** The answer to a form that made a secret: the webhook's page with the secret, this once. */
    const withSecret = (request: FastifyRequest, reply: FastifyReply, made: WebhookWithSecret, heading: string) =>
      webhookPage(request, reply, presentWebhook(made.row, DASHBOARD_ZONE, kit.clock.now()), { secret: made.secret, heading });

    app.get('/dashboard/webhooks', ADMIN, async (request, reply) => {
      const page = pageOf(request, null, 'asc');
      const list = await webhooks.list(db, page, DASHBOARD_ZONE);
      return kit.html(request, reply, 'webhooks', {
        title: 'Webhooks',
        section: 'webhooks',
        webhooks: list.items.map(shown),
        pager: pagerOf(page, list.total, '/dashboard/webhooks'),
      });
    });

    app.get('/dashboard/webhooks/new', ADMIN, async (request, reply) => formPage(request, reply, { name: '', url: 'https://', events: ['*'] }));

    app.post('/dashboard/webhooks', ADMIN, async (request, reply) => {
      const values = readForm(request.body);
      const result = await submit(checkWebhook(webhookInput(values)), (input) => kit.act(request, (trx) => webhooks.create(trx, input)));
      if (!result.ok) return formPage(request, reply, values, result.errors, 400);
      return withSecret(request, reply, result.value, `Webhook “${result.value.row.name}” created`);
    });

    app.get('/dashboard/webhooks/:id', ADMIN, async (request, reply) => {
      const webhook = await named(request, reply, 'webhooks.show');
      if (!webhook) return reply;
      return webhookPage(request, reply, webhook);
    });

    app.post('/dashboard/webhooks/:id', ADMIN, async (request, reply) => {
      const webhook = await named(request, reply, 'webhooks.update');
      if (!webhook) return reply;
      const values = readForm(request.body);
      const result = await submit(checkWebhookChange(webhookInput(values)), (input) => kit.act(request, (trx) => webhooks.update(trx, webhook.id, input)));
      if (!result.ok) return webhookPage(request, reply, webhook, { values, errors: result.errors }, 400);
      if (!result.value) return notFound(kit, request, reply, 'webhooks.update', 'webhooks', webhook.id);
      return kit.done(reply, `/dashboard/webhooks/${webhook.id}`, { kind: 'ok', text: `Webhook “${result.value.after.name}” saved.` });
    });

    for (const enabled of [true, false]) {
      app.post(`/dashboard/webhooks/:id/${enabled ? 'enable' : 'disable'}`, ADMIN, async (request, reply) => {
        const webhook = await named(request, reply, 'webhooks.update');
        if (!webhook) return reply;
        const changed = await kit.act(request, (trx) => webhooks.update(trx, webhook.id, { enabled }));
        if (!changed) return notFound(kit, request, reply, 'webhooks.update', 'webhooks', webhook.id);
        const text = enabled ? 'Enabled: deliveries resume, and its failure count starts again from 0.' : 'Disabled: nothing is delivered to it until it is enabled again.';
        return kit.done(reply, `/dashboard/webhooks/${webhook.id}`, { kind: 'ok', text });
      });
    }

    app.post('/dashboard/webhooks/:id/secret', ADMIN, async (request, reply) => {
      const webhook = await named(request, reply, 'webhooks.rotate');
      if (!webhook) return reply;
      const graceText = field(request.body, 'grace').trim();
      const graceMs = graceText === '' ? DEFAULT_SECRET_GRACE_MS : parseDuration(graceText);
      let problem: string | null = null;
      if (field(request.body, 'confirm') !== 'yes') problem = 'Not rotated: tick the box to confirm the rotation.';
      else if (graceMs === null) problem = `Not rotated: the grace must be a duration such as 24h, 90m or 30s; got “${graceText.slice(0, 20)}”.`;
      if (problem) {
        await kit.record(request, { action: 'webhooks.rotate', outcome: 'failed', status: 400, reason: 'invalid_input', resourceType: 'webhooks', resourceId: webhook.id });
        return webhookPage(request, reply, webhook, { actionError: problem }, 400);
      }
      const result = await attempt(() => kit.act(request, (trx) => webhooks.rotateSecret(trx, webhook.id, graceMs!)));
      if (!result.ok) return webhookPage(request, reply, webhook, { actionError: `Not rotated: ${result.errors.join(' ')}` }, 400);
      if (!result.value) return notFound(kit, request, reply, 'webhooks.rotate', 'webhooks', webhook.id);
      return withSecret(request, reply, result.value, `Signing secret of “${webhook.name}” rotated`);
    });

    app.post('/dashboard/webhooks/:id/delete', ADMIN, async (request, reply) => {
      const webhook = await named(request, reply, 'webhooks.delete');
      if (!webhook) return reply;
      if (field(request.body, 'confirm') !== 'yes') {
        await kit.record(request, { action: 'webhooks.delete', outcome: 'failed', status: 400, reason: 'invalid_input', resourceType: 'webhooks', resourceId: webhook.id });
        return webhookPage(request, reply, webhook, { actionError: 'Not deleted: tick the box to confirm that this webhook and its delivery log should go.' }, 400);
      }
      const removed = await kit.act(request, (trx) => webhooks.remove(trx, webhook.id));
      if (!removed) return notFound(kit, request, reply, 'webhooks.delete', 'webhooks', webhook.id);
      return kit.done(reply, '/dashboard/webhooks', { kind: 'ok', text: `Webhook “${removed.name}” and its delivery log deleted.` });
    });
  };
}
