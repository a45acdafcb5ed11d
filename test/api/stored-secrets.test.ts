/** Nothing that can recover a token is stored: search the stored bytes for it. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { createServer } from '../../src/main.js';
import { testConfig } from '../helpers/app.js';
import { dialects, freshDatabase } from '../helpers/dialects.js';

/** The parts of a token a store could hold: the whole, its secret body, and that body's halves. */
function fragments(token: string): string[] {
  const body = token.slice('cachet_'.length, 'cachet_'.length + 43);
  return [token, body, body.slice(0, 21), body.slice(21)];
}

const withPostgres = (await dialects()).includes('postgres');

describe('stored secrets', () => {
  it('never writes a token to the SQLite file or its WAL', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cachet-secrets-'));
    try {
      const database = openDatabase(`sqlite:${path.join(dir, 'cachet.db')}`);
      await migrateToLatest(database);
      const server = await createServer(testConfig(), createLogger('silent'), database);
      const tokens: string[] = [];
      for (let i = 0; i < 5; i++) {
        const created = await server.keys.create({ name: `k${i}`, scopes: ['*'], createdBy: 'cli' });
        assert.ok(created.ok);
        tokens.push(created.token);
        await server.app.inject({ url: '/api/v1/ping', headers: { 'x-cachet-token': created.token } });
      }
      await server.close();
      await database.close();
      for (const name of readdirSync(dir)) assert.equal(statSync(path.join(dir, name)).mode & 0o777, 0o600, `${name} is readable by others`);
      const stored = readdirSync(dir).map((f) => readFileSync(path.join(dir, f)).toString('latin1')).join('\n');
      assert.ok(stored.includes(tokens[0]!.slice(0, 12)), 'the display prefix should be stored (sanity check of the search)');
      for (const token of tokens) for (const part of fragments(token)) assert.ok(!stored.includes(part), 'a token fragment is in the SQLite file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (withPostgres) {
    it('never writes a token to any PostgreSQL table', async () => {
      const database = await freshDatabase('postgres');
      try {
        const server = await createServer(testConfig(), createLogger('silent'), database);
        const created = await server.keys.create({ name: 'pg', scopes: ['*'], createdBy: 'cli' });
        assert.ok(created.ok);
        await server.app.inject({ url: '/api/v1/ping', headers: { 'x-cachet-token': created.token } });
        await server.close();
        const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = ${database.schema!}`.execute(database.db);
        let dump = '';
        for (const { table_name } of tables.rows) {
          const rows = await sql<{ row: unknown }>`select row_to_json(t) as row from ${sql.table(table_name)} t`.execute(database.db);
          dump += JSON.stringify(rows.rows);
        }
        assert.ok(dump.includes(created.key.prefix), 'the display prefix should be stored (sanity check of the search)');
        for (const part of fragments(created.token)) assert.ok(!dump.includes(part), 'a token fragment is in PostgreSQL');
      } finally {
        await database.close();
      }
    });
  }
});
