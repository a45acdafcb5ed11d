import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { isStoreUnavailable } from '../../src/db/errors.js';

describe('store availability errors', () => {
  it('recognises a refused PostgreSQL connection from the real driver', async () => {
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:1/postgres', connectionTimeoutMillis: 2000 });
    const error = await client.connect().then(() => null, (err: unknown) => err);
    assert.ok(isStoreUnavailable(error), String(error));
  });

  it('tells unavailability from bad requests', () => {
    assert.ok(isStoreUnavailable({ code: '57P01', message: 'terminating connection due to administrator command' }));
    assert.ok(isStoreUnavailable({ code: '08006', message: 'connection failure' }));
    assert.ok(isStoreUnavailable({ code: 'SQLITE_BUSY', message: 'database is locked' }));
    assert.ok(!isStoreUnavailable({ code: '23505', message: 'duplicate key value violates unique constraint' }));
    assert.ok(!isStoreUnavailable({ code: 'SQLITE_CONSTRAINT_UNIQUE', message: 'UNIQUE constraint failed' }));
    assert.ok(!isStoreUnavailable(new Error('something else')));
    assert.ok(!isStoreUnavailable(null));
  });
});
