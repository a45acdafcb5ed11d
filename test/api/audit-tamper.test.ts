/**
 * Tamper evidence: every kind of change to the stored trail is caught and named (kind, seq, id);
 * checkpoints are signed and checked; pruning keeps the rest verifiable; a key's events are found
 * by its token. Events come from the real app (requests with keys) or the writer itself.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { checkpointMessage, eventHash, eventOfRow, hashedContent } from '../../src/features/audit/audit.chain.js';
import { createCheckpointer } from '../../src/features/audit/audit.checkpoints.js';
import type { AuditEventRow } from '../../src/features/audit/audit.repo.js';
import { pruneAuditTrail } from '../../src/features/audit/audit.prune.js';
import { keyEvents, keyOfToken } from '../../src/features/audit/audit.search.js';
import { loadSigner, type SignedCheckpoint } from '../../src/features/audit/audit.signing.js';
import { systemContext } from '../../src/features/audit/audit.types.js';
import { verifyAuditTrail, type VerifyOptions, type VerifyResult } from '../../src/features/audit/audit.verify.js';
import { fixedClock } from '../../src/infra/clock.js';
import { displayPrefix } from '../../src/infra/token.js';
import { buildTestApp, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const signer = loadSigner(testConfig(), { create: false })!;

/** A trail of at least `events` events made by real requests: keyed reads, writes, a denial. */
async function trail(app: TestApp, events = 12): Promise<void> {
  const token = await app.key(['components.read', 'components.manage']);
  for (let i = 0; (await headSeq(app)) < events; i++) {
    const response =
      i % 3 === 0
        ? await app.request({ method: 'POST', url: '/api/v1/components', token, body: { name: `c${i}`, status: 1 } })
        : await app.request({ url: '/api/v1/components', token });
    assert.equal(response.statusCode, 200, response.body);
  }
  assert.equal((await app.request({ url: '/api/v1/components', token: 'cachet_nope' })).statusCode, 401);
}

async function headSeq(app: TestApp): Promise<number> {
  const head = await app.database.db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirstOrThrow();
  return Number(head.seq);
}

async function rows(app: TestApp): Promise<AuditEventRow[]> {
  return app.database.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
}

async function rowAt(app: TestApp, seq: number): Promise<AuditEventRow> {
  return app.database.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
}

function check(app: TestApp, options: Partial<VerifyOptions> = {}): Promise<VerifyResult> {
  return verifyAuditTrail(app.database, { publicKey: signer.publicKey, ...options });
}

/** The problem a verification found; fails the test when it found none. */
function problemOf(result: VerifyResult) {
  if (result.ok) assert.fail(`tampering went unnoticed: ${JSON.stringify(result)}`);
  return result.problem;
}

/** Rewrites events from `from` on, each with `edit` applied and its hash recomputed, and the head to match: a tail forged with care. */
async function rewriteTail(app: TestApp, from: number, edit: (row: AuditEventRow) => Partial<AuditEventRow>): Promise<void> {
  const all = await rows(app);
  let prev = all.find((r) => Number(r.seq) === from - 1)!.hash;
  for (const row of all.filter((r) => Number(r.seq) >= from)) {
    const changed = { ...row, ...edit(row), prev_hash: prev };
    const hash = eventHash(prev, hashedContent(eventOfRow(changed)));
    await app.database.db.updateTable('audit_events').set({ ...edit(row), prev_hash: prev, hash }).where('seq', '=', row.seq).execute();
    prev = hash;
  }
  await app.database.db.updateTable('audit_head').set({ hash: prev }).where('id', '=', 1).execute();
}

/** Moves events with seq >= from by `by` (in two steps: a primary key is checked row by row). */
async function shiftSeqs(app: TestApp, from: number, by: number): Promise<void> {
  await app.database.db.updateTable('audit_events').set({ seq: sql`-(seq + ${by})` }).where('seq', '>=', from).execute();
  await app.database.db.updateTable('audit_events').set({ seq: sql`-seq` }).where('seq', '<', 0).execute();
}

