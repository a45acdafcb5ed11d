/**
 * Scheduled rotation with delivery: a due key gets a successor whose token reaches its consumer
 * (a file, a signed webhook, a command), and only then does the old key's grace start. A failed
 * delivery locks nobody out, shows on the key, is audited and retried; two schedulers at once make
 * one successor; private webhook targets are refused unless allowed. Real files, a real HTTP
 * listener, a real command.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { createServer } from '../../src/main.js';
import { createAudited } from '../../src/features/audit/audited.js';
import { systemContext } from '../../src/features/audit/audit.types.js';
import type { RotationPolicyInput } from '../../src/features/keys/keys.delivery.js';
import { RotationRaceLost } from '../../src/features/keys/keys.service.js';
import { buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const HOUR = 3_600_000;

/** A local webhook receiver: records each request; answers `status`. */
async function receiver(port = 0): Promise<{ server: HttpServer; url: string; port: number; received: { headers: IncomingHttpHeaders; body: string }[]; status: number }> {
  const state = { received: [] as { headers: IncomingHttpHeaders; body: string }[], status: 204 };
  const server = createHttpServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      state.received.push({ headers: request.headers, body });
      response.statusCode = state.status;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return Object.assign(state, { server, port: actual, url: `http://127.0.0.1:${actual}/hooks/cachet` });
}

const closeHttp = (server: HttpServer) => new Promise<void>((resolve) => server.close(() => resolve()));

