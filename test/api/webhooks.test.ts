/**
 * Outbound webhooks: the `/api/v1/webhooks` API (CRUD, scopes, the signing secret shown once and
 * never again, target URL checks) and delivery to a real local listener: both signature schemes
 * verified here from the spec, several signatures during a secret rotation, the delivery log, and
 * a target that keeps failing disabled, audited and re-enabled.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createAuditRepo } from '../../src/features/audit/audit.repo.js';
import { createAuditWriter } from '../../src/features/audit/audit.writer.js';
import type { NotificationEvent } from '../../src/features/notifications/notifications.events.js';
import {
  WEBHOOK_DISABLE_AFTER,
  deliverWebhook,
  webhookTargets,
  type WebhookDeliveryDeps,
} from '../../src/features/webhooks/webhooks.delivery.js';
import { uuidv7 } from '../../src/infra/uuid.js';
import { buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';
import { freePort } from '../helpers/processes.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local HTTP consumer: records what it receives, answers with `status` and `answer`. */
async function listener() {
  const received: Received[] = [];
  const state = { status: 200, answer: 'thanks' };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(state.status, { 'content-type': 'text/plain' }).end(state.answer);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/hooks/cachet?tenant=7`,
    received,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The HMAC key of a `whsec_…` secret, as the Standard Webhooks spec says: the base64 after the prefix, decoded. */
function keyOf(secret: string): Buffer {
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Secrets whose Standard Webhooks signature (`v1,<b64>` entries, space-separated) is present and valid. */
function standardSigners(delivery: Received, secrets: string[]): string[] {
  const id = delivery.headers['webhook-id'] as string;
  const timestamp = delivery.headers['webhook-timestamp'] as string;
  const signatures = (delivery.headers['webhook-signature'] as string).split(' ');
  for (const s of signatures) assert.match(s, /^v1,[A-Za-z0-9+/]+=*$/);
  return secrets.filter((secret) => {
    const expected = createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${delivery.body}`).digest('base64');
    return signatures.some((s) => same(s.slice(3), expected));
  });
}

/** Secrets whose `X-Cachet-Signature` (`t=<unix>,v1=<hex>,…`) entry is present and valid. */
function cachetSigners(delivery: Received, secrets: string[]): string[] {
  const parts = (delivery.headers['x-cachet-signature'] as string).split(',');
  const t = parts[0]!.replace(/^t=/, '');
  assert.match(parts[0]!, /^t=\d+$/);
  const v1 = parts.slice(1).map((p) => {
    assert.match(p, /^v1=[0-9a-f]{64}$/);
    return p.slice(3);
  });
  return secrets.filter((secret) => v1.some((sig) => same(sig, createHmac('sha256', keyOf(secret)).update(`${t}.${delivery.body}`).digest('hex'))));
}

function incidentEvent(at: Date): NotificationEvent {
  return {
    id: uuidv7(at.getTime()),
    type: 'incident.created',
    at: at.toISOString(),
    component_id: 3,
    incident: {
      id: 9,
      name: 'API latency',
      status: 1,
      status_name: 'Investigating',
      message: 'We are looking into it.',
      component_id: 3,
      visible: true,
      occurred_at: at.toISOString(),
      permalink: 'http://status.test/incidents/9',
    },
  };
}

