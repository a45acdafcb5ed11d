/** Key lifecycle rules: policy on expiry and scopes, revocation, bootstrap. */
import type { KeysAdmin } from '../../src/features/keys/keys.admin.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createKeysRepo } from '../../src/features/keys/keys.repo.js';
import { createKeysService } from '../../src/features/keys/keys.service.js';
import { fixedClock } from '../../src/infra/clock.js';
import { isWellFormedToken } from '../../src/infra/token.js';
import { adminKeys, testConfig } from '../helpers/app.js';
import { dialects, freshDatabase, PG_URL } from '../helpers/dialects.js';

const DAY = 86_400_000;

for (const dialect of await dialects()) {
  describe(`keys service (${dialect})`, () => {
    let database: Awaited<ReturnType<typeof freshDatabase>>;
    let keys: KeysAdmin;
    const clock = fixedClock(new Date('2026-11-25T12:00:00Z'));
    const service = (overrides: { keyMaxTtlMs?: number | null } = {}) =>
      adminKeys(createKeysService({ db: database.db, repo: createKeysRepo(), pepper: testConfig().pepper, clock, keyMaxTtlMs: 90 * DAY, keyDefaultTtlMs: 90 * DAY, ...overrides }), database.db, clock);

    before(async () => {
      database = await freshDatabase(dialect);
      keys = service();
    });
    after(() => database.close());

    it('creates a key valid for 90 days by default and shows its token once', async () => {
      const created = await keys.create({ name: ' monitor ', scopes: ['components.manage'], createdBy: 'cli' });
      assert.ok(created.ok);
      assert.ok(isWellFormedToken(created.token));
      assert.equal(created.key.name, 'monitor');
      assert.equal(created.key.prefix, created.token.slice(0, 12));
      assert.equal(created.key.expires_at, new Date(clock.now().getTime() + 90 * DAY).toISOString());
      const listed = await keys.list();
      assert.ok(!JSON.stringify(listed).includes(created.token.slice(12)));
    });

    it('refuses an empty scope list, unknown scopes, bad names and lifetimes past the maximum', async () => {
      const refusals: Array<[Parameters<KeysAdmin['create']>[0], RegExp]> = [
        [{ name: 'x', scopes: [], createdBy: 'cli' }, /at least one scope/],
        [{ name: 'x', scopes: ['components.write'], createdBy: 'cli' }, /unknown scope "components.write"/],
        [{ name: '', scopes: ['*'], createdBy: 'cli' }, /name/],
        [{ name: 'x', scopes: ['*'], expires: '91d', createdBy: 'cli' }, /longest key lifetime of 90d/],
        [{ name: 'x', scopes: ['*'], expires: 'never', createdBy: 'cli' }, /must expire/],
        [{ name: 'x', scopes: ['*'], expires: 'tomorrow', createdBy: 'cli' }, /duration/],
        [{ name: 'x', scopes: ['*'], rateLimit: 0, createdBy: 'cli' }, /rate limit/],
        [{ name: 'x', scopes: ['*'], allowedIps: ['10.0.0.0/40'], createdBy: 'cli' }, /10\.0\.0\.0\/40/],
        // An allow-list that is given but empty is a mistake, never "any address".
        [{ name: 'x', scopes: ['*'], allowedIps: [], createdBy: 'cli' }, /allowed IPs: the list is empty/],
        [{ name: 'x', scopes: ['*'], allowedIps: ['', ' '], createdBy: 'cli' }, /allowed IPs: the list is empty/],
      ];
      const before = (await keys.list()).length;
      for (const [input, message] of refusals) {
        const result = await keys.create(input);
        assert.ok(!result.ok && message.test(result.error), `${JSON.stringify(input)} → ${JSON.stringify(result)}`);
      }
      assert.equal((await keys.list()).length, before, 'a refused key was stored');
    });

    it('stores trimmed allowed IPs and warns about an IPv6 range that admits every IPv4 client', async () => {
      const wide = await keys.create({ name: 'wide', scopes: ['components.read'], allowedIps: [' ::/0 ', '10.0.0.0/8'], createdBy: 'cli' });
      assert.ok(wide.ok);
      assert.deepEqual(wide.key.allowed_ips, ['::/0', '10.0.0.0/8']);
      assert.equal(wide.warnings.length, 1);
      assert.match(wide.warnings[0]!, /"::\/0" also admits IPv4 clients/);
      const any = await keys.create({ name: 'any', scopes: ['components.read'], createdBy: 'cli' });
      assert.ok(any.ok && any.key.allowed_ips === null && any.warnings.length === 0);
    });

    it('allows never-expiring keys only when the operator allows it', async () => {
      const created = await service({ keyMaxTtlMs: null }).create({ name: 'forever', scopes: ['components.read'], expires: 'never', createdBy: 'cli' });
      assert.ok(created.ok && created.key.expires_at === null);
    });

    it('does not let a key mint a stronger key', async () => {
      const weaker = await keys.create({ name: 'child', scopes: ['components.read'], createdBy: 'key:1', creator: { scopes: ['components.manage'], allowedIps: null } });
      assert.ok(weaker.ok);
      const stronger = await keys.create({ name: 'child', scopes: ['components.delete', 'components.read'], createdBy: 'key:1', creator: { scopes: ['components.manage'], allowedIps: null } });
      assert.ok(!stronger.ok && /cannot grant scopes it does not hold: components.delete/.test(stronger.error));
      const star = await keys.create({ name: 'child', scopes: ['*'], createdBy: 'key:1', creator: { scopes: ['keys.manage', 'components.manage'], allowedIps: null } });
      assert.ok(!star.ok);
    });

    it('revokes once, and reports a second revocation and a missing key', async () => {
      const created = await keys.create({ name: 'revokable', scopes: ['*'], createdBy: 'cli' });
      assert.ok(created.ok);
      const revoked = await keys.revoke(created.key.id);
      assert.ok(revoked.ok && revoked.key.status === 'revoked');
      assert.deepEqual(await keys.revoke(created.key.id), { ok: false, status: 409, error: `key ${created.key.id} is already revoked` });
      assert.deepEqual(await keys.revoke(999_999), { ok: false, status: 404, error: 'no key with id 999999' });
    });

    it('reports a key past its expiry as expired', async () => {
      const created = await keys.create({ name: 'short', scopes: ['*'], expires: '90s', createdBy: 'cli' });
      assert.ok(created.ok);
      clock.advance(91_000);
      assert.equal((await keys.show(created.key.id))!.status, 'expired');
    });
  });

  describe(`bootstrap key (${dialect})`, () => {
    it('creates one * key for 24 h on an empty database, and only one when instances start together', async () => {
      const database = await freshDatabase(dialect);
      const extra = dialect === 'postgres' ? openDatabase(PG_URL, { schema: database.schema }) : null;
      try {
        const clock = fixedClock(new Date('2026-11-25T12:00:00Z'));
        const make = (db: typeof database.db) => adminKeys(createKeysService({ db, repo: createKeysRepo(), pepper: testConfig().pepper, clock, keyMaxTtlMs: 90 * DAY, keyDefaultTtlMs: 90 * DAY }), db, clock);
        const starters = [make(database.db), make((extra ?? database).db), make(database.db)];
        const results = await Promise.all(starters.map((s) => s.bootstrap()));
        const made = results.filter((r) => r !== null);
        assert.equal(made.length, 1, 'exactly one starter creates the bootstrap key');
        const key = made[0]!.key;
        assert.deepEqual(key.scopes, ['*']);
        assert.equal(key.expires_at, '2026-11-26T12:00:00.000Z');
        assert.equal(await starters[0]!.bootstrap(), null, 'a later start creates nothing');
        assert.equal((await starters[0]!.list()).length, 1);
      } finally {
        await extra?.close();
        await database.close();
      }
    });
  });
}

describe('migrations', () => {
  it('are idempotent on SQLite', async () => {
    const database = openDatabase('sqlite::memory:');
    try {
      assert.ok((await migrateToLatest(database)).includes('0001_foundation'));
      assert.deepEqual(await migrateToLatest(database), []);
    } finally {
      await database.close();
    }
  });
});
