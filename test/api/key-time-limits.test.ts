/**
 * A key's time window: `not_before` (refused 401 key_not_yet_valid until then), the expiry warning
 * logged once per key (across restarts and instances), and `keys.expire` audited once per key.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { createServer, type Server } from '../../src/main.js';
import { buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A logger whose JSON lines are kept in `lines`. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

for (const dialect of await dialects()) {
  describe(`key time limits (${dialect})`, () => {
    let t: TestApp;
    let admin: string;

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    it('refuses a key before its not_before with key_not_yet_valid, and accepts it from then on', async () => {
      const start = new Date(t.clock.now().getTime() + 2 * HOUR).toISOString();
      const created = await t.request({ method: 'POST', url: '/api/v1/keys', token: admin, body: { purpose: 'test', name: 'later', scopes: ['components.read'], not_before: start } });
      assert.equal(created.statusCode, 200, created.body);
      const { id, token, not_before, status } = json(created).data as { id: number; token: string; not_before: string; status: string };
      assert.equal(not_before, start);
      assert.equal(status, 'pending');
      const early = await t.request({ url: '/api/v1/components', token });
      assert.equal(early.statusCode, 401);
      assert.match(json(early).errors[0].detail, /not valid yet/);
      const event = await t.database.db.selectFrom('audit_events').selectAll().where('reason', '=', 'key_not_yet_valid').executeTakeFirst();
      assert.ok(event, 'the refusal is audited with its own reason');
      assert.equal(event.key_id, id);
      t.clock.advance(2 * HOUR);
      try {
        assert.equal((await t.request({ url: '/api/v1/components', token })).statusCode, 200);
        assert.equal(json(await t.request({ url: `/api/v1/keys/${id}`, token: admin })).data.status, 'active');
      } finally {
        t.clock.advance(-2 * HOUR);
      }
    });

    it('refuses a not_before that is not a zoned ISO 8601 time or is after the expiry', async () => {
      for (const notBefore of ['tomorrow', '2026-12-01 10:00', '2026-13-01T00:00:00Z']) {
        const response = await t.request({ method: 'POST', url: '/api/v1/keys', token: admin, body: { purpose: 'test', name: 'bad', scopes: ['components.read'], not_before: notBefore } });
        assert.equal(response.statusCode, 400, notBefore);
        assert.match(json(response).errors[0].meta.details[0], /not_before must be an ISO 8601 time/);
      }
      const late = new Date(t.clock.now().getTime() + 2 * DAY).toISOString();
      const response = await t.request({ method: 'POST', url: '/api/v1/keys', token: admin, body: { purpose: 'test', name: 'bad', scopes: ['components.read'], expires: '1d', not_before: late } });
      assert.equal(response.statusCode, 400);
      assert.match(json(response).errors[0].meta.details[0], /before the key expires/);
    });

    it('lists keys expiring within a window, soonest first', async () => {
      const soon = await t.server.keys.create({ name: 'soon', scopes: ['components.read'], expires: '3d', createdBy: 'cli' });
      const sooner = await t.server.keys.create({ name: 'sooner', scopes: ['components.read'], expires: '1d', createdBy: 'cli' });
      assert.ok(soon.ok && sooner.ok);
      const within = await t.server.keys.expiring(7 * DAY);
      const ids = within.map((k) => k.id);
      assert.ok(ids.includes(soon.key.id) && ids.includes(sooner.key.id));
      assert.ok(ids.indexOf(sooner.key.id) < ids.indexOf(soon.key.id), 'soonest first');
      assert.ok(within.every((k) => Date.parse(k.expires_at!) <= t.clock.now().getTime() + 7 * DAY));
      assert.ok(!ids.includes((await t.server.keys.list()).find((k) => admin.startsWith(k.prefix))!.id), 'a 90-day key is not expiring within 7d');
      assert.deepEqual((await t.server.keys.expiring(2 * DAY)).map((k) => k.id).filter((id) => id === soon.key.id), []);
      // Revoked keys are not listed.
      await t.server.keys.revoke(sooner.key.id);
      assert.ok(!(await t.server.keys.expiring(7 * DAY)).some((k) => k.id === sooner.key.id));
    });

    it('logs a key entering the warning window once, across restarts and instances, and audits its expiry once', async () => {
      const first = capturingLogger();
      const second = capturingLogger();
      // Two servers on one database: another instance, or this one after a restart.
      const servers: Server[] = [];
      for (const { logger } of [first, second]) servers.push(await createServer(testConfig({ keyExpiryWarningMs: 7 * DAY }), logger, t.database, t.clock));
      const [one, two] = servers as [Server, Server];
      try {
        const created = await one.keys.create({ name: 'deploy bot', scopes: ['components.read'], expires: '10d', createdBy: 'cli' });
        assert.ok(created.ok);
        const id = created.key.id;
        const warningsFor = (lines: Array<Record<string, unknown>>) => lines.filter((l) => l.keyId === id && /expires at/.test(String(l.msg)));

        await one.sweepKeyExpiry();
        await two.sweepKeyExpiry();
        assert.equal(warningsFor(first.lines).length + warningsFor(second.lines).length, 0, 'not yet inside the 7-day window');

        t.clock.advance(4 * DAY);
        await one.sweepKeyExpiry();
        await two.sweepKeyExpiry();
        await one.sweepKeyExpiry();
        const warned = [...warningsFor(first.lines), ...warningsFor(second.lines)];
        assert.equal(warned.length, 1, 'exactly one warning across both instances');
        assert.equal(warned[0]!.level, 40);
        assert.equal(warned[0]!.expiresAt, created.key.expires_at);
        assert.ok(!JSON.stringify([...first.lines, ...second.lines]).includes(created.token.slice(12)), 'no token in the log');

        const expireEvents = () => t.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'keys.expire').where('resource_id', '=', String(id)).execute();
        assert.equal((await expireEvents()).length, 0, 'no expiry event before the expiry');
        t.clock.advance(6 * DAY + 1000);
        await Promise.all([one.sweepKeyExpiry(), two.sweepKeyExpiry()]);
        await one.sweepKeyExpiry();
        const events = await expireEvents();
        assert.equal(events.length, 1, 'exactly one keys.expire event');
        assert.equal(events[0]!.actor_type, 'system');
        assert.equal(events[0]!.resource_type, 'keys');
        assert.equal(events[0]!.outcome, 'allowed');
        assert.ok(!JSON.stringify(events).includes(created.token.slice(12)));
        // An expired key stays listed, as expired, and is refused.
        const listed = (await one.keys.list()).find((k) => k.id === id);
        assert.equal(listed?.status, 'expired');
        const refused = await t.request({ url: '/api/v1/components', token: created.token });
        assert.equal(refused.statusCode, 401);
        assert.match(json(refused).errors[0].detail, /expired/);
        // A revoked key that passes its expiry is not reported as expiring.
        const revoked = await one.keys.create({ name: 'gone', scopes: ['components.read'], expires: '1d', createdBy: 'cli' });
        assert.ok(revoked.ok);
        await one.keys.revoke(revoked.key.id);
        t.clock.advance(2 * DAY);
        await one.sweepKeyExpiry();
        assert.equal(warningsFor(first.lines.filter((l) => l.keyId === revoked.key.id)).length, 0);
        assert.equal((await t.database.db.selectFrom('audit_events').select('id').where('action', '=', 'keys.expire').where('resource_id', '=', String(revoked.key.id)).execute()).length, 0);
        t.clock.advance(-2 * DAY);
      } finally {
        t.clock.advance(-(10 * DAY + 1000));
        for (const server of servers) await server.close();
      }
    });
  });
}
