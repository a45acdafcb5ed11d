/** A mutation and the work that joins its transaction (the audit writer's seam) commit together or not at all. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TransactionJoiner } from '../../src/http/transact.js';
import { createLogger } from '../../src/logger.js';
import { createServer } from '../../src/main.js';
import { fixedClock } from '../../src/infra/clock.js';
import { testConfig } from '../helpers/app.js';
import { dialects, freshDatabase } from '../helpers/dialects.js';

for (const dialect of await dialects()) {
  describe(`mutation transactions (${dialect})`, () => {
    it('runs joiners inside the mutation transaction and rolls the mutation back when one fails', async () => {
      const database = await freshDatabase(dialect);
      let fail = false;
      const seen: Array<{ action: string | undefined; names: string[] }> = [];
      const joiner: TransactionJoiner = async (request, trx) => {
        const rows = await trx.selectFrom('components').select('name').execute();
        seen.push({ action: request.routeOptions.config.access?.action, names: rows.map((r) => r.name) });
        if (fail) throw new Error('audit store unavailable');
      };
      const server = await createServer(testConfig(), createLogger('silent'), database, fixedClock(new Date('2026-11-25T12:00:00Z')), [joiner]);
      try {
        const created = await server.keys.create({ name: 'admin', scopes: ['*'], createdBy: 'cli' });
        assert.ok(created.ok);
        const post = (name: string) =>
          server.app.inject({ method: 'POST', url: '/api/v1/components', headers: { 'x-cachet-token': created.token }, payload: { name, status: 1 } });

        assert.equal((await post('kept')).statusCode, 200);
        assert.deepEqual(seen.at(-1), { action: 'components.create', names: ['kept'] }, 'the joiner saw the uncommitted row');

        fail = true;
        const failed = await post('rolled back');
        assert.equal(failed.statusCode, 500);
        assert.ok(!failed.body.includes('audit store unavailable'), 'an internal message reached the client');
        const names = (await database.db.selectFrom('components').select('name').execute()).map((r) => r.name);
        assert.deepEqual(names, ['kept'], 'the mutation committed without its joined work');
      } finally {
        await server.close();
        await database.close();
      }
    });
  });
}