for (const dialect of await dialects()) {
  describe(`webhooks API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    async function create(body: Record<string, unknown>, token = admin) {
      const response = await t.request({ method: 'POST', url: '/api/v1/webhooks', token, body });
      assert.equal(response.statusCode, 200, response.body);
      return json<{ data: { id: number; [field: string]: unknown }; meta: { secret: string } }>(response);
    }

    async function refusal(method: string, url: string, body: unknown, token = admin): Promise<string[]> {
      const response = await t.request({ method, url, token, body });
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)} → ${response.body}`);
      return json(response).errors[0].meta.details as string[];
    }

    it('creates, lists, shows, updates and deletes a webhook', async () => {
      const made = await create({ name: 'Ops', url: 'https://hooks.example.com/cachet', events: ['incident.updated', 'incident.created', 'incident.created'] });
      assert.deepEqual({ ...made.data, id: 0 }, {
        id: 0,
        name: 'Ops',
        url: 'https://hooks.example.com/cachet',
        // Deduplicated, in the order of EVENT_TYPES.
        events: ['incident.created', 'incident.updated'],
        enabled: true,
        failures: 0,
        disabled_at: null,
        disabled_reason: null,
        signing_secrets: [{ created_at: '2026-11-25 12:00:00', expires_at: null }],
        created_at: '2026-11-25 12:00:00',
        updated_at: '2026-11-25 12:00:00',
      });
      const id = made.data.id;
      const list = json(await t.request({ url: '/api/v1/webhooks', token: admin }));
      assert.ok(list.data.some((w: { id: number }) => w.id === id));
      assert.equal(list.meta.pagination.current_page, 1);
      assert.equal(json(await t.request({ url: `/api/v1/webhooks/${id}`, token: admin })).data.name, 'Ops');

      const updated = await t.request({ method: 'PUT', url: `/api/v1/webhooks/${id}`, token: admin, body: { name: 'Ops team', events: ['*', 'incident.created'] } });
      assert.equal(updated.statusCode, 200, updated.body);
      assert.equal(json(updated).data.name, 'Ops team');
      assert.deepEqual(json(updated).data.events, ['*']);
      assert.equal(json(updated).data.url, 'https://hooks.example.com/cachet');

      const disabled = json(await t.request({ method: 'PUT', url: `/api/v1/webhooks/${id}`, token: admin, body: { enabled: false } })).data;
      assert.equal(disabled.enabled, false);
      assert.equal(disabled.disabled_at, '2026-11-25 12:00:00');
      assert.match(disabled.disabled_reason, /operator/);

      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/webhooks/${id}`, token: admin })).statusCode, 204);
      assert.equal((await t.request({ url: `/api/v1/webhooks/${id}`, token: admin })).statusCode, 404);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/webhooks/${id}`, token: admin })).statusCode, 404);
      assert.equal((await t.request({ url: `/api/v1/webhooks/${id}/deliveries`, token: admin })).statusCode, 404);
    });

    it('needs webhooks.read to read, webhooks.manage to write and webhooks.delete to delete', async () => {
      const reader = await t.key(['webhooks.read']);
      const manager = await t.key(['webhooks.manage']);
      const other = await t.key(['components.manage', 'keys.read']);
      const body = { name: 'Scoped', url: 'https://hooks.example.com/s', events: ['*'] };
      const denied = await t.request({ method: 'POST', url: '/api/v1/webhooks', token: reader, body });
      assert.equal(denied.statusCode, 403);
      assert.match(json(denied).errors[0].detail, /webhooks\.manage/);
      const { data } = await create(body, manager);
      assert.equal((await t.request({ url: `/api/v1/webhooks/${data.id}`, token: reader })).statusCode, 200);
      assert.equal((await t.request({ url: `/api/v1/webhooks/${data.id}`, token: manager })).statusCode, 200, 'manage implies read');
      assert.equal((await t.request({ url: '/api/v1/webhooks', token: other })).statusCode, 403);
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/webhooks/${data.id}`, token: reader, body: { name: 'x' } })).statusCode, 403);
      assert.equal((await t.request({ method: 'POST', url: `/api/v1/webhooks/${data.id}/secret`, token: reader, body: {} })).statusCode, 403);
      assert.equal((await t.request({ method: 'DELETE', url: `/api/v1/webhooks/${data.id}`, token: manager })).statusCode, 403);
      assert.equal((await t.request({ url: '/api/v1/webhooks' })).statusCode, 401, 'no guest view');
    });

    it('answers the signing secret once: never in a read, a later answer or the audit trail', async () => {
      const made = await create({ name: 'Secretive', url: 'https://hooks.example.com/x', events: ['*'] });
      const rotated = await t.request({ method: 'POST', url: `/api/v1/webhooks/${made.data.id}/secret`, token: admin, body: {} });
      assert.equal(rotated.statusCode, 200, rotated.body);
      const second = json(rotated).meta.secret as string;
      assert.notEqual(second, made.meta.secret);
      const secrets = [made.meta.secret, second];
      for (const secret of secrets) assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      const reads = [
        await t.request({ url: `/api/v1/webhooks/${made.data.id}`, token: admin }),
        await t.request({ url: '/api/v1/webhooks?per_page=100', token: admin }),
        await t.request({ method: 'PUT', url: `/api/v1/webhooks/${made.data.id}`, token: admin, body: { name: 'Still secret' } }),
      ];
      for (const read of reads) {
        assert.equal(read.statusCode, 200);
        assert.ok(!read.body.includes('whsec_'), read.body);
      }
      const events = await t.database.db.selectFrom('audit_events').selectAll().where('resource_type', '=', 'webhooks').execute();
      assert.ok(events.some((e) => e.action === 'webhooks.create'));
      const rotation = events.find((e) => e.action === 'webhooks.rotate' && e.outcome === 'allowed' && e.resource_id === String(made.data.id));
      assert.ok(rotation, 'the rotation is audited');
      assert.ok(rotation.changes?.includes('signing_secrets'), 'the rotation shows as a change of the signing secrets (their times)');
      const all = JSON.stringify(await t.database.db.selectFrom('audit_events').selectAll().execute());
      for (const secret of secrets) {
        assert.ok(!all.includes(secret.slice('whsec_'.length, 30)), 'no secret, or its start, in any audit event');
      }
      assert.ok(!all.includes('whsec_'));
    });

    it('refuses bad targets and event lists with a 400 naming the problem', async () => {
      const ok = { name: 'Bad', url: 'https://hooks.example.com/', events: ['*'] };
      assert.match((await refusal('POST', '/api/v1/webhooks', { ...ok, url: 'ftp://hooks.example.com/x' })).join(' '), /http or https/);
      assert.match((await refusal('POST', '/api/v1/webhooks', { ...ok, url: 'https://user:pass@hooks.example.com/x' })).join(' '), /credentials/);
      assert.match((await refusal('POST', '/api/v1/webhooks', { ...ok, url: 'not a url' })).join(' '), /absolute http or https URL/);
      assert.match((await refusal('POST', '/api/v1/webhooks', { ...ok, events: [] })).join(' '), /at least one event/);
      assert.match((await refusal('POST', '/api/v1/webhooks', { ...ok, events: ['incident.deleted'] })).join(' '), /Unknown event type "incident\.deleted"/);
      assert.ok((await refusal('POST', '/api/v1/webhooks', { url: ok.url, events: ['*'] })).some((d) => /name/.test(d)));
      const { data } = await create(ok);
      assert.match((await refusal('PUT', `/api/v1/webhooks/${data.id}`, { url: 'javascript:alert(1)' })).join(' '), /http or https/);
      assert.match((await refusal('POST', `/api/v1/webhooks/${data.id}/secret`, { grace: 'soon' })).join(' '), /duration/);
      assert.match((await refusal('POST', `/api/v1/webhooks/${data.id}/secret`, { grace: '31d' })).join(' '), /30d/);
      assert.equal(json(await t.request({ url: `/api/v1/webhooks/${data.id}`, token: admin })).data.url, ok.url, 'a refused update changes nothing');
    });

    describe('without CACHET_WEBHOOK_ALLOW_PRIVATE', () => {
      let strict: TestApp;
      let token: string;
      before(async () => {
        strict = await buildTestApp(dialect, { webhookAllowPrivate: false });
        token = await strict.key(['*']);
      });
      after(() => strict.close());

      it('refuses a literal loopback, private or link-local target, and localhost', async () => {
        for (const url of ['http://127.0.0.1:8080/x', 'http://localhost/x', 'http://LOCALHOST./x', 'http://api.localhost/x', 'http://[::1]/x', 'http://10.1.2.3/x', 'http://169.254.169.254/latest', 'http://2130706433/', 'http://[::ffff:192.168.0.1]/']) {
          const response = await strict.request({ method: 'POST', url: '/api/v1/webhooks', token, body: { name: 'Inside', url, events: ['*'] } });
          assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
          assert.match(json(response).errors[0].meta.details[0], /CACHET_WEBHOOK_ALLOW_PRIVATE/, url);
        }
        const outside = await strict.request({ method: 'POST', url: '/api/v1/webhooks', token, body: { name: 'Outside', url: 'https://hooks.example.com/x', events: ['*'] } });
        assert.equal(outside.statusCode, 200, outside.body);
      });

      it('refuses a name that resolves to a private address at send time', async () => {
        const row = await strict.database.db
          .insertInto('webhooks')
          .values({ name: 'Sneaky', url: 'http://localhost:9/x', events: '["*"]', secrets: JSON.stringify([{ secret: 'whsec_AAAA', created_at: '2026-11-25T12:00:00.000Z', expires_at: null }]), enabled: 1, created_at: '2026-11-25T12:00:00.000Z', updated_at: '2026-11-25T12:00:00.000Z' })
          .returning('id')
          .executeTakeFirstOrThrow();
        const deps = { db: strict.database.db, clock: strict.clock, allowPrivate: false, timeoutMs: 2000, logger: { error: () => undefined }, writer: createAuditWriter({ repo: createAuditRepo(), clock: strict.clock, pepper: testConfig().pepper }) };
        const result = await deliverWebhook(deps, row.id, incidentEvent(strict.clock.now()), 1);
        assert.equal(result.ok, false);
        assert.ok(!result.ok && result.retry);
        assert.match(!result.ok ? result.error : '', /private, loopback or link-local/);
      });
    });

    describe('delivery', () => {
      let consumer: Awaited<ReturnType<typeof listener>>;
      let deps: WebhookDeliveryDeps;
      const logged: Array<{ fields: unknown; message: string }> = [];

      before(async () => {
        consumer = await listener();
        deps = {
          db: t.database.db,
          clock: t.clock,
          allowPrivate: true,
          timeoutMs: 3000,
          logger: { error: ((fields: unknown, message: string) => void logged.push({ fields, message })) as WebhookDeliveryDeps['logger']['error'] },
          writer: createAuditWriter({ repo: createAuditRepo(), clock: t.clock, pepper: testConfig().pepper }),
        };
      });
      after(() => consumer.close());
      beforeEach(() => {
        consumer.received.length = 0;
        consumer.state.status = 200;
        consumer.state.answer = 'thanks';
      });

      const show = async (id: number) => json(await t.request({ url: `/api/v1/webhooks/${id}`, token: admin })).data;
      const deliveries = async (id: number) => json(await t.request({ url: `/api/v1/webhooks/${id}/deliveries`, token: admin }));

      it('targets the enabled webhooks that want the event type', async () => {
        const some = await create({ name: 'Incidents only', url: consumer.url, events: ['incident.created'] });
        const every = await create({ name: 'Everything', url: consumer.url, events: ['*'] });
        const off = await create({ name: 'Off', url: consumer.url, events: ['*'] });
        await t.request({ method: 'PUT', url: `/api/v1/webhooks/${off.data.id}`, token: admin, body: { enabled: false } });
        const ids = async (type: string) => (await webhookTargets(t.database.db, type)).map((w) => w.id);
        assert.ok((await ids('incident.created')).includes(some.data.id));
        assert.ok((await ids('incident.created')).includes(every.data.id));
        assert.ok(!(await ids('component.status_changed')).includes(some.data.id));
        assert.ok((await ids('component.status_changed')).includes(every.data.id));
        assert.ok(!(await ids('incident.created')).includes(off.data.id));
        assert.deepEqual(Object.keys((await webhookTargets(t.database.db, 'incident.created'))[0]!).sort(), ['id', 'name'], 'no secret leaves with a target');
        for (const made of [some, every, off]) await t.request({ method: 'DELETE', url: `/api/v1/webhooks/${made.data.id}`, token: admin });
      });

      it('POSTs the event as JSON, signed per Standard Webhooks and X-Cachet-Signature, and logs the attempt', async () => {
        const made = await create({ name: 'Consumer', url: consumer.url, events: ['incident.created'] });
        const event = incidentEvent(new Date('2026-11-25T11:59:58Z'));
        assert.deepEqual(await deliverWebhook(deps, made.data.id, event, 1), { ok: true });
        assert.equal(consumer.received.length, 1);
        const [delivery] = consumer.received as [Received];
        assert.deepEqual(JSON.parse(delivery.body), { id: event.id, type: 'incident.created', timestamp: event.at, data: event });
        assert.equal(delivery.headers['content-type'], 'application/json');
        assert.equal(delivery.headers['user-agent'], 'Cachet-TS-Webhooks');
        assert.equal(delivery.headers['webhook-id'], event.id);
        assert.equal(delivery.headers['webhook-timestamp'], String(Math.floor(t.clock.now().getTime() / 1000)));
        assert.deepEqual(standardSigners(delivery, [made.meta.secret]), [made.meta.secret]);
        assert.deepEqual(cachetSigners(delivery, [made.meta.secret]), [made.meta.secret]);
        assert.equal((delivery.headers['webhook-signature'] as string).split(' ').length, 1);
        // A tampered body fails both checks.
        assert.deepEqual(standardSigners({ ...delivery, body: delivery.body.replace('latency', 'lag') }, [made.meta.secret]), []);
        assert.deepEqual(cachetSigners({ ...delivery, body: delivery.body.replace('latency', 'lag') }, [made.meta.secret]), []);

        // A retry carries the same webhook-id, so the consumer can drop the duplicate.
        assert.deepEqual(await deliverWebhook(deps, made.data.id, event, 2), { ok: true });
        assert.equal(consumer.received[1]!.headers['webhook-id'], event.id);

        const log = await deliveries(made.data.id);
        assert.equal(log.meta.pagination.total, 2);
        assert.deepEqual(
          log.data.map((d: Record<string, unknown>) => ({ ...d, id: 0, duration_ms: 0 })),
          [2, 1].map((attempt) => ({
            id: 0,
            webhook_id: made.data.id,
            event_id: event.id,
            event_type: 'incident.created',
            attempt,
            status: 200,
            error: null,
            response: 'thanks',
            duration_ms: 0,
            at: '2026-11-25 12:00:00',
          })),
        );
        assert.ok(log.data[0].id > log.data[1].id, 'newest first');
        const paged = json(await t.request({ url: `/api/v1/webhooks/${made.data.id}/deliveries?per_page=1&page=2`, token: admin }));
        assert.deepEqual(paged.data.map((d: { attempt: number }) => d.attempt), [1]);
      });

      it('signs with the new and the previous secret during a rotation, and with the new one only after the grace', async () => {
        const made = await create({ name: 'Rotating', url: consumer.url, events: ['*'] });
        const old = made.meta.secret;
        const rotated = await t.request({ method: 'POST', url: `/api/v1/webhooks/${made.data.id}/secret`, token: admin, body: { grace: '2h' } });
        assert.equal(rotated.statusCode, 200, rotated.body);
        const fresh = json(rotated).meta.secret as string;
        assert.deepEqual(json(rotated).data.signing_secrets, [
          { created_at: '2026-11-25 12:00:00', expires_at: null },
          { created_at: '2026-11-25 12:00:00', expires_at: '2026-11-25 14:00:00' },
        ]);

        assert.deepEqual(await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), 1), { ok: true });
        const during = consumer.received.at(-1)!;
        assert.equal((during.headers['webhook-signature'] as string).split(' ').length, 2);
        assert.equal((during.headers['x-cachet-signature'] as string).split(',').length, 3);
        assert.deepEqual(standardSigners(during, [fresh, old]), [fresh, old]);
        assert.deepEqual(cachetSigners(during, [fresh, old]), [fresh, old]);

        t.clock.advance(2 * 3_600_000 + 1000);
        try {
          assert.equal((await show(made.data.id)).signing_secrets.length, 1);
          assert.deepEqual(await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), 1), { ok: true });
          const later = consumer.received.at(-1)!;
          assert.equal((later.headers['webhook-signature'] as string).split(' ').length, 1);
          assert.deepEqual(standardSigners(later, [fresh, old]), [fresh]);
          assert.deepEqual(cachetSigners(later, [fresh, old]), [fresh]);
        } finally {
          t.clock.advance(-(2 * 3_600_000 + 1000));
        }
      });

      it('counts a failed attempt, asks for a retry, and logs the status and the start of the answer', async () => {
        const made = await create({ name: 'Flaky', url: consumer.url, events: ['*'] });
        consumer.state.status = 500;
        consumer.state.answer = `oops ${'x'.repeat(2000)}`;
        const result = await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), 1);
        assert.equal(result.ok, false);
        assert.ok(!result.ok && result.retry);
        assert.match(!result.ok ? result.error : '', /answered 500/);
        assert.ok(!result.ok && !result.error.includes('/hooks/cachet'), 'the error names the origin, not the path');
        assert.equal((await show(made.data.id)).failures, 1);
        const [entry] = (await deliveries(made.data.id)).data;
        assert.equal(entry.status, 500);
        assert.equal(entry.error, 'answered 500');
        assert.equal(entry.response.length, 1000);
        assert.ok(entry.response.startsWith('oops xxx'));

        // A 4xx is retried too (the consumer may be fixed), and counts.
        consumer.state.status = 404;
        const missing = await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), 2);
        assert.ok(!missing.ok && missing.retry);
        assert.equal((await show(made.data.id)).failures, 2);

        // A success clears the count.
        consumer.state.status = 204;
        assert.deepEqual(await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), 3), { ok: true });
        assert.equal((await show(made.data.id)).failures, 0);
      });

      it('counts a connection failure like a failed answer', async () => {
        const closed = `http://127.0.0.1:${await freePort()}/gone`;
        const made = await create({ name: 'Nobody home', url: closed, events: ['*'] });
        const result = await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), 1);
        assert.ok(!result.ok && result.retry);
        assert.match(!result.ok ? result.error : '', /ECONNREFUSED/);
        const [entry] = (await deliveries(made.data.id)).data;
        assert.equal(entry.status, null);
        assert.match(entry.error, /ECONNREFUSED/);
        assert.equal((await show(made.data.id)).failures, 1);
      });

      it(`disables a webhook after ${WEBHOOK_DISABLE_AFTER} failures in a row, logs and audits it; re-enabling resets the count`, async () => {
        const made = await create({ name: 'Broken consumer', url: consumer.url, events: ['*'] });
        consumer.state.status = 503;
        logged.length = 0;
        for (let attempt = 1; attempt < WEBHOOK_DISABLE_AFTER; attempt++) {
          const result = await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), attempt);
          assert.ok(!result.ok && result.retry, `attempt ${attempt}`);
        }
        assert.equal((await show(made.data.id)).enabled, true);
        assert.equal(logged.length, 0);
        const last = await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), WEBHOOK_DISABLE_AFTER);
        assert.ok(!last.ok && !last.retry, 'no retry once disabled');

        const shown = await show(made.data.id);
        assert.equal(shown.enabled, false);
        assert.equal(shown.failures, WEBHOOK_DISABLE_AFTER);
        assert.equal(shown.disabled_at, '2026-11-25 12:00:00');
        assert.match(shown.disabled_reason, new RegExp(`${WEBHOOK_DISABLE_AFTER} failed deliveries.*answered 503`));
        assert.equal(logged.length, 1);
        assert.match(logged[0]!.message, /Broken consumer/);
        assert.ok(!JSON.stringify(logged).includes('whsec_') && !JSON.stringify(logged).includes(made.meta.secret.slice(6, 20)));

        const event = await t.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'webhooks.update').where('resource_id', '=', String(made.data.id)).orderBy('seq', 'desc').executeTakeFirstOrThrow();
        assert.equal(event.actor_type, 'system');
        assert.equal(event.user_agent, 'cachet notifications');
        assert.equal(event.outcome, 'allowed');
        const changes = JSON.parse(event.changes!) as Record<string, [unknown, unknown]>;
        assert.deepEqual(changes.enabled, [true, false]);
        assert.ok(!event.changes!.includes('whsec_'));

        // Disabled: nothing is sent, and the queue is told not to retry.
        const before = consumer.received.length;
        const refused = await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), 1);
        assert.ok(!refused.ok && !refused.retry);
        assert.equal(consumer.received.length, before);
        assert.ok(!(await webhookTargets(t.database.db, 'incident.created')).some((w) => w.id === made.data.id));

        const enabled = await t.request({ method: 'PUT', url: `/api/v1/webhooks/${made.data.id}`, token: admin, body: { enabled: true } });
        assert.equal(enabled.statusCode, 200, enabled.body);
        assert.deepEqual(
          (({ enabled: on, failures, disabled_at, disabled_reason }) => ({ on, failures, disabled_at, disabled_reason }))(json(enabled).data),
          { on: true, failures: 0, disabled_at: null, disabled_reason: null },
        );
        consumer.state.status = 200;
        assert.deepEqual(await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), 1), { ok: true });
      });

      it('drops a delivery to a deleted webhook without a retry', async () => {
        const made = await create({ name: 'Short-lived', url: consumer.url, events: ['*'] });
        await t.request({ method: 'DELETE', url: `/api/v1/webhooks/${made.data.id}`, token: admin });
        const result = await deliverWebhook(deps, made.data.id, incidentEvent(t.clock.now()), 1);
        assert.ok(!result.ok && !result.retry);
        assert.equal(consumer.received.length, 0);
      });
    });
  });
}
