/** Health checks: live while the process answers; ready only while the database answers, within a bounded time. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTestApp, json } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

for (const dialect of await dialects()) {
  describe(`health (${dialect})`, () => {
    it('is live and ready, then not ready (503, promptly) once the database is gone, and never audited', async () => {
      const t = await buildTestApp(dialect);
      try {
        const live = await t.request({ url: '/health/live' });
        assert.equal(live.statusCode, 200);
        assert.equal(live.headers['cache-control'], 'no-store');
        const ready = await t.request({ url: '/health/ready' });
        assert.equal(ready.statusCode, 200);
        assert.deepEqual(json(ready), { status: 'ready', database: 'up', redis: 'off' });
        assert.equal((await t.database.db.selectFrom('audit_events').select('seq').execute()).length, 0, 'health checks are not events');
        await t.database.close();
        const started = Date.now();
        const down = await t.request({ url: '/health/ready' });
        assert.ok(Date.now() - started < 3000);
        assert.equal(down.statusCode, 503);
        assert.deepEqual(json(down), { status: 'unavailable', database: 'down', redis: 'off' });
        assert.equal((await t.request({ url: '/health/live' })).statusCode, 200);
      } finally {
        await t.server.close().catch(() => undefined);
      }
    });
  });
}
