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
import { createKeyVerifier } from '../../src/features/keys/keys.verify.js';
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

    it('bounds both caches', async () => {
      const verifier = createKeyVerifier({ db: database.db, repo, pepper, maxEntries: 3 });
      const tokens = await Promise.all(['1d', '2d', '3d', '4d', '5d'].map(async (e) => (await created(e)).token));
      for (const token of tokens) await verifier.verify(token, clock.now());
      assert.equal(verifier.size(), 3);
    });
  });
}
