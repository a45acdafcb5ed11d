/** The verification path: checksum before any store access, the verify cache, IP limits, revocation reach, last use. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createKeysRepo } from '../../src/features/keys/keys.repo.js';
import { createKeysService } from '../../src/features/keys/keys.service.js';
import { systemClock } from '../../src/infra/clock.js';
import { adminKeys, buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

for (const dialect of await dialects()) {
  describe(`key verification (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp(dialect);
    });
    after(() => t.close());

    it('enforces allowed_ips (IPv4, IPv6 and v4-mapped) against the socket address', async () => {
      const elsewhere = await t.key(['components.read'], { allowedIps: ['10.0.0.0/8', '2001:db8::/32'] });
      const denied = await t.request({ url: '/api/v1/components', token: elsewhere });
      assert.equal(denied.statusCode, 403);
      assert.match(json(denied).errors[0].detail, /may not be used from 127\.0\.0\.1/);
      const here = await t.key(['components.read'], { allowedIps: ['::ffff:127.0.0.1/128'] });
      assert.equal((await t.request({ url: '/api/v1/components', token: here })).statusCode, 200);
      const v6only = await t.key(['components.read'], { allowedIps: ['::1'] });
      const fromV6 = await t.server.app.inject({ method: 'GET', url: '/api/v1/components', remoteAddress: '::1', headers: { 'x-cachet-token': v6only } });
      assert.equal(fromV6.statusCode, 200);
      const fromV4 = await t.request({ url: '/api/v1/components', token: v6only });
      assert.equal(fromV4.statusCode, 403);
    });

    it('ignores X-Forwarded-For unless the peer is a trusted proxy', async () => {
      const office = await t.key(['components.read'], { allowedIps: ['203.0.113.0/24'] });
      const spoofed = await t.request({ url: '/api/v1/components', token: office, headers: { 'x-forwarded-for': '203.0.113.7' } });
      assert.equal(spoofed.statusCode, 403);
      const proxied = await buildTestApp(dialect, { trustedProxies: ['127.0.0.1/32'] });
      try {
        const token = await proxied.key(['components.read'], { allowedIps: ['203.0.113.0/24'] });
        const through = await proxied.request({ url: '/api/v1/components', token, headers: { 'x-forwarded-for': '203.0.113.7' } });
        assert.equal(through.statusCode, 200, through.body);
      } finally {
        await proxied.close();
      }
    });

    it('sees a revocation made by another process (the CLI) within a second', async () => {
      const token = await t.key(['components.read']);
      assert.equal((await t.request({ url: '/api/v1/components', token })).statusCode, 200);
      // A second service over the same database, as `cachet keys revoke` would be.
      const cli = adminKeys(createKeysService({ db: t.database.db, repo: createKeysRepo(), pepper: testConfig().pepper, clock: systemClock, keyMaxTtlMs: null, keyDefaultTtlMs: 86_400_000 }), t.database.db);
      const id = (await cli.list()).find((k) => token.startsWith(k.prefix))!.id;
      assert.ok((await cli.revoke(id)).ok);
      const started = Date.now();
      let status = 200;
      while (Date.now() - started < 1000) {
        status = (await t.request({ url: '/api/v1/components', token })).statusCode;
        if (status === 401) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(status, 401, 'revocation not seen within 1 s');
    });

    it('records last use in batches, off the request path', async () => {
      const token = await t.key(['components.read']);
      const id = (await t.server.keys.list()).find((k) => token.startsWith(k.prefix))!.id;
      await t.request({ url: '/api/v1/components', token });
      assert.equal((await t.server.keys.show(id))!.last_used_at, null, 'written on the request path');
      await t.server.flushKeyUsage();
      const shown = (await t.server.keys.show(id))!;
      assert.equal(shown.last_used_ip, '127.0.0.1');
      assert.equal(shown.last_used_at, t.clock.now().toISOString());
    });
  });

  describe(`verification without the store (${dialect})`, () => {
    it('fails closed once the database is gone: no answer, allowed or refused, without its audit event', async () => {
      const t = await buildTestApp(dialect);
      try {
        const token = await t.key(['*']);
        // Settle the revision poll first, so it cannot drop the cache between the two requests.
        t.server.verifier.stop();
        await t.server.verifier.refresh();
        assert.equal((await t.request({ url: '/api/v1/ping', token })).statusCode, 200);
        await t.database.close();
        // The key is still cached (verification needs no query), but its event cannot be committed:
        // a 503 in the envelope with Retry-After, never the answer and never a 500.
        for (const presented of [token, token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a'), 'cachet_short']) {
          const down = await t.request({ url: '/api/v1/ping', token: presented });
          assert.equal(down.statusCode, 503, down.body);
          assert.equal(json(down).errors[0].title, 'Service Unavailable');
          assert.equal(down.headers['retry-after'], '5');
        }
        // A guest's public read is not an event and needs no database.
        assert.equal((await t.request({ url: '/api/v1/ping' })).statusCode, 200);
      } finally {
        await t.server.close().catch(() => undefined);
      }
    });
  });
}
