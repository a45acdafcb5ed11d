/**
 * Notifications end to end in one process: changes made through the API reach a real SMTP server
 * (the `smtp-server` package on loopback) and a real HTTP listener through the durable queue, to
 * exactly the right people, once; the amplification guard holds a key's notifications past its
 * budget until an operator decides.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createAudited } from '../../src/features/audit/audited.js';
import { systemContext } from '../../src/features/audit/audit.types.js';
import { heldNotifications } from '../../src/features/notifications/notifications.held.js';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';
import { startSmtp, type SmtpSink } from '../helpers/smtp.js';

const BUDGET = 3;

for (const dialect of await dialects()) {
  describe(`notification delivery (${dialect})`, () => {
    let t: TestApp;
    let smtp: SmtpSink;
    let admin: string;
    let componentA: number;
    let componentB: number;

    before(async () => {
      smtp = await startSmtp();
      t = await buildTestApp(dialect, { smtpUrl: smtp.url, notifyBudget: 1000 });
      admin = await t.key(['*']);
      componentA = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'API', status: 1 } })).data.id;
      componentB = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'Website', status: 1 } })).data.id;
      await subscribe('all@example.org', undefined, true);
      await subscribe('a@example.org', [componentA], true);
      await subscribe('b@example.org', [componentB], true);
      await subscribe('unverified@example.org', undefined, false);
      await smtp.waitFor(1);
      await settle();
      verification = [...smtp.mails];
      smtp.mails.length = 0;
    });
    let verification: Array<{ to: string; subject: string; raw: string }> = [];
    after(async () => {
      await t?.close();
      await smtp?.close();
    });

    async function subscribe(email: string, components: number[] | undefined, verify: boolean) {
      const response = await t.request({ method: 'POST', url: '/api/v1/subscribers', token: admin, body: { email, verify, ...(components ? { components } : {}) } });
      assert.equal(response.statusCode, 200, response.body);
    }

    /** Waits until the queue has nothing due and the worker nothing running. */
    async function settle(timeoutMs = 20_000) {
      const started = Date.now();
      for (;;) {
        const row = await t.database.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number | string>().as('n')).where('status', '=', 'ready').where('run_at', '<=', t.clock.now().toISOString()).executeTakeFirstOrThrow();
        if (Number(row.n) === 0 && t.server.jobs.worker.busy() === 0) return;
        if (Date.now() - started > timeoutMs) throw new Error(`the queue did not settle: ${row.n} jobs due`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    const recipients = () => smtp.mails.map((m) => m.to).sort();
    const incident = (body: Record<string, unknown>, token = admin) => t.request({ method: 'POST', url: '/api/v1/incidents', token, body: { status: 1, visible: 1, ...body } });

    it('sent a verification mail to the one subscriber created unverified, and to nobody else', () => {
      assert.deepEqual(verification.map((m) => m.to), ['unverified@example.org']);
      assert.match(verification[0]!.raw, /http:\/\/status\.test\/subscribe\/verify\?/);
    });

    it('mails a new incident to its component\'s subscribers and to those of everything: nobody else, nobody unverified', async () => {
      const response = await incident({ name: 'Errors on <b>API</b>', message: 'We are looking into it.', component_id: componentA, component_status: 3 });
      assert.equal(response.statusCode, 200, response.body);
      await smtp.waitFor(2);
      await settle();
      assert.deepEqual(recipients(), ['a@example.org', 'all@example.org']);
      const mail = smtp.mails[0]!;
      assert.match(mail.subject, /Errors on <b>API<\/b>/);
      assert.match(mail.raw, /Content-Type: multipart\/alternative/i);
      assert.match(mail.raw, /Content-Type: text\/plain/i);
      assert.match(mail.raw, /Content-Type: text\/html/i);
      assert.match(mail.headers.get('list-unsubscribe') ?? '', /^<http:\/\/status\.test\/unsubscribe\?.+>$/);
      assert.equal(mail.headers.get('list-unsubscribe-post'), 'List-Unsubscribe=One-Click');
      assert.match(mail.raw, /&lt;b&gt;API&lt;\/b&gt;/, 'the name is escaped in the HTML part');
      // One incident with a status change is one message, not an incident mail and a status mail.
      assert.equal(smtp.mails.filter((m) => m.to === 'a@example.org').length, 1);
      smtp.mails.length = 0;
    });

    it('stops mailing an address after its one-click unsubscribe, while a control keeps getting mail', async () => {
      await incident({ name: 'First', message: 'one', component_id: componentB, component_status: 2 });
      await smtp.waitFor(2);
      await settle();
      const bMail = smtp.mails.find((m) => m.to === 'b@example.org')!;
      const link = /^<(.+)>$/.exec(bMail.headers.get('list-unsubscribe')!)![1]!;
      const url = new URL(link);
      // RFC 8058: the mail client POSTs this body to the URL, with no cookie and no other context.
      const unsubscribed = await t.server.app.inject({ method: 'POST', url: url.pathname + url.search, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(unsubscribed.statusCode, 200, unsubscribed.body);
      smtp.mails.length = 0;
      await incident({ name: 'Second', message: 'two', component_id: componentB, component_status: 3 });
      await smtp.waitFor(1);
      await settle();
      assert.deepEqual(recipients(), ['all@example.org']);
      smtp.mails.length = 0;
    });

    it('mails nobody for notify=false, a hidden incident, or a silent status change', async () => {
      assert.equal((await incident({ name: 'Quiet', message: 'shh', notify: false })).statusCode, 200);
      assert.equal((await incident({ name: 'Hidden', message: 'shh', visible: 0 })).statusCode, 200);
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/components/${componentA}`, token: admin, body: { status: 4, silent: true } })).statusCode, 200);
      await settle();
      assert.deepEqual(recipients(), []);
      // The same status change without `silent` is told to the component's subscribers.
      assert.equal((await t.request({ method: 'PUT', url: `/api/v1/components/${componentA}`, token: admin, body: { status: 1 } })).statusCode, 200);
      await smtp.waitFor(2);
      await settle();
      assert.deepEqual(recipients(), ['a@example.org', 'all@example.org']);
      assert.match(smtp.mails[0]!.raw, /Major Outage/);
      smtp.mails.length = 0;
    });

    it('mails scheduled maintenance to every verified subscriber', async () => {
      const response = await t.request({ method: 'POST', url: '/api/v1/schedules', token: admin, body: { name: 'Database upgrade', message: 'Brief downtime.', status: 0, scheduled_at: '2026-12-01 02:00' } });
      assert.equal(response.statusCode, 200, response.body);
      await smtp.waitFor(2);
      await settle();
      assert.deepEqual(recipients(), ['a@example.org', 'all@example.org']);
      assert.match(smtp.mails[0]!.subject, /Database upgrade/);
      smtp.mails.length = 0;
    });

    describe('webhooks', () => {
      let listener: Server;
      let url = '';
      const received: Array<{ headers: IncomingHttpHeaders; body: string; answered: number }> = [];
      let failuresLeft = 0;

      before(async () => {
        listener = createServer((request, response) => {
          let body = '';
          request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          request.on('end', () => {
            const status = failuresLeft > 0 ? 503 : 200;
            if (failuresLeft > 0) failuresLeft -= 1;
            received.push({ headers: request.headers, body, answered: status });
            response.writeHead(status).end(status === 200 ? 'thanks' : 'try later');
          });
        });
        await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
        url = `http://127.0.0.1:${(listener.address() as { port: number }).port}/hook`;
      });
      after(() => new Promise<void>((resolve) => listener.close(() => resolve())));

      it('delivers a signed event; after two failures it arrives once more on success, and never again', async () => {
        const created = await t.request({ method: 'POST', url: '/api/v1/webhooks', token: admin, body: { name: 'ops', url, events: ['incident.created'] } });
        assert.equal(created.statusCode, 200, created.body);
        const secret = json(created).meta.secret as string;
        failuresLeft = 2;
        await incident({ name: 'Webhook incident', message: 'x', component_id: componentB, component_status: 2 });
        await settle();
        assert.equal(received.length, 1);
        // Each retry waits its backoff on the queue's clock: 10 s, then 20 s.
        t.clock.advance(10_000);
        t.server.jobs.worker.wake();
        await settle();
        assert.equal(received.length, 2);
        t.clock.advance(20_000);
        t.server.jobs.worker.wake();
        await settle();
        assert.deepEqual(received.map((r) => r.answered), [503, 503, 200]);
        t.clock.advance(3_600_000);
        t.server.jobs.worker.wake();
        await settle();
        assert.equal(received.length, 3, 'never again after the success');
        const { headers, body } = received[2]!;
        assert.equal(new Set(received.map((r) => r.headers['webhook-id'])).size, 1, 'one event id across retries');
        const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
        const standard = createHmac('sha256', key).update(`${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`).digest('base64');
        assert.ok(String(headers['webhook-signature']).split(' ').includes(`v1,${standard}`));
        const t1 = /t=(\d+)/.exec(String(headers['x-cachet-signature']))![1]!;
        const cachet = createHmac('sha256', key).update(`${t1}.${body}`).digest('hex');
        assert.ok(String(headers['x-cachet-signature']).includes(`v1=${cachet}`));
        const payload = JSON.parse(body) as { type: string; data: { incident: { name: string } } };
        assert.equal(payload.type, 'incident.created');
        assert.equal(payload.data.incident.name, 'Webhook incident');
        smtp.mails.length = 0;
      });
    });

  });

  describe(`the amplification guard (${dialect})`, () => {
    let t: TestApp;
    let smtp: SmtpSink;
    let leaked: string;

    before(async () => {
      smtp = await startSmtp();
      t = await buildTestApp(dialect, { smtpUrl: smtp.url, notifyBudget: BUDGET });
      const admin = await t.key(['*']);
      for (const email of ['one@example.org', 'two@example.org']) {
        assert.equal((await t.request({ method: 'POST', url: '/api/v1/subscribers', token: admin, body: { email, verify: true } })).statusCode, 200);
      }
      leaked = await t.key(['incidents.manage']);
    });
    after(async () => {
      await t?.close();
      await smtp?.close();
    });

    async function settle() {
      for (let i = 0; i < 800; i += 1) {
        const row = await t.database.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number | string>().as('n')).where('status', '=', 'ready').executeTakeFirstOrThrow();
        if (Number(row.n) === 0 && t.server.jobs.worker.busy() === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error('the queue did not settle');
    }
    const report = (name: string) => t.request({ method: 'POST', url: '/api/v1/incidents', token: leaked, body: { name, message: 'Please log in at https://phish.example to keep your account', status: 1, visible: 1 } });

    it('holds the writes past the budget: the change is made, its mail is not, and the hold is audited and logged', async () => {
      for (let i = 0; i < BUDGET; i += 1) assert.equal((await report(`within budget ${i}`)).statusCode, 200);
      await smtp.waitFor(2 * BUDGET);
      await settle();
      smtp.mails.length = 0;
      const over = await report('over budget');
      assert.equal(over.statusCode, 200, 'the write itself is made');
      assert.equal(json(over).data.name, 'over budget');
      await settle();
      assert.equal(smtp.mails.length, 0, 'nobody is mailed');
      const held = await heldNotifications(t.server.jobs.queue).list();
      assert.equal(held.length, 1);
      assert.equal(held[0]!.event_type, 'incident.created');
      assert.equal(held[0]!.subject, 'over budget');
      const events = await t.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'notifications.hold').execute();
      assert.equal(events.length, 1);
      assert.equal(events[0]!.resource_id, String(held[0]!.id));
      assert.equal(events[0]!.actor_type, 'key');
      assert.equal(events[0]!.reason, 'notify_budget_exceeded');
    });

    it('sends a released batch once; a dropped one never; each decision audited', async () => {
      const queue = t.server.jobs.queue;
      const [batch] = await heldNotifications(queue).list();
      const audited = createAudited(t.database.db, t.server.audit.writer);
      const released = await audited(systemContext('cachet notifications release'), (trx) => heldNotifications(queue).decide(trx, batch!.id, 'release'));
      assert.equal(released?.id, batch!.id);
      t.server.jobs.worker.wake();
      await smtp.waitFor(2);
      await settle();
      assert.deepEqual(smtp.mails.map((m) => m.to).sort(), ['one@example.org', 'two@example.org']);
      assert.equal(await audited(systemContext('cachet notifications release'), (trx) => heldNotifications(queue).decide(trx, batch!.id, 'release')), null, 'released once');
      smtp.mails.length = 0;
      assert.equal((await report('held again')).statusCode, 200);
      const [again] = await heldNotifications(queue).list();
      assert.ok(again);
      await audited(systemContext('cachet notifications drop'), (trx) => heldNotifications(queue).decide(trx, again.id, 'drop'));
      await settle();
      assert.equal(smtp.mails.length, 0);
      const decisions = await t.database.db.selectFrom('audit_events').select(['action', 'resource_id']).where('action', 'in', ['notifications.release', 'notifications.drop']).orderBy('seq').execute();
      assert.deepEqual(decisions.map((d) => [d.action, d.resource_id]), [['notifications.release', String(batch!.id)], ['notifications.drop', String(again.id)]]);
    });
  });
}