for (const dialect of await dialects()) {
  describe(`scheduled key rotation with delivery (${dialect})`, () => {
    let t: TestApp;
    let dir: string;

    before(async () => {
      t = await buildTestApp(dialect);
      dir = mkdtempSync('/tmp/rotate-test-');
    });
    after(async () => {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function keyWithPolicy(rotation: RotationPolicyInput, expires = '30d') {
      const created = await t.server.keys.create({ name: `rotating-${Math.random()}`, scopes: ['components.read'], expires, createdBy: 'cli', rotation, hostTargets: true });
      if (!created.ok) throw new Error(created.error);
      return created;
    }
    const works = async (token: string) => (await t.request({ url: '/api/v1/keys/self', token })).statusCode === 200;
    const events = async (id: number) =>
      t.database.db.selectFrom('audit_events').selectAll().where('resource_type', '=', 'keys').where('resource_id', '=', String(id)).orderBy('seq').execute();
    const successorsOf = async (id: number) => t.database.db.selectFrom('api_keys').selectAll().where('replaces_id', '=', id).execute();

    it('delivers the successor to a file (mode 0600), then starts the grace; the new token works and is nowhere in the trail', async () => {
      const file = path.join(dir, 'deploy.key');
      writeFileSync(file, 'previous content\n', { mode: 0o644 });
      const old = await keyWithPolicy({ every: '1h', grace: '10m', deliver: { type: 'file', path: file } });
      assert.deepEqual((await t.server.rotation.runDue()).rotated, [], 'not due before an hour has passed');
      t.clock.advance(HOUR);
      const report = await t.server.rotation.runDue();
      assert.equal(report.rotated.length, 1);
      assert.equal(report.rotated[0]!.id, old.key.id);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const token = readFileSync(file, 'utf8').trim();
      assert.match(token, /^cachet_[0-9A-Za-z]{49}$/);
      assert.ok(await works(token), 'the delivered token is a working key');
      assert.ok(await works(old.token), 'the old key works during the grace');
      const shown = await t.server.keys.show(old.key.id);
      assert.equal(shown!.replaced_by_id, report.rotated[0]!.successor_id);
      assert.equal(shown!.expires_at, new Date(t.clock.now().getTime() + 10 * 60_000).toISOString());
      assert.equal(shown!.delivery!.last_error, null);
      assert.equal(shown!.delivery!.delivered_at, t.clock.now().toISOString());
      const successor = await t.server.keys.show(report.rotated[0]!.successor_id);
      assert.deepEqual(successor!.rotation, shown!.rotation, 'the successor inherits the policy');
      assert.equal(successor!.delivery!.next_attempt_at, new Date(t.clock.now().getTime() + HOUR).toISOString());
      const trail = await events(old.key.id);
      assert.ok(trail.some((e) => e.action === 'keys.rotate' && e.actor_type === 'system'));
      assert.ok(trail.some((e) => e.action === 'keys.deliver' && e.outcome === 'allowed'));
      const everything = JSON.stringify(await t.database.db.selectFrom('audit_events').selectAll().execute());
      assert.ok(!everything.includes(token.slice(12)), 'no token in the audit trail');
      t.clock.advance(11 * 60_000);
      assert.equal(await works(old.token), false, 'the old key stops when the grace ends');
      assert.deepEqual((await t.server.rotation.runDue()).rotated, [], 'the successor is not due yet');
    });

    it('delivers to a webhook signed per Standard Webhooks and with X-Cachet-Signature, with the secret shown once', async () => {
      const hook = await receiver();
      try {
        const old = await keyWithPolicy({ every: '1d', grace: '1h', deliver: { type: 'webhook', url: hook.url } });
        const secret = old.webhookSecret!;
        assert.match(secret, /^whsec_[A-Za-z0-9+/=]+$/);
        assert.ok(!JSON.stringify(await t.server.keys.show(old.key.id)).includes(secret.slice(6)), 'the key view never shows the secret');
        t.clock.advance(24 * HOUR);
        const report = await t.server.rotation.runDue();
        const mine = report.rotated.filter((r) => r.id === old.key.id);
        assert.equal(mine.length, 1, JSON.stringify(report));
        assert.equal(hook.received.length, 1);
        const { headers, body } = hook.received[0]!;
        const payload = JSON.parse(body) as { key_id: number; prefix: string; token: string; expires_at: string; replaces_id: number };
        assert.equal(payload.replaces_id, old.key.id);
        assert.equal(payload.key_id, mine[0]!.successor_id);
        assert.equal(payload.prefix, payload.token.slice(0, 12));
        assert.ok(await works(payload.token));
        const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
        // Standard Webhooks: base64 HMAC-SHA256 of "<id>.<timestamp>.<body>".
        const id = headers['webhook-id'] as string;
        const timestamp = headers['webhook-timestamp'] as string;
        assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60);
        const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
        assert.deepEqual((headers['webhook-signature'] as string).split(' '), [`v1,${expected}`]);
        // X-Cachet-Signature: hex HMAC-SHA-256 of "<t>.<body>".
        const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(headers['x-cachet-signature'] as string);
        assert.ok(match);
        assert.equal(match[2], createHmac('sha256', key).update(`${match[1]}.${body}`).digest('hex'));
        const forged = createHmac('sha256', Buffer.from('another secret')).update(`${match[1]}.${body}`).digest('hex');
        assert.notEqual(match[2], forged);
      } finally {
        await closeHttp(hook.server);
      }
    });

    it('delivers to a command: the token on stdin only, never in its arguments or environment', async () => {
      const out = path.join(dir, 'command-out');
      const script = path.join(dir, 'install-key.mjs');
      writeFileSync(
        script,
        `import { readFileSync, writeFileSync } from 'node:fs';\n` +
          `const token = readFileSync(0, 'utf8');\n` +
          `writeFileSync(${JSON.stringify(out)}, token);\n` +
          `writeFileSync(${JSON.stringify(out + '.context')}, JSON.stringify({ argv: process.argv, env: process.env }));\n`,
      );
      const old = await keyWithPolicy({ every: '2h', grace: '1h', deliver: { type: 'command', argv: [process.execPath, script, '--service', 'api'] } });
      t.clock.advance(2 * HOUR);
      const report = await t.server.rotation.runDue();
      assert.equal(report.rotated.filter((r) => r.id === old.key.id).length, 1, JSON.stringify(report));
      const token = readFileSync(out, 'utf8').trim();
      assert.ok(await works(token));
      const context = readFileSync(out + '.context', 'utf8');
      assert.ok(!context.includes(token.slice(7)), 'neither argv nor env holds the token');
      assert.equal((JSON.parse(context) as { env: Record<string, string> }).env.CACHET_KEY_REPLACES_ID, String(old.key.id));
      const failing = await keyWithPolicy({ every: '2h', grace: '1h', deliver: { type: 'command', argv: [process.execPath, '-e', 'process.exit(3)'] } });
      t.clock.advance(2 * HOUR);
      const second = await t.server.rotation.runDue();
      assert.deepEqual(second.failed.map((f) => f.id), [failing.key.id], JSON.stringify(second));
      assert.match(second.failed[0]!.error, /exited with status 3/);
    });

    it('a delivery to a dead listener keeps the old key working, shows and audits the failure, and is retried until it succeeds', async () => {
      const probe = await receiver();
      const port = probe.port;
      await closeHttp(probe.server);
      const old = await keyWithPolicy({ every: '1h', grace: '30m', deliver: { type: 'webhook', url: `http://127.0.0.1:${port}/in` } });
      const expiresBefore = old.key.expires_at;
      t.clock.advance(HOUR);
      const failed = await t.server.rotation.runDue();
      assert.deepEqual(failed.failed.map((f) => f.id).filter((id) => id === old.key.id), [old.key.id], JSON.stringify(failed));
      assert.ok(await works(old.token), 'the old key still works');
      let shown = (await t.server.keys.show(old.key.id))!;
      assert.equal(shown.expires_at, expiresBefore, 'the old key is not shortened');
      assert.equal(shown.replaced_by_id, null);
      assert.match(shown.delivery!.last_error!, /ECONNREFUSED/);
      assert.equal(shown.delivery!.failures, 1);
      assert.equal(shown.delivery!.next_attempt_at, new Date(t.clock.now().getTime() + 60_000).toISOString());
      const viaApi = json(await t.request({ url: `/api/v1/keys/${old.key.id}`, token: await t.key(['keys.read']) })).data;
      assert.match(viaApi.delivery.last_error, /ECONNREFUSED/);
      const abandoned = await successorsOf(old.key.id);
      assert.equal(abandoned.length, 1);
      assert.notEqual(abandoned[0]!.revoked_at, null, 'the undelivered successor is revoked: its token is gone');
      const deliverEvents = (await events(old.key.id)).filter((e) => e.action === 'keys.deliver');
      assert.equal(deliverEvents.at(-1)!.outcome, 'failed');
      assert.match(deliverEvents.at(-1)!.changes!, /ECONNREFUSED/);
      assert.deepEqual((await t.server.rotation.runDue()).failed.filter((f) => f.id === old.key.id), [], 'no retry before the backoff ends');
      const hook = await receiver(port);
      try {
        t.clock.advance(60_000);
        const retried = await t.server.rotation.runDue();
        assert.equal(retried.rotated.filter((r) => r.id === old.key.id).length, 1, JSON.stringify(retried));
        const payload = JSON.parse(hook.received[0]!.body) as { token: string; key_id: number };
        assert.ok(await works(payload.token));
        shown = (await t.server.keys.show(old.key.id))!;
        assert.equal(shown.replaced_by_id, payload.key_id);
        assert.equal(shown.delivery!.last_error, null);
        assert.equal(shown.delivery!.failures, 0);
        assert.equal(shown.expires_at, new Date(t.clock.now().getTime() + 30 * 60_000).toISOString(), 'the grace starts at the successful delivery');
        assert.equal((await events(old.key.id)).filter((e) => e.action === 'keys.deliver').at(-1)!.outcome, 'allowed');
      } finally {
        await closeHttp(hook.server);
      }
    });

    it('two schedulers on one database, due at once, make exactly one successor', async () => {
      const file = path.join(dir, 'shared.key');
      const old = await keyWithPolicy({ every: '1h', grace: '1h', deliver: { type: 'file', path: file } });
      const other = await createServer(testConfig(), createLogger('silent'), t.database, t.clock);
      try {
        t.clock.advance(HOUR);
        const reports = await Promise.all([t.server.rotation.runDue(), other.rotation.runDue(), t.server.rotation.runDue(), other.rotation.runDue()]);
        const rotated = reports.flatMap((r) => r.rotated).filter((r) => r.id === old.key.id);
        assert.equal(rotated.length, 1, JSON.stringify(reports));
        assert.equal((await successorsOf(old.key.id)).length, 1);
        assert.ok(await works(readFileSync(file, 'utf8').trim()));
      } finally {
        await other.close();
      }
    });

    it('the same rotation run concurrently in two transactions links one successor; the other rolls back', async () => {
      const old = await keyWithPolicy({ every: '1h', grace: '1h', deliver: { type: 'file', path: path.join(dir, 'race.key') } });
      const audited = createAudited(t.database.db, t.server.audit.writer);
      const context = systemContext('race test');
      const attempts = await Promise.allSettled([
        audited(context, (trx) => t.server.keys.service.prepareSuccessor(trx, old.key.id, 'rotation')),
        audited(context, (trx) => t.server.keys.service.prepareSuccessor(trx, old.key.id, 'rotation')),
      ]);
      const made = attempts.filter((a) => a.status === 'fulfilled' && a.value?.ok);
      assert.equal(made.length, 1, JSON.stringify(attempts.map((a) => a.status)));
      for (const a of attempts) if (a.status === 'rejected') assert.ok(a.reason instanceof RotationRaceLost, String(a.reason));
      assert.equal((await successorsOf(old.key.id)).length, 1, 'the loser left no successor behind');
      // The next pass finds the pending successor abandoned and rotates afresh.
      t.clock.advance(HOUR);
      const report = await t.server.rotation.runDue();
      assert.equal(report.rotated.filter((r) => r.id === old.key.id).length, 1, JSON.stringify(report));
    });

    it('a webhook that never answers fails after the delivery timeout, and the old key keeps working', async () => {
      const slow = await buildTestApp(dialect, { deliveryTimeoutMs: 200 });
      const silent = createHttpServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const created = await slow.server.keys.create({
          name: 'slow',
          scopes: ['components.read'],
          createdBy: 'cli',
          rotation: { every: '1h', grace: '1h', deliver: { type: 'webhook', url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/` } },
        });
        assert.ok(created.ok);
        slow.clock.advance(HOUR);
        const started = Date.now();
        const report = await slow.server.rotation.runDue();
        assert.ok(Date.now() - started < 2000);
        assert.match(report.failed[0]?.error ?? '', /no answer within 200 ms/);
        assert.equal((await slow.request({ url: '/api/v1/keys/self', token: created.token })).statusCode, 200);
      } finally {
        silent.closeAllConnections();
        await closeHttp(silent);
        await slow.close();
      }
    });

    it('the server rotates on its own timer', async () => {
      const timed = await buildTestApp(dialect, { keyRotationIntervalMs: 50 });
      try {
        const file = path.join(dir, 'timer.key');
        const created = await timed.server.keys.create({ name: 'timed', scopes: ['components.read'], createdBy: 'cli', rotation: { every: '1h', grace: '1h', deliver: { type: 'file', path: file } }, hostTargets: true });
        assert.ok(created.ok);
        timed.clock.advance(HOUR);
        const deadline = Date.now() + 5000;
        while (!existsSync(file) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
        assert.ok(existsSync(file), 'the timer delivered the successor');
        assert.equal((await timed.request({ url: '/api/v1/keys/self', token: readFileSync(file, 'utf8').trim() })).statusCode, 200);
      } finally {
        await timed.close();
      }
    });

    it('retires the old key a set time after the successor is first used', async () => {
      const file = path.join(dir, 'pickup.key');
      const old = await keyWithPolicy({ every: '1h', grace: '1d', deliver: { type: 'file', path: file }, retire_after_pickup: '5m' });
      t.clock.advance(HOUR);
      await t.server.rotation.runDue();
      assert.ok(await works(readFileSync(file, 'utf8').trim()));
      await t.server.flushKeyUsage();
      await t.server.rotation.runDue();
      const shown = (await t.server.keys.show(old.key.id))!;
      assert.ok(Date.parse(shown.expires_at!) <= t.clock.now().getTime() + 5 * 60_000 + 1000, `expires ${shown.expires_at}`);
      assert.ok((await events(old.key.id)).some((e) => e.action === 'keys.expire'));
    });

    it('sets, shows and validates a policy through the API: only webhooks, durations with units, nothing changed on a refusal', async () => {
      const admin = await t.key(['*']);
      const count = async () => (await t.server.keys.list()).length;
      const before = await count();
      const bad = [
        [{ every: '30', grace: '1h', deliver: { type: 'webhook', url: 'https://consumer.example/hook' } }, /rotation\.every/],
        [{ every: '30d', grace: '100d', deliver: { type: 'webhook', url: 'https://consumer.example/hook' } }, /rotation\.grace/],
        [{ every: '30d', grace: '1h', deliver: { type: 'webhook', url: 'ftp://consumer.example/' } }, /rotation\.deliver\.url/],
        [{ every: '30d', grace: '1h', deliver: { type: 'file', path: '/etc/cachet.key' } }, /rotation\.deliver\.type .*file.* CLI/],
        [{ every: '30d', grace: '1h', deliver: { type: 'command', argv: ['/bin/sh'] } }, /rotation\.deliver\.type .*command/],
        [{ every: '30d', grace: '1h', deliver: { type: 'pigeon' } }, /rotation\.deliver\.type/],
      ] as const;
      for (const [rotation, message] of bad) {
        const response = await t.request({ method: 'POST', url: '/api/v1/keys', token: admin, body: { purpose: 'test', name: 'consumer', scopes: ['components.read'], rotation } });
        assert.equal(response.statusCode, 400, response.body);
        assert.match(JSON.stringify(json(response).errors[0].meta.details), message);
      }
      assert.equal(await count(), before, 'no key was created');
      const created = await t.request({
        method: 'POST',
        url: '/api/v1/keys',
        token: admin,
        body: { purpose: 'test', name: 'consumer', scopes: ['components.read'], rotation: { every: '30d', grace: '24h', deliver: { type: 'webhook', url: 'https://consumer.example/hook' } } },
      });
      assert.equal(created.statusCode, 200, created.body);
      const body = json(created);
      assert.match(body.meta.webhook_secret, /^whsec_/);
      assert.deepEqual(body.data.rotation, { every: '30d', grace: '24h', deliver: { type: 'webhook', url: 'https://consumer.example/hook' }, retire_after_pickup: null });
      assert.equal(body.data.delivery.next_attempt_at, new Date(t.clock.now().getTime() + 30 * 24 * HOUR).toISOString());
      const id = body.data.id as number;
      const shown = await t.request({ url: `/api/v1/keys/${id}`, token: admin });
      assert.ok(!shown.body.includes(body.meta.webhook_secret.slice(6)), 'the secret is shown once');
      const refused = await t.request({ method: 'PUT', url: `/api/v1/keys/${id}`, token: admin, body: { name: 'renamed', rotation: { every: '30d', grace: '1h', deliver: { type: 'webhook', url: 'not a url' } } } });
      assert.equal(refused.statusCode, 400);
      assert.equal((await t.server.keys.show(id))!.name, 'consumer', 'nothing changed');
      const renamed = await t.request({ method: 'PUT', url: `/api/v1/keys/${id}`, token: admin, body: { rotation: { every: '7d', grace: '1h', deliver: { type: 'webhook', url: 'https://consumer.example/hook' } } } });
      assert.equal(renamed.statusCode, 200, renamed.body);
      assert.equal(json(renamed).meta, undefined, 'same webhook URL: the secret is kept and not shown again');
      const removed = await t.request({ method: 'DELETE', url: `/api/v1/keys/${id}/rotation`, token: admin });
      assert.equal(removed.statusCode, 200, removed.body);
      assert.equal(json(removed).data.rotation, null);
      assert.equal((await t.server.keys.show(id))!.rotation, null);
    });
  });

  describe(`webhook delivery to private addresses (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp(dialect, { webhookAllowPrivate: false });
    });
    after(() => t.close());

    it('is refused on the resolved address unless CACHET_WEBHOOK_ALLOW_PRIVATE is set, and the old key keeps working', async () => {
      const hook = await receiver();
      try {
        for (const url of [hook.url, `http://localhost:${hook.port}/x`]) {
          const created = await t.server.keys.create({ name: 'private', scopes: ['components.read'], createdBy: 'cli', rotation: { every: '1h', grace: '1h', deliver: { type: 'webhook', url } } });
          assert.ok(created.ok);
          t.clock.advance(HOUR);
          const report = await t.server.rotation.runDue();
          const failure = report.failed.find((f) => f.id === created.key.id);
          assert.match(failure?.error ?? '', /private, loopback or link-local.*CACHET_WEBHOOK_ALLOW_PRIVATE/);
          assert.equal((await t.request({ url: '/api/v1/keys/self', token: created.token })).statusCode, 200);
        }
        assert.equal(hook.received.length, 0, 'nothing was sent');
      } finally {
        await closeHttp(hook.server);
      }
    });
  });
}
