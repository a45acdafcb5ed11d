import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { createAuditBatcher } from '../../src/features/audit/audit.batcher.js';
import type { AuditEntry, AuditWriter } from '../../src/features/audit/audit.writer.js';

/** A writer whose commits take as long as the test says, recording each batch's size. */
function slowWriter(batches: number[], gate: { release: () => void; wait: Promise<void> }[]): AuditWriter {
  return {
    async append(_trx: unknown, entries: readonly AuditEntry[]) {
      batches.push(entries.length);
      const next = gate.shift();
      if (next) await next.wait;
      return [];
    },
  } as unknown as AuditWriter;
}

function gate() {
  let release!: () => void;
  const wait = new Promise<void>((resolve) => (release = resolve));
  return { release, wait };
}

const entry = (n: number) => ({ context: { requestId: String(n) }, fact: {} }) as unknown as AuditEntry;

describe('audit batcher (group commit)', () => {
  it('puts every event that queued during a slow commit into the next batch, not one batch each', async () => {
    const database = openDatabase('sqlite::memory:');
    const batches: number[] = [];
    const first = gate();
    const batcher = createAuditBatcher({ db: database.db, writer: slowWriter(batches, [first]) });
    const done = [batcher.write(entry(0))];
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(batches, [1], 'the first event is being written');
    // Thirty more arrive over several event-loop turns while the first commit is slow.
    for (let i = 1; i <= 30; i++) {
      done.push(batcher.write(entry(i)));
      if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(batcher.pending(), 30);
    first.release();
    await Promise.all(done);
    assert.deepEqual(batches, [1, 30]);
    await database.close();
  });

  it('respects the batch bound, and drain waits for everything queued', async () => {
    const database = openDatabase('sqlite::memory:');
    const batches: number[] = [];
    const first = gate();
    const batcher = createAuditBatcher({ db: database.db, writer: slowWriter(batches, [first]), maxBatch: 4 });
    const done = Array.from({ length: 11 }, (_, i) => batcher.write(entry(i)));
    await new Promise((resolve) => setImmediate(resolve));
    first.release();
    await batcher.drain();
    assert.equal(batcher.pending(), 0);
    assert.deepEqual(batches, [4, 4, 3]);
    await Promise.all(done);
    await database.close();
  });
});
