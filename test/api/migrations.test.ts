/** Several instances migrating one PostgreSQL database at once: one applies, the others wait and find nothing to do. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { dialects, PG_URL } from '../helpers/dialects.js';

const withPostgres = (await dialects()).includes('postgres');

describe('PostgreSQL migrations', { skip: !withPostgres && 'PostgreSQL unreachable or left out by CACHET_TEST_DIALECTS' }, () => {
  it('are safe when four instances start at once', async () => {
    const schema = `m_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    const instances = Array.from({ length: 4 }, () => openDatabase(PG_URL, { schema, poolSize: 2 }));
    try {
      const applied = await Promise.all(instances.map((db) => migrateToLatest(db)));
      const all = applied.flat();
      assert.ok(all.includes('0001_foundation'));
      assert.equal(new Set(all).size, all.length, 'a migration was applied twice');
      const tables = await admin.query(`select count(*)::int as n from information_schema.tables where table_schema = $1 and table_name = 'components'`, [schema]);
      assert.equal(tables.rows[0].n, 1);
    } finally {
      await Promise.all(instances.map((db) => db.close()));
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    }
  });
});
