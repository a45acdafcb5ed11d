/**
 * The verify cache's edges, each of which a mutation of keys.verify.ts once survived: a lookup that
 * races an invalidation, the exact millisecond of expiry, keys that never expire, and the cache of
 * unknown digests.
 */
import type { KeysAdmin } from '../../src/features/keys/keys.admin.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createKeysRepo, type KeysRepo } from '../../src/features/keys/keys.repo.js';
import { createKeysService, keyView } from '../../src/features/keys/keys.service.js';
import { STALE_AFTER_POLLS, createKeyVerifier } from '../../src/features/keys/keys.verify.js';
import { fixedClock } from '../../src/infra/clock.js';
import { generateToken } from '../../src/infra/token.js';
import { adminKeys, testConfig } from '../helpers/app.js';
import { dialects, freshDatabase } from '../helpers/dialects.js';

const DAY = 86_400_000;

for (const dialect of await dialects()) {
  describe(`key verifier (${dialect})`, () => {
    let database: Awaited<ReturnType<typeof freshDatabase>>;
    let keys: KeysAdmin;
    const repo = createKeysRepo();
    const clock = fixedClock(new Date('2026-11-25T12:00:00Z'));
    const pepper = testConfig().pepper;

    before(async () => {
      database = await freshDatabase(dialect);
      keys = adminKeys(createKeysService({ db: database.db, repo, pepper, clock, keyMaxTtlMs: null, keyDefaultTtlMs: 90 * DAY }), database.db, clock);
    });
    after(() => database.close());

    async function created(expires: string) {
      const result = await keys.create({ name: `k-${expires}`, scopes: ['components.read'], expires, createdBy: 'cli' });
      assert.ok(result.ok);
      return result;
    }

    it('does not cache what a lookup read before an invalidation (a revocation that raced it)', async () => {
      const { token, key } = await created('30d');
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let held = true;
      // The real repository, with the first lookup held open after it has read the row.
      const slow: KeysRepo = {
        ...repo,
        async findByDigest(db, digest) {
          const row = await repo.findByDigest(db, digest);
          if (held) {
            held = false;
            await gate;
          }
          return row;
        },
      };
      const verifier = createKeyVerifier({ db: database.db, repo: slow, pepper });
      const inFlight = verifier.verify(token, clock.now());
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok((await keys.revoke(key.id)).ok);
      verifier.invalidate(); // what the revision poll does when it sees the revocation
      release();
      assert.equal((await inFlight).ok, true, 'the lookup read the row before the revocation');
      assert.deepEqual(await verifier.verify(token, clock.now()), { ok: false, reason: 'revoked', keyId: key.id });
    });

    it('refuses a key from the exact millisecond it expires, in verify and in the key view', async () => {
      const { token, key } = await created('90s');
      const verifier = createKeyVerifier({ db: database.db, repo, pepper });
      const expiresAt = new Date(key.expires_at!);
      assert.equal((await verifier.verify(token, new Date(expiresAt.getTime() - 1))).ok, true);
      assert.deepEqual(await verifier.verify(token, expiresAt), { ok: false, reason: 'expired', keyId: key.id });
      const row = (await repo.findById(database.db, key.id))!;
      assert.equal(keyView(row, new Date(expiresAt.getTime() - 1)).status, 'active');
      assert.equal(keyView(row, expiresAt).status, 'expired');
    });

    it('accepts a key that never expires, however far ahead', async () => {
      const { token, key } = await created('never');
      assert.equal(key.expires_at, null);
      const verifier = createKeyVerifier({ db: database.db, repo, pepper });
      const result = await verifier.verify(token, new Date('9999-01-01T00:00:00Z'));
      assert.ok(result.ok);
      assert.equal(result.key.id, key.id);
      assert.equal(keyView((await repo.findById(database.db, key.id))!, new Date('9999-01-01T00:00:00Z')).status, 'active');
    });

    it('remembers unknown digests, so a repeated bad token costs one query', async () => {
      let queries = 0;
      const counting: KeysRepo = {
        ...repo,
        async findByDigest(db, digest) {
          queries += 1;
          return repo.findByDigest(db, digest);
        },
      };
      const verifier = createKeyVerifier({ db: database.db, repo: counting, pepper });
      const unknown = generateToken();
      for (let i = 0; i < 5; i++) assert.deepEqual(await verifier.verify(unknown, clock.now()), { ok: false, reason: 'unknown' });
      assert.equal(queries, 1);
      const { token } = await created('1d');
      for (let i = 0; i < 5; i++) assert.equal((await verifier.verify(token, clock.now())).ok, true);
      assert.equal(queries, 2, 'a known key was looked up more than once');
      verifier.invalidate();
      await verifier.verify(unknown, clock.now());
      assert.equal(queries, 3, 'invalidate() must forget unknown digests too (a key may have been created since)');
    });

    /** The real repository, counting lookups and revision reads; `down` makes the revision read fail. */
    function instrumented() {
      const counts = { lookups: 0, revisions: 0 };
      const state = { down: false };
      const instrumentedRepo: KeysRepo = {
        ...repo,
        async findByDigest(db, digest) {
          counts.lookups += 1;
          return repo.findByDigest(db, digest);
        },
        async revision(db) {
          counts.revisions += 1;
          if (state.down) throw new Error('store unreachable');
          return repo.revision(db);
        },
      };
      return { counts, state, repo: instrumentedRepo };
    }
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    it('polls the revision row: a change made elsewhere drops the caches, no change keeps them, stop() stops', async () => {
      const { counts, repo: counting } = instrumented();
      // The default monotonic clock: a started verifier must still answer from its cache.
      const verifier = createKeyVerifier({ db: database.db, repo: counting, pepper });
      const { token, key } = await created('7d');
      await verifier.start(20, (err) => assert.fail(String(err)));
      try {
        assert.equal((await verifier.verify(token, clock.now())).ok, true);
        await pause(120); // several polls, none of which sees a change
        assert.equal((await verifier.verify(token, clock.now())).ok, true);
        assert.equal(counts.lookups, 1, 'a poll that saw no change dropped the cache');
        assert.ok(counts.revisions >= 3, `the revision row was read ${counts.revisions} times in 120 ms at a 20 ms interval`);
        // Revoked through another service (another instance, the CLI): only the poll can tell this verifier.
        assert.ok((await keys.revoke(key.id)).ok);
        let answer = await verifier.verify(token, clock.now());
        for (let waited = 0; answer.ok && waited < 2000; waited += 20) {
          await pause(20);
          answer = await verifier.verify(token, clock.now());
        }
        assert.deepEqual(answer, { ok: false, reason: 'revoked', keyId: key.id });
      } finally {
        verifier.stop();
      }
      await pause(30);
      const polled = counts.revisions;
      await pause(100);
      assert.equal(counts.revisions, polled, 'the verifier kept polling after stop()');
    });

    it('trusts its caches for exactly STALE_AFTER_POLLS intervals of failed polls, and reports each run of failures once', async () => {
      const { counts, state, repo: flaky } = instrumented();
      let monotonic = 1_000;
      const verifier = createKeyVerifier({ db: database.db, repo: flaky, pepper, monotonicNow: () => monotonic });
      const { token } = await created('8d');
      const errors: unknown[] = [];
      const interval = 20;
      await verifier.start(interval, (err) => errors.push(err));
      try {
        assert.equal((await verifier.verify(token, clock.now())).ok, true);
        assert.equal(counts.lookups, 1);
        state.down = true;
        await pause(interval * 5); // polls in flight settle; the next ones fail
        assert.equal(errors.length, 1, 'a run of failed polls is reported once');
        assert.match(String(errors[0]), /store unreachable/);
        // The last good poll was at 1,000 on the verifier's clock: up to 1,000 + 3 intervals the cache answers.
        monotonic = 1_000 + STALE_AFTER_POLLS * interval;
        assert.equal((await verifier.verify(token, clock.now())).ok, true);
        assert.equal(counts.lookups, 1, 'the cache was distrusted before STALE_AFTER_POLLS intervals had passed');
        monotonic += 1;
        assert.equal((await verifier.verify(token, clock.now())).ok, true);
        assert.equal(counts.lookups, 2, 'a stale cache answered without asking the store');
        await verifier.verify(token, clock.now());
        assert.equal(counts.lookups, 3, 'a stale cache is asked nothing until a poll succeeds');
        // The store comes back: a good poll makes the cache trusted again, and the next run of failures is reported.
        state.down = false;
        await pause(interval * 4);
        await verifier.verify(token, clock.now());
        assert.equal(counts.lookups, 3, 'a successful poll (no change) makes the cache trusted again');
        state.down = true;
        await pause(interval * 5);
        assert.equal(errors.length, 2, 'a new run of failures after a success is reported again');
      } finally {
        verifier.stop();
      }
    });

    it('bounds both caches', async () => {
      const verifier = createKeyVerifier({ db: database.db, repo, pepper, maxEntries: 3 });
      const tokens = await Promise.all(['1d', '2d', '3d', '4d', '5d'].map(async (e) => (await created(e)).token));
      for (const token of tokens) await verifier.verify(token, clock.now());
      assert.equal(verifier.size(), 3);
    });
  });
}