for (const dialect of await dialects()) {
  describe(`audit trail tamper evidence (${dialect})`, () => {
    let app: TestApp;
    before(async () => {
      app = await buildTestApp(dialect);
    });
    after(() => app.close());

    /** A fresh trail for one tampering. */
    async function fresh(events = 12): Promise<TestApp> {
      await app.close();
      app = await buildTestApp(dialect);
      await trail(app, events);
      return app;
    }

    it('verifies an untouched trail made by real requests', async () => {
      await fresh();
      const result = await check(app);
      assert.ok(result.ok, JSON.stringify(result));
      const all = await rows(app);
      assert.equal(result.count, all.length);
      assert.equal(result.head.seq, Number(all.at(-1)!.seq));
      assert.equal(result.head.hash, all.at(-1)!.hash);
      assert.ok(all.some((r) => r.outcome === 'denied'), 'the refused request is in the trail');
    });

    it('names an event whose field was edited', async () => {
      await fresh();
      const target = await rowAt(app, 5);
      await app.database.db.updateTable('audit_events').set({ ip: '203.0.113.9' }).where('seq', '=', 5).execute();
      assert.deepEqual(pick(problemOf(await check(app))), { kind: 'altered', seq: 5, id: target.id });
    });

    it('names an event that was edited and given a recomputed hash (the next one no longer links)', async () => {
      await fresh();
      const target = await rowAt(app, 5);
      const changed = { ...target, path: '/api/v1/elsewhere' };
      const hash = eventHash(target.prev_hash, hashedContent(eventOfRow(changed)));
      await app.database.db.updateTable('audit_events').set({ path: changed.path, hash }).where('seq', '=', 5).execute();
      assert.deepEqual(pick(problemOf(await check(app))), { kind: 'altered', seq: 5, id: target.id });
    });

    it('names a deleted event by its seq', async () => {
      await fresh();
      const next = await rowAt(app, 6);
      await app.database.db.deleteFrom('audit_events').where('seq', '=', 5).execute();
      const problem = problemOf(await check(app));
      assert.deepEqual(pick(problem), { kind: 'removed', seq: 5, id: null });
      assert.match(problem.message, new RegExp(next.id));
    });

    it('names two events that swapped places', async () => {
      await fresh();
      const [five, six] = [await rowAt(app, 5), await rowAt(app, 6)];
      await app.database.db.updateTable('audit_events').set({ seq: -1 }).where('seq', '=', 5).execute();
      await app.database.db.updateTable('audit_events').set({ seq: 5 }).where('seq', '=', 6).execute();
      await app.database.db.updateTable('audit_events').set({ seq: 6 }).where('seq', '=', -1).execute();
      assert.deepEqual(pick(problemOf(await check(app))), { kind: 'reordered', seq: 5, id: six.id });
      assert.notEqual(five.id, six.id);
    });

    it('names an event inserted into the middle, even with a correct hash and the head moved on', async () => {
      await fresh();
      const four = await rowAt(app, 4);
      await shiftSeqs(app, 5, 1);
      const forged = { ...four, seq: 5, id: randomUUID(), action: 'components.list', path: '/api/v1/components', prev_hash: four.hash };
      const hash = eventHash(four.hash, hashedContent(eventOfRow(forged)));
      await app.database.db.insertInto('audit_events').values({ ...forged, hash }).execute();
      await app.database.db.updateTable('audit_head').set({ seq: sql`seq + 1` }).where('id', '=', 1).execute();
      assert.deepEqual(pick(problemOf(await check(app))), { kind: 'inserted', seq: 5, id: forged.id });
    });

    it('names an event appended behind the head', async () => {
      await fresh();
      const head = await headSeq(app);
      const last = await rowAt(app, head);
      const forged = { ...last, seq: head + 1, id: randomUUID(), prev_hash: last.hash };
      await app.database.db.insertInto('audit_events').values({ ...forged, hash: eventHash(last.hash, hashedContent(eventOfRow(forged))) }).execute();
      assert.deepEqual(pick(problemOf(await check(app))), { kind: 'inserted', seq: head + 1, id: forged.id });
    });

    it('notices a cut tail from the head, from a stored checkpoint, and from a checkpoint kept elsewhere', async () => {
      await fresh(16);
      const kept = (await app.server.audit.checkpointer.checkpoint())!;
      const head = kept.seq;
      // Naive: rows gone, head untouched.
      await app.database.db.deleteFrom('audit_events').where('seq', '>', head - 3).execute();
      assert.deepEqual(pick(problemOf(await check(app))), { kind: 'truncated', seq: head - 2, id: null });
      // The head made to match: the stored checkpoint still knows better.
      const last = await rowAt(app, head - 3);
      await app.database.db.updateTable('audit_head').set({ seq: head - 3, hash: last.hash }).where('id', '=', 1).execute();
      const stored = problemOf(await check(app));
      assert.deepEqual(pick(stored), { kind: 'truncated', seq: head - 2, id: null });
      assert.match(stored.message, /checkpoint/);
      // The stored checkpoints deleted too: only the copy kept elsewhere can tell.
      await app.database.db.deleteFrom('audit_checkpoints').execute();
      assert.ok((await check(app)).ok, 'a consistent shorter trail cannot be told from the database alone');
      const external = problemOf(await check(app, { checkpoint: { checkpoint: kept, publicKey: signer.publicKey } }));
      assert.deepEqual(pick(external), { kind: 'truncated', seq: head - 2, id: null });
      assert.match(external.message, new RegExp(last.id));
    });

    it('notices a tail rewritten with recomputed hashes through a checkpoint kept elsewhere', async () => {
      await fresh(16);
      const kept = (await app.server.audit.checkpointer.checkpoint())!;
      await rewriteTail(app, 8, (row) => ({ ip: row.ip === null ? null : '198.51.100.1' }));
      const stored = problemOf(await check(app));
      assert.deepEqual(pick(stored), { kind: 'altered', seq: kept.seq, id: (await rowAt(app, kept.seq)).id }, 'the stored checkpoint catches it');
      await app.database.db.deleteFrom('audit_checkpoints').where('seq', '>=', 8).execute();
      assert.ok((await check(app)).ok, 'a consistently rewritten tail cannot be told from the database alone');
      const problem = problemOf(await check(app, { checkpoint: { checkpoint: kept, publicKey: signer.publicKey } }));
      assert.deepEqual(pick(problem), { kind: 'altered', seq: kept.seq, id: (await rowAt(app, kept.seq)).id });
      assert.match(problem.message, /rewritten/);
    });

    it('signs checkpoints that verify under the public key and refuses forged ones', async () => {
      await fresh();
      const checkpoint = (await app.server.audit.checkpointer.checkpoint())!;
      assert.equal(checkpoint.seq, await headSeq(app));
      assert.ok(verify(null, checkpointMessage(checkpoint), signer.publicKey, Buffer.from(checkpoint.signature, 'base64')));
      const verified = await check(app);
      assert.ok(verified.ok && verified.checkpoints === 1, JSON.stringify(verified));
      const external = await check(app, { checkpoint: { checkpoint, publicKey: signer.publicKey } });
      assert.ok(external.ok && external.external === 'matched');

      // Another key's signature, given from outside and stored.
      const other = generateKeyPairSync('ed25519');
      const impostor = createCheckpointer({ db: app.database.db, clock: app.clock, signer: () => signerFrom(other.privateKey) });
      const foreign: SignedCheckpoint = signerFrom(other.privateKey).sign(checkpoint);
      assert.equal(pick(problemOf(await check(app, { checkpoint: { checkpoint: foreign, publicKey: signer.publicKey } }))).kind, 'forged');
      // A genuine signature over other fields.
      const moved = { ...checkpoint, hash: (await rowAt(app, checkpoint.seq - 1)).hash };
      assert.deepEqual(pick(problemOf(await check(app, { checkpoint: { checkpoint: moved, publicKey: signer.publicKey } }))), {
        kind: 'forged',
        seq: checkpoint.seq,
        id: (await rowAt(app, checkpoint.seq)).id,
      });
      await trail(app, checkpoint.seq + 3);
      await impostor.checkpoint();
      const storedForgery = problemOf(await check(app));
      assert.equal(storedForgery.kind, 'forged');
      assert.equal(storedForgery.seq, await headSeq(app));
      // An edited stored checkpoint.
      await app.database.db.deleteFrom('audit_checkpoints').where('seq', '>', checkpoint.seq).execute();
      await app.database.db.updateTable('audit_checkpoints').set({ at: '2020-01-01T00:00:00.000Z' }).where('seq', '=', checkpoint.seq).execute();
      assert.deepEqual(pick(problemOf(await check(app))), { kind: 'forged', seq: checkpoint.seq, id: (await rowAt(app, checkpoint.seq)).id });
    });

    it('prunes old events in one go, records the anchor and an audit.prune event, and the rest still verifies', async () => {
      await app.close();
      // The background timer stays out of it: the clock jumps by months.
      app = await buildTestApp(dialect, { auditCheckpointIntervalMs: 365 * 86_400_000 });
      app.clock.set(new Date('2026-01-10T00:00:00Z'));
      await trail(app, 6);
      const early = (await app.server.audit.checkpointer.checkpoint())!;
      await trail(app, early.seq + 1);
      app.clock.set(new Date('2026-03-10T00:00:00Z'));
      await trail(app, 12);
      const lastOld = Number((await app.database.db.selectFrom('audit_events').select((eb) => eb.fn.max('seq').as('seq')).where('at', '<', '2026-02-01').executeTakeFirstOrThrow()).seq);
      const anchorHash = (await rowAt(app, lastOld)).hash;
      const keptBefore = (await rows(app)).filter((r) => Number(r.seq) > lastOld).length;

      const result = await pruneAuditTrail(app.database.db, app.server.audit.writer, '2026-02-01T00:00:00.000Z', systemContext('cachet audit prune'));
      assert.ok(result.pruned);
      assert.equal(result.removed, lastOld);
      assert.deepEqual(result.anchor, { seq: lastOld, hash: anchorHash });
      const head = await app.database.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
      assert.deepEqual([Number(head.anchor_seq), head.anchor_hash], [lastOld, anchorHash]);
      const left = await rows(app);
      assert.equal(Number(left[0]!.seq), lastOld + 1);
      assert.equal(left.length, keptBefore + 1);
      const prune = left.at(-1)!;
      assert.equal(prune.action, 'audit.prune');
      assert.equal(prune.actor_type, 'system');
      assert.deepEqual(JSON.parse(prune.changes!).anchor_seq, [0, lastOld]);
      assert.deepEqual(JSON.parse(prune.changes!).anchor_hash, ['0'.repeat(64), anchorHash]);

      const verified = await check(app);
      assert.ok(verified.ok, JSON.stringify(verified));
      assert.equal(verified.count, keptBefore + 1);
      assert.equal(verified.checkpoints, 1, 'the checkpoint of pruned events is still checked (its signature)');
      const old = await check(app, { checkpoint: { checkpoint: early, publicKey: signer.publicKey } });
      assert.ok(old.ok && old.external === 'pruned');
      assert.deepEqual(await pruneAuditTrail(app.database.db, app.server.audit.writer, '2026-02-01T00:00:00.000Z', systemContext('cachet audit prune')), { pruned: false });

      // Tampering with the anchor shows at the first kept event.
      await app.database.db.updateTable('audit_head').set({ anchor_hash: 'f'.repeat(64) }).where('id', '=', 1).execute();
      assert.deepEqual(pick(problemOf(await check(app))), { kind: 'altered', seq: lastOld + 1, id: left[0]!.id });
    });

    it("finds a key's events by its token, revoked included, with refused presentations of its prefix", async () => {
      await app.close();
      app = await buildTestApp(dialect);
      const mine = await app.key(['components.read']);
      const theirs = await app.key(['components.read']);
      for (let i = 0; i < 3; i++) assert.equal((await app.request({ url: '/api/v1/components', token: mine })).statusCode, 200);
      assert.equal((await app.request({ url: '/api/v1/components', token: theirs })).statusCode, 200);
      assert.equal((await app.request({ method: 'POST', url: '/api/v1/components', token: mine, body: { name: 'x', status: 1 } })).statusCode, 403);
      const key = (await keyOfToken(app.database.db, testConfig().pepper, mine))!;
      const revoked = await app.server.keys.revoke(key.id);
      assert.ok(revoked.ok);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the verifier's cache notices the revocation
      assert.equal((await app.request({ url: '/api/v1/components', token: mine })).statusCode, 401);

      const found = (await keyOfToken(app.database.db, testConfig().pepper, mine))!;
      assert.equal(found.id, key.id);
      assert.ok(found.revoked_at);
      const events = await keyEvents(app.database.db, found, 0, 1000);
      const expected = (await rows(app)).filter(
        (r) => r.key_id === key.id || (r.resource_type === 'keys' && r.resource_id === String(key.id)) || (r.key_id === null && r.key_prefix === displayPrefix(mine)),
      );
      assert.deepEqual(events.map((e) => e.seq), expected.map((e) => e.seq));
      assert.deepEqual(
        events.map((e) => `${e.action}:${e.outcome}`),
        ['keys.create:allowed', 'components.list:allowed', 'components.list:allowed', 'components.list:allowed', 'components.create:denied', 'keys.revoke:allowed', 'components.list:denied'],
      );
      assert.ok(!(await keyEvents(app.database.db, found, 0, 1000)).some((e) => e.key_prefix === displayPrefix(theirs)));
      assert.equal(await keyOfToken(app.database.db, Buffer.from('another-pepper-another-pepper-another'), mine), undefined);
    });

    it('verifies a long chain (20,000 events) in bounded batches', async () => {
      await app.close();
      app = await buildTestApp(dialect, { auditCheckpointEvents: 100_000_000 });
      const context = systemContext('cachet test');
      const fact = { action: 'components.list', resourceType: 'components', resourceId: null, outcome: 'allowed' as const, status: 200, reason: null, changes: null };
      for (let i = 0; i < 20; i++) {
        await app.database.db.transaction().execute((trx) => app.server.audit.writer.append(trx, Array.from({ length: 1000 }, () => ({ context, fact }))));
      }
      const batches: number[] = [];
      const started = Date.now();
      const result = await check(app, { batchSize: 500, onBatch: (n) => batches.push(n) });
      const ms = Date.now() - started;
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.count, 20_000);
      assert.equal(batches.length, 40);
      assert.ok(batches.every((n) => n <= 500));
      console.log(`# verified 20,000 events on ${dialect} in ${ms} ms`);
      await app.database.db.updateTable('audit_events').set({ status: 500 }).where('seq', '=', 19_999).execute();
      assert.deepEqual(pick(problemOf(await check(app, { batchSize: 500 }))), { kind: 'altered', seq: 19_999, id: (await rowAt(app, 19_999)).id });
    });

    it('signs checkpoints in the background every N events and every interval, once per head across instances', async () => {
      await app.close();
      app = await buildTestApp(dialect, { auditCheckpointEvents: 5, auditCheckpointIntervalMs: 300_000 });
      await trail(app, 6);
      const seen = await waitFor(async () => (await app.database.db.selectFrom('audit_checkpoints').selectAll().execute()).length > 0);
      assert.ok(seen, 'no checkpoint after 5 events');
      const [first] = await app.database.db.selectFrom('audit_checkpoints').selectAll().execute();
      assert.ok(Number(first!.seq) >= 5);
      assert.ok((await check(app)).ok);
      await app.close();

      app = await buildTestApp(dialect, { auditCheckpointEvents: 1000, auditCheckpointIntervalMs: 200 });
      await trail(app, 2);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal((await app.database.db.selectFrom('audit_checkpoints').selectAll().execute()).length, 0, 'signed before the interval passed');
      app.clock.advance(1000);
      assert.ok(await waitFor(async () => (await app.database.db.selectFrom('audit_checkpoints').selectAll().execute()).length === 1), 'no checkpoint after the interval');

      // Two instances signing the same head store one checkpoint.
      await trail(app, (await headSeq(app)) + 2);
      const second = createCheckpointer({ db: app.database.db, clock: fixedClock(new Date('2026-11-25T13:00:00Z')), signer: () => signer });
      const [a, b] = await Promise.all([app.server.audit.checkpointer.checkpoint(), second.checkpoint()]);
      assert.deepEqual(a, b);
      assert.equal((await app.database.db.selectFrom('audit_checkpoints').selectAll().where('seq', '=', a!.seq).execute()).length, 1);
    });
  });
}

function pick(problem: { kind: string; seq: number; id: string | null }) {
  return { kind: problem.kind, seq: problem.seq, id: problem.id };
}

function signerFrom(privateKey: import('node:crypto').KeyObject) {
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return loadSigner({ auditSigningKey: pem, dataDir: '/nonexistent' }, { create: false })!;
}

async function waitFor(condition: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
