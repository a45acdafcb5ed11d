import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compiledFor, rowsOf } from '../../src/db/compiled.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';

describe('compiled queries kept per database and arguments', () => {
  it('builds once per key, runs with that key\'s parameters, and compiles afresh inside a transaction', async () => {
    const database = openDatabase('sqlite::memory:');
    await migrateToLatest(database);
    const { db } = database;
    let builds = 0;
    const byName = (name: string) => () => {
      builds++;
      return db.selectFrom('subscribers').select('email').where('email', '=', name);
    };
    const first = compiledFor(db, 'by-email:a', byName('a@example.com'));
    assert.equal(compiledFor(db, 'by-email:a', byName('a@example.com')), first);
    assert.equal(builds, 1);
    const other = compiledFor(db, 'by-email:b', byName('b@example.com'));
    assert.notEqual(other, first);
    assert.deepEqual(other.parameters, ['b@example.com']);
    assert.deepEqual(await rowsOf(db, first), []);
    await db.transaction().execute(async (trx) => {
      const a = compiledFor(trx, 'by-email:a', () => trx.selectFrom('subscribers').select('email').where('email', '=', 'a@example.com'));
      const b = compiledFor(trx, 'by-email:a', () => trx.selectFrom('subscribers').select('email').where('email', '=', 'a@example.com'));
      assert.notEqual(a, b, 'no cache for a transaction');
    });
    await database.close();
  });

  it('keeps at most its bound per database, and does not keep an over-long key', async () => {
    const database = openDatabase('sqlite::memory:');
    const { db } = database;
    let builds = 0;
    const build = () => {
      builds++;
      return db.selectFrom('subscribers').select('id');
    };
    for (let i = 0; i < 600; i++) compiledFor(db, `k${i}`, build);
    builds = 0;
    compiledFor(db, 'k0', build);
    assert.equal(builds, 1, 'the oldest key was dropped (bound 500)');
    compiledFor(db, 'k599', build);
    assert.equal(builds, 1, 'a recent key is still kept');
    const long = 'x'.repeat(3000);
    compiledFor(db, long, build);
    compiledFor(db, long, build);
    assert.equal(builds, 3);
    await database.close();
  });
});
