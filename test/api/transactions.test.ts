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

        // The audit event was written in that transaction before the failure: it rolled back with the
        // change, and the failed attempt is an event of its own (outcome failed), not a create.
        const events = await database.db.selectFrom('audit_events').select(['action', 'outcome', 'status', 'request_id', 'changes']).where('action', '=', 'components.create').orderBy('seq').execute();
        assert.deepEqual(
          events.map((e) => [e.outcome, e.status]),
          [
            ['allowed', 200],
            ['failed', 500],
          ],
        );
        assert.equal(events[1]!.request_id, failed.headers['x-request-id']);
        assert.equal(events[1]!.changes, null, 'no diff for a change that did not happen');
      } finally {
        await server.close();
        await database.close();
      }
    });

    it('rolls back a change whose audit event cannot be written, and answers 503 rather than an unaudited response', async () => {
      const database = await freshDatabase(dialect);
      const server = await createServer(testConfig(), createLogger('silent'), database, fixedClock(new Date('2026-11-25T12:00:00Z')));
      try {
        const created = await server.keys.create({ name: 'admin', scopes: ['*'], createdBy: 'cli' });
        assert.ok(created.ok);
        // The chain's head is gone: no event can be appended, so no change may commit.
        await database.db.deleteFrom('audit_head').execute();
        const write = await server.app.inject({ method: 'POST', url: '/api/v1/components', headers: { 'x-cachet-token': created.token }, payload: { name: 'unaudited', status: 1 } });
        assert.ok(write.statusCode >= 500, write.body);
        assert.deepEqual(await database.db.selectFrom('components').select('name').execute(), []);
        const read = await server.app.inject({ method: 'GET', url: '/api/v1/components', headers: { 'x-cachet-token': created.token } });
        assert.equal(read.statusCode, 503, 'a keyed read whose event cannot be committed is not answered');
        assert.ok(!read.body.includes('"data"'));
      } finally {
        await server.close();
        await database.close();
      }
    });
  });
}
