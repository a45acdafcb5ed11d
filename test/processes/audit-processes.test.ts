/**
 * The audit trail across real server processes: `kill -9` under a load of keyed reads and writes
 * loses no event of a response the client received, and two instances writing at once on
 * PostgreSQL keep one valid chain.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../src/db/database.js';
import { eventHash, eventOfRow, GENESIS_HASH, hashedContent } from '../../src/features/audit/audit.chain.js';
import { dialects } from '../helpers/dialects.js';
import { createKey, exited, freshUrl, start } from '../helpers/processes.js';

/** Keyed reads and writes from `workers` clients until `stop()`; the request ids of every 2xx received. */
function load(ports: number[], token: string, workers: number) {
  const received: string[] = [];
  let running = true;
  // User agents of requests that got no response (each request has its own): the server must
  // never have processed one of them, or it dropped a request it had taken on.
  const unanswered: string[] = [];
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; running; i++) {
      const port = ports[(w + i) % ports.length]!;
      const write = i % 3 === 0;
      try {
        const response = await fetch(`http://127.0.0.1:${port}/api/v1/components`, {
          method: write ? 'POST' : 'GET',
          headers: { 'x-cachet-token': token, accept: 'application/json', 'user-agent': `load/${w}-${i}`, ...(write ? { 'content-type': 'application/json' } : {}) },
          ...(write ? { body: JSON.stringify({ name: `c-${w}-${i}`, status: 1 }) } : {}),
        });
        await response.arrayBuffer();
        if (response.ok) received.push(response.headers.get('x-request-id')!);
      } catch {
        // No response: refused or reset, or the server died mid-request.
        unanswered.push(`load/${w}-${i}`);
        if (!running) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  });
  return {
    received,
    unanswered,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Checks the whole chain; returns the number of events. */
async function assertChain(database: Database): Promise<number> {
  const rows = await database.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
  let prev = GENESIS_HASH;
  for (const [i, row] of rows.entries()) {
    const event = eventOfRow(row);
    assert.equal(event.seq, i + 1, 'no gap in the chain');
    assert.equal(event.prev_hash, prev, `event ${event.seq} links to the one before`);
    assert.equal(event.hash, eventHash(prev, hashedContent(event)), `event ${event.seq} matches its hash`);
    prev = event.hash;
  }
  const head = await database.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
  assert.deepEqual([Number(head.seq), head.hash], [rows.length, prev], 'the head is the last event');
  return rows.length;
}

async function missingEvents(database: Database, requestIds: string[]): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < requestIds.length; i += 500) {
    const rows = await database.db.selectFrom('audit_events').select('request_id').where('request_id', 'in', requestIds.slice(i, i + 500)).execute();
    for (const row of rows) seen.add(row.request_id!);
  }
  return requestIds.filter((id) => !seen.has(id));
}

for (const dialect of await dialects()) {
  describe(`audit trail across server processes (${dialect})`, () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'cachet-audit-proc-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('shuts down on SIGTERM under load: exit 0, no request in flight dropped, no event lost', async () => {
      const { url, drop } = await freshUrl(dialect, path.join(dir, 'term'));
      const token = createKey(path.join(dir, 'term'), url);
      const server = await start(path.join(dir, 'term'), url);
      try {
        const traffic = load([server.port], token, 6);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const exit = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
        server.child.kill('SIGTERM');
        assert.equal(await exit, 0, server.output());
        await traffic.stop();
        assert.ok(traffic.received.length > 20);
        const database = openDatabase(url);
        try {
          assert.deepEqual(await missingEvents(database, traffic.received), []);
          // A request the server took on was answered: none of the unanswered ones reached a handler.
          const processed = traffic.unanswered.length === 0 ? [] : await database.db.selectFrom('audit_events').select('user_agent').where('user_agent', 'in', traffic.unanswered).execute();
          assert.deepEqual(processed, [], `requests the server processed but never answered (of ${traffic.unanswered.length} unanswered)`);
          await assertChain(database);
        } finally {
          await database.close();
        }
      } finally {
        await drop();
      }
    });

    it('loses no event of a received response when the server is killed with SIGKILL under load', async () => {
      const { url, drop } = await freshUrl(dialect, path.join(dir, 'crash'));
      const token = createKey(path.join(dir, 'crash'), url);
      let server = await start(path.join(dir, 'crash'), url);
      try {
        const traffic = load([server.port], token, 8);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        server.child.kill('SIGKILL');
        await exited(server.child);
        await traffic.stop();
        assert.ok(traffic.received.length > 50, `the load got answers before the kill (${traffic.received.length})`);

        server = await start(path.join(dir, 'crash'), url);
        const database = openDatabase(url);
        try {
          assert.deepEqual(await missingEvents(database, traffic.received), [], 'every received response has its event');
          const count = await assertChain(database);
          assert.ok(count >= traffic.received.length);
        } finally {
          await database.close();
        }
      } finally {
        server.child.kill('SIGKILL');
        await exited(server.child);
        await drop();
      }
    });

    if (dialect === 'postgres') {
      it('keeps one valid chain when two instances write at once', async () => {
        const { url, drop } = await freshUrl(dialect, path.join(dir, 'pair'));
        const token = createKey(path.join(dir, 'pair'), url);
        const a = await start(path.join(dir, 'pair'), url);
        const b = await start(path.join(dir, 'pair'), url);
        try {
          const traffic = load([a.port, b.port], token, 10);
          await new Promise((resolve) => setTimeout(resolve, 2000));
          await traffic.stop();
          const database = openDatabase(url);
          try {
            assert.deepEqual(await missingEvents(database, traffic.received), []);
            const count = await assertChain(database);
            assert.ok(count >= traffic.received.length && traffic.received.length > 50, `${count} events for ${traffic.received.length} answers`);
            // Both instances wrote into the same chain.
            const byPort = [a, b].map((s) => s.output().split('"msg":"request"').length - 1);
            assert.ok(byPort.every((n) => n > 10), `both instances served requests: ${byPort.join(', ')}`);
          } finally {
            await database.close();
          }
        } finally {
          for (const s of [a, b]) s.child.kill('SIGTERM');
          await Promise.all([exited(a.child), exited(b.child)]);
          await drop();
        }
      });
    }
  });
}
