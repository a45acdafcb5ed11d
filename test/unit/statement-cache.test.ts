import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { cachingSqlite } from '../../src/db/sqlite-cache.js';

function table(rows = 3) {
  const sqlite = new SQLite(':memory:');
  sqlite.exec('create table t (id integer primary key, v text)');
  for (let i = 1; i <= rows; i++) sqlite.prepare('insert into t (v) values (?)').run(`v${i}`);
  return { sqlite, db: cachingSqlite(sqlite) };
}

describe('SQLite statement and result cache', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cachet-sqlite-cache-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prepares a query once and reuses it', () => {
    const { db } = table();
    const first = db.prepare('select v from t where id = ?');
    assert.equal(db.prepare('select v from t where id = ?'), first);
    assert.deepEqual(first.all([2]), [{ v: 'v2' }]);
    assert.equal(db.stats().statements, 1);
    db.close();
  });

  it('answers a repeated read from the cache, and a write through the connection invalidates it', () => {
    const { db } = table();
    const read = () => db.prepare('select v from t order by id').all([]);
    assert.deepEqual(read(), [{ v: 'v1' }, { v: 'v2' }, { v: 'v3' }]);
    assert.deepEqual(read(), [{ v: 'v1' }, { v: 'v2' }, { v: 'v3' }]);
    assert.equal(db.stats().hits, 1);
    db.prepare('update t set v = ? where id = ?').run(['changed', 2]);
    assert.deepEqual(read(), [{ v: 'v1' }, { v: 'changed' }, { v: 'v3' }]);
    // A write that returns rows (insert … returning) is a write too.
    assert.deepEqual(db.prepare('insert into t (v) values (?) returning id').all(['v4']), [{ id: 4 }]);
    assert.equal(read().length, 4);
    db.close();
  });

  it('drops only what read the written table, its cascading children, or everything for a write it cannot attribute', () => {
    const sqlite = new SQLite(':memory:');
    sqlite.pragma('foreign_keys = ON');
    sqlite.exec(`create table parent (id integer primary key, v text);
      create table child (id integer primary key, parent_id integer references parent (id) on delete cascade);
      create table other (id integer primary key, v text);
      insert into parent (id, v) values (1, 'p'); insert into child (parent_id) values (1); insert into other (v) values ('o')`);
    const db = cachingSqlite(sqlite);
    const readChild = () => db.prepare('select count(*) as n from "child"').all([]);
    const readOther = () => db.prepare('select v from "other"').all([]);
    const readJoin = () => db.prepare('select p.v from child c join parent p on p.id = c.parent_id').all([]);
    readChild(); readOther(); readJoin();
    const misses = () => db.stats().misses;
    let before = misses();
    db.prepare('insert into "other" ("v") values (?)').run(['o2']);
    assert.deepEqual(readChild(), [{ n: 1 }]);
    assert.equal(misses(), before, 'a write to another table leaves the cached read alone');
    assert.equal(readOther().length, 2);
    assert.equal(misses(), before + 1, 'the read of the written table runs again');
    before = misses();
    db.prepare('delete from parent where id = ?').run([1]);
    assert.deepEqual(readChild(), [{ n: 0 }], 'a cascade from the parent empties the child: its reads run again');
    assert.deepEqual(readJoin(), [], 'a raw read naming tables after from/join depends on them');
    readOther();
    assert.equal(misses(), before + 2);
    db.prepare('with x as (select 1) insert into other (v) select \'o3\' from x').run([]);
    assert.equal(readOther().length, 3, 'a write it cannot attribute drops everything');
    db.close();
  });

  it('sees commits made by another connection to the same file (data_version)', () => {
    const file = path.join(dir, 'shared.db');
    const mine = new SQLite(file);
    mine.pragma('journal_mode = WAL');
    mine.exec('create table t (id integer primary key, v text); insert into t (v) values (\'a\')');
    const db = cachingSqlite(mine);
    const other = new SQLite(file);
    const read = () => db.prepare('select v from t').all([]);
    assert.deepEqual(read(), [{ v: 'a' }]);
    other.prepare('update t set v = ?').run('b');
    assert.deepEqual(read(), [{ v: 'b' }]);
    other.close();
    db.close();
  });

  it('neither uses nor fills the cache inside a transaction, and a rollback leaves nothing stale', () => {
    const { db } = table();
    const read = () => db.prepare('select v from t where id = ?').all([1]);
    assert.deepEqual(read(), [{ v: 'v1' }]);
    db.prepare('begin').run([]);
    db.prepare('update t set v = ? where id = ?').run(['inside', 1]);
    assert.deepEqual(read(), [{ v: 'inside' }]);
    db.prepare('rollback').run([]);
    assert.deepEqual(read(), [{ v: 'v1' }]);
    db.close();
  });

  it('gives each caller its own array of frozen rows', () => {
    const { db } = table();
    const first = db.prepare('select v from t order by id').all([]) as Array<{ v: string }>;
    first.length = 1;
    const second = db.prepare('select v from t order by id').all([]) as Array<{ v: string }>;
    assert.equal(second.length, 3);
    assert.throws(() => {
      second[0]!.v = 'mutated';
    }, TypeError);
    db.close();
  });

  it('stays within its bounds: statements, rows, and large results or keys are not kept', () => {
    const sqlite = new SQLite(':memory:');
    sqlite.exec('create table t (id integer primary key, v text)');
    for (let i = 1; i <= 1500; i++) sqlite.prepare('insert into t (v) values (?)').run(`v${i}`);
    const db = cachingSqlite(sqlite, { statements: 3, rows: 50 });
    for (let i = 0; i < 100; i++) db.prepare(`select ${i}`).all([]);
    assert.equal(db.stats().statements, 3);
    for (let i = 1; i <= 100; i++) db.prepare('select v from t where id <= ?').all([i % 20]);
    assert.ok(db.stats().rows <= 50, `rows kept: ${db.stats().rows}`);
    db.prepare('select v from t').all([]);
    db.prepare('select v from t').all([]);
    assert.ok(db.stats().rows <= 50);
    const long = 'x'.repeat(5000);
    db.prepare('select v from t where v = ?').all([long]);
    const before = db.stats().misses;
    db.prepare('select v from t where v = ?').all([long]);
    assert.equal(db.stats().misses, before, 'a key over the length bound bypasses the cache entirely');
    db.close();
  });

  it('gives a fresh statement while the cached one is still iterating', () => {
    const { db } = table();
    const sql = 'select id from t order by id';
    const seen: unknown[] = [];
    for (const row of db.prepare(sql).iterate([])) {
      seen.push(row);
      assert.deepEqual(db.prepare(sql).all([]), [{ id: 1 }, { id: 2 }, { id: 3 }]);
    }
    assert.equal(seen.length, 3);
    db.close();
  });
});
