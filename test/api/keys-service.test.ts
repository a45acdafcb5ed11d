/** Key lifecycle rules: policy on expiry and scopes, revocation, bootstrap. */
import type { KeysAdmin } from '../../src/features/keys/keys.admin.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.js';
import { createAuditRepo } from '../../src/features/audit/audit.repo.js';
import { systemContext } from '../../src/features/audit/audit.types.js';
import { createAuditWriter } from '../../src/features/audit/audit.writer.js';
import { createAudited } from '../../src/features/audit/audited.js';
import { createKeysRepo } from '../../src/features/keys/keys.repo.js';
import { authorityBeyond, createKeysService, RotationRaceLost, rotationDueAt } from '../../src/features/keys/keys.service.js';
import { fixedClock } from '../../src/infra/clock.js';
import { generateToken, isWellFormedToken } from '../../src/infra/token.js';
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

    /** The audit events about key `id`, oldest first: action and recorded changes. */
    const keyEvents = async (id: number) =>
      (await database.db.selectFrom('audit_events').select(['action', 'changes']).where('resource_type', '=', 'keys').where('resource_id', '=', String(id)).orderBy('seq').execute())
        .map((event) => ({ action: event.action, changes: event.changes === null ? null : (JSON.parse(event.changes) as unknown) }));

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
      const revocation = (await keyEvents(created.key.id)).at(-1);
      assert.deepEqual(revocation, { action: 'keys.revoke', changes: { revoked_at: [null, clock.now().toISOString()] } });
      assert.deepEqual(await keys.update(created.key.id, { name: 'too late' }), { ok: false, status: 409, error: `key ${created.key.id} is revoked` });
      assert.deepEqual(await keys.update(999_999, { name: 'nobody' }), { ok: false, status: 404, error: 'no key with id 999999' });
      assert.equal((await keyEvents(created.key.id)).length, 2, 'a refused change records nothing');
    });

    it('refuses a weaker key revoking, changing or rotating a stronger one, naming every reason, and changes nothing', async () => {
      const strong = await keys.create({ name: 'strong', scopes: ['components.manage', 'incidents.read'], createdBy: 'cli' });
      assert.ok(strong.ok);
      const caller = { scopes: ['components.manage', 'keys.manage'], allowedIps: ['10.0.0.0/8'] };
      const reasons = 'scopes it does not hold: incidents.read; use from any address, while it is limited to 10.0.0.0/8';
      const raw = keys.service;
      const inTrx = <T>(fn: (trx: Kysely<DB>) => Promise<T>) =>
        createAudited(database.db, createAuditWriter({ repo: createAuditRepo(), clock, pepper: testConfig().pepper }))(systemContext('cachet test'), fn);
      const events = (await keyEvents(strong.key.id)).length;
      assert.deepEqual(await inTrx((trx) => raw.revoke(trx, strong.key.id, caller)), { ok: false, status: 403, error: `this key cannot revoke a key that has ${reasons}` });
      assert.deepEqual(await inTrx((trx) => raw.update(trx, strong.key.id, { name: 'renamed' }, caller)), { ok: false, status: 403, error: `this key cannot change a key that has ${reasons}` });
      assert.deepEqual(await inTrx((trx) => raw.rotate(trx, strong.key.id, { graceMs: 0, createdBy: 'key:1' }, caller)), { ok: false, status: 403, error: `this key cannot rotate a key that has ${reasons}` });
      const unchanged = (await keys.show(strong.key.id))!;
      assert.deepEqual([unchanged.name, unchanged.status, unchanged.replaced_by_id, (await keyEvents(strong.key.id)).length], ['strong', 'active', null, events]);
      // Within its authority the same caller may; granting past it is refused.
      const within = { scopes: ['components.manage', 'incidents.read', 'keys.manage'], allowedIps: null };
      assert.deepEqual(await inTrx((trx) => raw.update(trx, strong.key.id, { scopes: ['*'] }, within)), { ok: false, status: 403, error: 'a key cannot grant scopes it does not hold: *' });
      const renamed = await inTrx((trx) => raw.update(trx, strong.key.id, { name: 'renamed' }, within));
      assert.ok(renamed.ok && renamed.key.name === 'renamed');
      assert.ok((await inTrx((trx) => raw.revoke(trx, strong.key.id, within))).ok);
      const narrow = await keys.create({ name: 'narrow', scopes: ['components.read'], allowedIps: ['10.1.0.0/16'], createdBy: 'cli' });
      assert.ok(narrow.ok);
      assert.deepEqual(await inTrx((trx) => raw.update(trx, narrow.key.id, { scopes: ['incidents.read'], allowedIps: null }, caller)), {
        ok: false,
        status: 403,
        error: 'a key cannot grant scopes it does not hold: incidents.read; use from any address, while it is limited to 10.0.0.0/8',
      });
    });

    it('says which scopes and addresses a creator lacks, word for word', () => {
      const caller = { scopes: ['components.read'], allowedIps: ['10.0.0.0/8', '192.168.0.0/16'] };
      assert.deepEqual(authorityBeyond(caller, { scopes: ['components.manage', 'incidents.read'], allowedIps: ['10.1.0.0/16'] }), [
        'scopes it does not hold: components.manage, incidents.read',
      ]);
      assert.deepEqual(authorityBeyond(caller, { scopes: ['components.read'], allowedIps: null }), [
        'use from any address, while it is limited to 10.0.0.0/8, 192.168.0.0/16',
      ]);
      // Every range must lie inside one of the caller's: one outside is enough to refuse.
      assert.deepEqual(authorityBeyond(caller, { scopes: ['components.read'], allowedIps: ['10.1.0.0/16', '192.168.1.0/24'] }), []);
      for (const ranges of [['10.1.0.0/16', '172.16.0.0/12'], ['172.16.0.0/12'], ['not a range']]) {
        assert.deepEqual(authorityBeyond(caller, { scopes: ['components.read'], allowedIps: ranges }), [
          'addresses outside its own (10.0.0.0/8, 192.168.0.0/16)',
        ], ranges.join());
      }
      // An IPv4 range is never "inside" an IPv6 one, though Node's BlockList matches v4 against ::/0.
      assert.equal(authorityBeyond({ scopes: ['*'], allowedIps: ['::/0'] }, { scopes: ['*'], allowedIps: ['10.0.0.0/8'] }).length, 1);
      // A caller's unreadable range (never stored, but the check must not trip over one) contains nothing.
      assert.deepEqual(authorityBeyond({ scopes: ['*'], allowedIps: ['bogus', '10.0.0.0/8'] }, { scopes: ['*'], allowedIps: ['10.1.0.0/16'] }), []);
      // Scopes that do not parse are the scope parser's refusal, not an escalation.
      assert.deepEqual(authorityBeyond(caller, { scopes: ['no.such-scope'], allowedIps: ['10.1.0.0/16'] }), []);
    });

    it('reads not_before only as an ISO 8601 time with a zone, padded or not', async () => {
      const accepted: Array<[string, string]> = [
        ['2026-12-01T09:00Z', '2026-12-01T09:00:00.000Z'],
        ['2026-12-01T09:00:00Z', '2026-12-01T09:00:00.000Z'],
        ['2026-12-01T09:00:00.5Z', '2026-12-01T09:00:00.500Z'],
        ['2026-12-01T10:00:00+01:00', '2026-12-01T09:00:00.000Z'],
        ['2026-12-01T04:00:00-05:00', '2026-12-01T09:00:00.000Z'],
        ['  2026-12-01T09:00:00Z  ', '2026-12-01T09:00:00.000Z'],
      ];
      for (const [notBefore, stored] of accepted) {
        const created = await keys.create({ name: 'later', scopes: ['components.read'], notBefore, createdBy: 'cli' });
        assert.ok(created.ok, `${notBefore}: ${JSON.stringify(created)}`);
        assert.equal(created.key.not_before, stored, notBefore);
      }
      for (const notBefore of ['+002026-12-01T10:00:00Z', '2026-12-01T09:00:00', '2026-12-01 09:00:00Z', '2026-12-01T09:00:00+0100', '2026-12-01T09:00:00+1:00', 'soon']) {
        const refused = await keys.create({ name: 'later', scopes: ['components.read'], notBefore, createdBy: 'cli' });
        assert.ok(!refused.ok && refused.error.startsWith('not_before must be an ISO 8601 time with a zone'), `${notBefore}: ${JSON.stringify(refused)}`);
      }
    });

    it('names the longest lifetime in the unit it was configured in', async () => {
      for (const [maxMs, shown] of [[36 * 3_600_000, '36h'], [90 * 60_000, '90m'], [90_000, '90s'], [7 * DAY, '7d']] as const) {
        const refused = await service({ keyMaxTtlMs: maxMs }).create({ name: 'x', scopes: ['*'], expires: '3000d', createdBy: 'cli' });
        assert.ok(!refused.ok);
        assert.equal(refused.error, `expires exceeds the longest key lifetime of ${shown} (CACHET_KEY_MAX_TTL)`);
      }
    });

    it('changes only the fields an update names: absent keeps, null clears, a value sets', async () => {
      const created = await keys.create({ name: 'full', purpose: 'dashboards', scopes: ['components.read', 'incidents.read'], allowedIps: ['10.0.0.0/8'], rateLimit: 50, resources: { components: [3] }, createdBy: 'cli' });
      assert.ok(created.ok, JSON.stringify(created));
      const id = created.key.id;
      const fields = (key: { name: string; purpose: string | null; scopes: readonly string[]; allowed_ips: readonly string[] | null; rate_limit: number | null; resources: unknown }) =>
        [key.name, key.purpose, key.scopes, key.allowed_ips, key.rate_limit, key.resources];
      const renamed = await keys.update(id, { name: '  renamed  ' });
      assert.ok(renamed.ok);
      assert.deepEqual(fields(renamed.key), ['renamed', 'dashboards', ['components.read', 'incidents.read'], ['10.0.0.0/8'], 50, { components: [3] }], 'a rename keeps the rest');
      const set = await keys.update(id, { purpose: 'status board', rateLimit: 70, scopes: ['components.read'], allowedIps: ['192.168.0.0/16'], resources: { components: [4] } });
      assert.ok(set.ok);
      assert.deepEqual(fields(set.key), ['renamed', 'status board', ['components.read'], ['192.168.0.0/16'], 70, { components: [4] }]);
      const cleared = await keys.update(id, { purpose: null, rateLimit: null, allowedIps: null, resources: null });
      assert.ok(cleared.ok);
      assert.deepEqual(fields(cleared.key), ['renamed', null, ['components.read'], null, null, null]);
      assert.deepEqual(fields((await keys.show(id))!), fields(cleared.key), 'as stored');
      const stored = (await createKeysRepo().findById(database.db, id))!;
      assert.deepEqual([stored.purpose, stored.allowed_ips, stored.rate_limit, stored.resources], [null, null, null, null], 'no restriction is SQL NULL, not the text "null"');
      const change = (await keyEvents(id)).at(-1)!;
      assert.deepEqual([change.action, Object.keys(change.changes as object).sort()], ['keys.update', ['allowed_ips', 'purpose', 'rate_limit', 'resources']]);
    });

    it('lifts a resource limit with null or {}, and refuses other shapes without changing the limit', async () => {
      const limited = async () => {
        const created = await keys.create({ name: 'limited', scopes: ['components.read'], resources: { components: [1, 2] }, createdBy: 'cli' });
        assert.ok(created.ok, JSON.stringify(created));
        return created.key.id;
      };
      for (const lift of [null, {}]) {
        const id = await limited();
        const lifted = await keys.update(id, { resources: lift });
        assert.ok(lifted.ok && lifted.key.resources === null, `${JSON.stringify(lift)}: ${JSON.stringify(lifted)}`);
      }
      for (const bad of [[], '', 0]) {
        const id = await limited();
        const refused = await keys.update(id, { resources: bad });
        assert.ok(!refused.ok && refused.status === 400, `${JSON.stringify(bad)}: ${JSON.stringify(refused)}`);
        assert.deepEqual((await keys.show(id))!.resources, { components: [1, 2] });
      }
    });

    it('keeps a webhook signing secret while the URL stays, and makes a new one when it changes', async () => {
      const repo = createKeysRepo();
      const secretOf = async (id: number) => (await repo.findById(database.db, id))!.rotation_secret;
      const webhook = (url: string, every = '30d') => ({ every, grace: '1h', deliver: { type: 'webhook' as const, url } });
      const created = await keys.create({ name: 'hooked', scopes: ['components.read'], rotation: webhook('https://consumer.example/a'), createdBy: 'cli' });
      assert.ok(created.ok && created.webhookSecret);
      const first = await secretOf(created.key.id);
      assert.equal(first, created.webhookSecret);
      const sameUrl = await keys.update(created.key.id, { rotation: webhook('https://consumer.example/a', '7d') });
      assert.ok(sameUrl.ok && sameUrl.webhookSecret === undefined);
      assert.equal(sameUrl.key.rotation?.every, '7d');
      assert.equal(await secretOf(created.key.id), first, 'the secret changed though the URL did not');
      const moved = await keys.update(created.key.id, { rotation: webhook('https://consumer.example/b') });
      assert.ok(moved.ok && moved.webhookSecret !== undefined && moved.webhookSecret !== first);
      assert.equal(await secretOf(created.key.id), moved.webhookSecret);
      // A policy without a webhook keeps no secret; adding a webhook to a key without one makes one.
      const file = await keys.update(created.key.id, { rotation: { every: '30d', grace: '1h', deliver: { type: 'file', path: '/tmp/cachet-key-handoff' } }, hostTargets: true });
      assert.ok(file.ok && file.key.rotation?.deliver.type === 'file', JSON.stringify(file));
      assert.equal(await secretOf(created.key.id), null);
      const plain = await keys.create({ name: 'plain', scopes: ['components.read'], createdBy: 'cli' });
      assert.ok(plain.ok);
      const added = await keys.update(plain.key.id, { rotation: webhook('https://consumer.example/a') });
      assert.ok(added.ok && added.webhookSecret !== undefined && added.key.rotation !== null);
      // A webhook policy whose secret was lost (a hand-edited row) gets a new one even for the same URL.
      await database.db.updateTable('api_keys').set({ rotation_secret: null }).where('id', '=', plain.key.id).execute();
      const renewed = await keys.update(plain.key.id, { rotation: webhook('https://consumer.example/a') });
      assert.ok(renewed.ok && renewed.webhookSecret !== undefined);
      // A change that names no policy keeps the policy and its secret.
      const policy = (await keys.show(plain.key.id))!.rotation;
      const secret = await secretOf(plain.key.id);
      const renamed = await keys.update(plain.key.id, { name: 'plain, renamed' });
      assert.ok(renamed.ok && renamed.webhookSecret === undefined);
      assert.deepEqual(renamed.key.rotation, policy);
      assert.equal(await secretOf(plain.key.id), secret);
      const removed = await keys.update(plain.key.id, { rotation: null });
      assert.ok(removed.ok && removed.key.rotation === null);
      assert.equal(await secretOf(plain.key.id), null);
    });

    it('is due for rotation a period after its creation, and never once rotated or revoked', async () => {
      const created = await keys.create({ name: 'due', scopes: ['components.read'], rotation: { every: '30d', grace: '1h', deliver: { type: 'webhook', url: 'https://consumer.example/due' } }, createdBy: 'cli' });
      assert.ok(created.ok);
      const row = (await createKeysRepo().findById(database.db, created.key.id))!;
      const policy = created.key.rotation!;
      assert.equal(rotationDueAt(row, policy), new Date(Date.parse(row.created_at) + 30 * DAY).toISOString());
      assert.equal(rotationDueAt({ ...row, replaced_by_id: row.id + 1 }, policy), null);
      assert.equal(rotationDueAt({ ...row, revoked_at: row.created_at }, policy), null);
      assert.equal(new RotationRaceLost(7).message, 'key 7 was rotated concurrently');
    });

    it('bounds the name, purpose and rate limit exactly at their edges, trimming the name first', async () => {
      const name100 = 'n'.repeat(100);
      const accepted = [
        { name: `  ${name100}  `, scopes: ['components.read'], createdBy: 'cli' },
        { name: 'x', scopes: ['components.read'], purpose: 'p'.repeat(500), createdBy: 'cli' },
        { name: 'x', scopes: ['components.read'], rateLimit: 1, createdBy: 'cli' },
        { name: 'x', scopes: ['components.read'], rateLimit: 1_000_000, createdBy: 'cli' },
      ];
      for (const input of accepted) {
        const created = await keys.create(input);
        assert.ok(created.ok, `${JSON.stringify(input).slice(0, 80)}: ${JSON.stringify(created)}`);
      }
      const refused: Array<[Parameters<KeysAdmin['create']>[0], string]> = [
        [{ name: '   ', scopes: ['components.read'], createdBy: 'cli' }, 'name must be 1 to 100 characters'],
        [{ name: `${name100}n`, scopes: ['components.read'], createdBy: 'cli' }, 'name must be 1 to 100 characters'],
        [{ name: 'x', scopes: ['components.read'], purpose: 'p'.repeat(501), createdBy: 'cli' }, 'purpose must be at most 500 characters'],
        [{ name: 'x', scopes: ['components.read'], rateLimit: 1_000_001, createdBy: 'cli' }, 'rate limit must be a whole number of requests per minute between 1 and 1000000'],
      ];
      for (const [input, error] of refused) assert.deepEqual(await keys.create(input), { ok: false, error });
    });

    it('stores no restriction as SQL NULL, and reads a padded expiry, "never" included', async () => {
      const created = await service({ keyMaxTtlMs: null }).create({ name: 'open', scopes: ['components.read'], expires: ' never ', createdBy: 'cli' });
      assert.ok(created.ok && created.key.expires_at === null, JSON.stringify(created));
      const row = (await createKeysRepo().findById(database.db, created.key.id))!;
      assert.deepEqual([row.allowed_ips, row.resources, row.rotation, row.rotation_secret], [null, null, null, null]);
      const padded = await keys.create({ name: 'padded', scopes: ['components.read'], expires: ' 30d ', createdBy: 'cli' });
      assert.ok(padded.ok && padded.key.expires_at === new Date(clock.now().getTime() + 30 * DAY).toISOString());
    });

    it('refuses a not_before at or after the expiry, and quotes at most 40 characters of a bad one', async () => {
      const at = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
      assert.deepEqual(await keys.create({ name: 'x', scopes: ['components.read'], expires: '1d', notBefore: at(DAY), createdBy: 'cli' }), {
        ok: false,
        error: 'not_before must be before the key expires',
      });
      assert.ok((await keys.create({ name: 'x', scopes: ['components.read'], expires: '1d', notBefore: at(DAY - 1000), createdBy: 'cli' })).ok);
      const garbage = `x${'y'.repeat(99)}`;
      assert.deepEqual(await keys.create({ name: 'x', scopes: ['components.read'], notBefore: garbage, createdBy: 'cli' }), {
        ok: false,
        error: `not_before must be an ISO 8601 time with a zone, such as 2026-12-01T09:00:00Z; got "${garbage.slice(0, 40)}"`,
      });
    });

    it('rotates an active key once: the old one works until the grace or its expiry ends, and every refusal is named', async () => {
      const rotatable = async (expires = '30d') => {
        const created = await keys.create({ name: 'to rotate', purpose: 'ci', scopes: ['components.read'], allowedIps: ['10.0.0.0/8'], expires, createdBy: 'cli' });
        assert.ok(created.ok, JSON.stringify(created));
        return created;
      };
      const key = await rotatable();
      const id = key.key.id;
      for (const grace of [-1, 1.5, Number.NaN]) {
        assert.deepEqual(await keys.rotate(id, grace), { ok: false, status: 400, error: 'grace must be a duration such as 24h' }, String(grace));
      }
      assert.deepEqual(await keys.rotate(id, 90 * DAY + 1), { ok: false, status: 400, error: 'grace exceeds the longest key lifetime of 90d (CACHET_KEY_MAX_TTL)' });
      assert.ok((await keys.rotate(id, 90 * DAY)).ok, 'a grace of exactly the longest lifetime is allowed');
      assert.deepEqual(await keys.rotate(999_999, 0), { ok: false, status: 404, error: 'no key with id 999999' });

      const fresh = await rotatable();
      const before = (await keyEvents(fresh.key.id)).length;
      const rotated = await keys.rotate(fresh.key.id, 3_600_000);
      assert.ok(rotated.ok);
      assert.deepEqual(rotated.warnings, []);
      const now = clock.now().getTime();
      assert.deepEqual(
        [rotated.previous.id, rotated.previous.replaced_by_id, rotated.previous.rotated_at, rotated.previous.expires_at, rotated.previous.status],
        [fresh.key.id, rotated.key.id, new Date(now).toISOString(), new Date(now + 3_600_000).toISOString(), 'active'],
      );
      assert.deepEqual([rotated.key.name, rotated.key.purpose, rotated.key.scopes, rotated.key.allowed_ips], ['to rotate', 'ci', ['components.read'], ['10.0.0.0/8']]);
      assert.equal((await keys.lookup([rotated.token])).get(rotated.token)?.id, rotated.key.id, 'the token shown is the successor stored');
      const events = (await keyEvents(fresh.key.id)).slice(before);
      assert.deepEqual(events.map((event) => event.action), ['keys.rotate']);
      assert.deepEqual(Object.keys(events[0]!.changes as object).sort(), ['expires_at', 'replaced_by_id', 'rotated_at']);
      assert.deepEqual(await keys.rotate(fresh.key.id, 0), { ok: false, status: 409, error: `key ${fresh.key.id} was already rotated (its successor is key ${rotated.key.id})` });

      // The grace never extends a key past its own expiry.
      const short = await rotatable('2h');
      const capped = await keys.rotate(short.key.id, DAY);
      assert.ok(capped.ok && capped.previous.expires_at === short.key.expires_at, JSON.stringify(capped));
      const gone = await rotatable();
      assert.ok((await keys.revoke(gone.key.id)).ok);
      assert.deepEqual(await keys.rotate(gone.key.id, 0), { ok: false, status: 409, error: `key ${gone.key.id} is revoked: only an active key can be rotated` });
      const pendingRow = await rotatable();
      await database.db.updateTable('api_keys').set({ rotation_pending_id: id }).where('id', '=', pendingRow.key.id).execute();
      assert.deepEqual(await keys.rotate(pendingRow.key.id, 0), { ok: false, status: 409, error: `key ${pendingRow.key.id} is being rotated on schedule right now (its successor is being delivered)` });
    });

    it('names every way a creator would be exceeded, in one refusal', async () => {
      const refused = await keys.create({
        name: 'child',
        scopes: ['components.delete', 'incidents.read'],
        createdBy: 'key:1',
        creator: { scopes: ['components.read'], allowedIps: ['10.0.0.0/8'] },
      });
      assert.deepEqual(refused, {
        ok: false,
        error: 'a key cannot grant scopes it does not hold: components.delete, incidents.read; use from any address, while it is limited to 10.0.0.0/8',
      });
    });

    it('warns about a plain-http webhook and a key that expires before its first rotation, and only then', async () => {
      const policy = (url: string, every: string) => ({ every, grace: '1h', deliver: { type: 'webhook' as const, url } });
      const HTTP = 'rotation: the webhook URL is plain http, so the token travels unencrypted; use https outside a trusted network';
      const cases: Array<[string, string, string, string[]]> = [
        ['http://consumer.example/hook', '7d', '30d', [HTTP]],
        ['https://consumer.example/hook', '7d', '30d', []],
        ['https://consumer.example/hook', '2d', '1d', ['rotation: the key expires before its first scheduled rotation (every 2d)']],
        ['https://consumer.example/hook', '7d', '7d', ['rotation: the key expires before its first scheduled rotation (every 7d)']],
        ['http://consumer.example/hook', '8d', '7d', [HTTP, 'rotation: the key expires before its first scheduled rotation (every 8d)']],
      ];
      for (const [url, every, expires, warnings] of cases) {
        const created = await keys.create({ name: 'rotating', scopes: ['components.read'], expires, rotation: policy(url, every), createdBy: 'cli' });
        assert.ok(created.ok, JSON.stringify(created));
        assert.deepEqual(created.warnings, warnings, `${url} every ${every}, expires ${expires}`);
      }
      const forever = await service({ keyMaxTtlMs: null }).create({ name: 'forever', scopes: ['components.read'], expires: 'never', rotation: policy('https://consumer.example/hook', '7d'), createdBy: 'cli' });
      assert.ok(forever.ok && forever.warnings.length === 0, JSON.stringify(forever));
      // A policy that delivers to a file needs no signing secret.
      const file = await keys.create({ name: 'filed', scopes: ['components.read'], rotation: { every: '7d', grace: '1h', deliver: { type: 'file', path: '/tmp/cachet-key-handoff' } }, hostTargets: true, createdBy: 'cli' });
      assert.ok(file.ok && file.webhookSecret === undefined && file.warnings.length === 0, JSON.stringify(file));
      assert.equal((await createKeysRepo().findById(database.db, file.key.id))!.rotation_secret, null);
    });

    it('gives a successor the lifetime the original was meant to have, capped by policy, valid at once', async () => {
      const uncapped = service({ keyMaxTtlMs: null });
      const original = await uncapped.create({ name: 'ten days', scopes: ['components.read'], purpose: 'p', rateLimit: 60, expires: '10d', notBefore: clock.now().toISOString(), createdBy: 'cli' });
      assert.ok(original.ok && original.key.not_before !== null);
      const rotated = await uncapped.rotate(original.key.id, 3_600_000);
      assert.ok(rotated.ok, JSON.stringify(rotated));
      assert.equal(rotated.key.expires_at, new Date(clock.now().getTime() + 10 * DAY).toISOString());
      assert.equal(rotated.key.not_before, null, 'a successor is valid at once');
      assert.deepEqual([rotated.key.purpose, rotated.key.rate_limit], ['p', 60]);
      const again = await service({ keyMaxTtlMs: 5 * DAY }).rotate(rotated.key.id, 3_600_000);
      assert.ok(again.ok && again.key.expires_at === new Date(clock.now().getTime() + 5 * DAY).toISOString(), JSON.stringify(again));
    });

    it('rotates a key that never expires into one that never expires, or into the default lifetime once keys must expire', async () => {
      const uncapped = service({ keyMaxTtlMs: null });
      const forever = await uncapped.create({ name: 'forever', scopes: ['components.read'], expires: 'never', createdBy: 'cli' });
      assert.ok(forever.ok);
      const rotated = await uncapped.rotate(forever.key.id, 3_600_000);
      assert.ok(rotated.ok && rotated.key.expires_at === null, JSON.stringify(rotated));
      const capped = await keys.rotate(rotated.key.id, 3_600_000);
      assert.ok(capped.ok && capped.key.expires_at === new Date(clock.now().getTime() + 90 * DAY).toISOString(), JSON.stringify(capped));
    });

    it('refuses to rotate a key whose stored scopes no longer parse, and changes nothing', async () => {
      const created = await keys.create({ name: 'old scopes', scopes: ['components.read'], createdBy: 'cli' });
      assert.ok(created.ok);
      await database.db.updateTable('api_keys').set({ scopes: '["components.write"]' }).where('id', '=', created.key.id).execute();
      const count = (await keys.list()).length;
      const refused = await keys.rotate(created.key.id, 3_600_000);
      assert.ok(!refused.ok && refused.status === 400 && /unknown scope "components.write"/.test(refused.error), JSON.stringify(refused));
      assert.equal((await keys.list()).length, count);
      assert.equal((await keys.show(created.key.id))!.replaced_by_id, null);
    });

    it('offers for scheduled rotation only active keys that are due', async () => {
      const own = fixedClock(new Date('2026-11-25T12:00:00Z'));
      const repo = createKeysRepo();
      const raw = createKeysService({ db: database.db, repo, pepper: testConfig().pepper, clock: own, keyMaxTtlMs: 90 * DAY, keyDefaultTtlMs: 90 * DAY });
      const admin = adminKeys(raw, database.db, own);
      const rotation = { every: '1h', grace: '1h', deliver: { type: 'webhook' as const, url: 'https://consumer.example/due' } };
      const short = await admin.create({ name: 'due soon, expires soon', scopes: ['components.read'], expires: '2h', rotation, createdBy: 'cli' });
      const long = await admin.create({ name: 'due soon', scopes: ['components.read'], expires: '30d', rotation, createdBy: 'cli' });
      assert.ok(short.ok && long.ok);
      const due = async () => (await raw.dueForRotation(database.db)).map((row) => row.id).filter((id) => id === short.key.id || id === long.key.id);
      assert.deepEqual(await due(), []);
      own.advance(90 * 60_000);
      assert.deepEqual(await due(), [short.key.id, long.key.id]);
      own.advance(60 * 60_000); // the short key has expired: no longer offered, though it is past due
      assert.deepEqual(await due(), [long.key.id]);
    });

    it('prepares a scheduled successor only for an active key with a policy and none under way, and completes it within the expiry', async () => {
      const own = fixedClock(new Date('2026-11-25T12:00:00Z'));
      const raw = createKeysService({ db: database.db, repo: createKeysRepo(), pepper: testConfig().pepper, clock: own, keyMaxTtlMs: 90 * DAY, keyDefaultTtlMs: 90 * DAY });
      const admin = adminKeys(raw, database.db, own);
      const audited = createAudited(database.db, createAuditWriter({ repo: createAuditRepo(), clock: own, pepper: testConfig().pepper }));
      const inTrx = <T>(fn: (trx: Kysely<DB>) => Promise<T>) => audited(systemContext('cachet test'), fn);
      const rotation = { every: '1h', grace: '2h', deliver: { type: 'webhook' as const, url: 'https://consumer.example/prepare' } };
      const withPolicy = await admin.create({ name: 'scheduled', scopes: ['components.read'], expires: '30d', rotation, createdBy: 'cli' });
      const without = await admin.create({ name: 'unscheduled', scopes: ['components.read'], createdBy: 'cli' });
      const soon = await admin.create({ name: 'expires within the grace', scopes: ['components.read'], expires: '90m', rotation, createdBy: 'cli' });
      assert.ok(withPolicy.ok && without.ok && soon.ok);
      const rows = createKeysRepo();

      assert.equal(await inTrx((trx) => raw.prepareSuccessor(trx, without.key.id, 'cachet test')), null, 'no policy, no scheduled rotation');
      assert.equal(await inTrx((trx) => raw.prepareSuccessor(trx, 999_999, 'cachet test')), null);
      const prepared = await inTrx((trx) => raw.prepareSuccessor(trx, withPolicy.key.id, 'cachet test'));
      assert.ok(prepared?.ok, JSON.stringify(prepared));
      assert.ok(isWellFormedToken(prepared.token));
      assert.equal(prepared.key.replaces_id, withPolicy.key.id);
      assert.deepEqual(prepared.policy, withPolicy.key.rotation);
      assert.equal(prepared.secret, withPolicy.webhookSecret);
      assert.equal((await rows.findById(database.db, withPolicy.key.id))!.rotation_pending_id, prepared.key.id);
      assert.equal(await inTrx((trx) => raw.prepareSuccessor(trx, withPolicy.key.id, 'cachet test')), null, 'a rotation is already under way');

      own.advance(60_000);
      const completed = await inTrx((trx) => raw.completeRotation(trx, withPolicy.key.id));
      assert.ok(completed);
      assert.equal(completed.replaced_by_id, prepared.key.id);
      assert.equal(completed.expires_at, new Date(own.now().getTime() + 2 * 3_600_000).toISOString(), 'the grace starts when the successor is delivered');
      assert.deepEqual([completed.rotated_at, completed.delivery?.delivered_at, completed.delivery?.failures, completed.delivery?.last_error], [own.now().toISOString(), own.now().toISOString(), 0, null]);
      assert.equal((await rows.findById(database.db, withPolicy.key.id))!.rotation_pending_id, null);
      assert.equal(await inTrx((trx) => raw.completeRotation(trx, withPolicy.key.id)), null, 'nothing pending any more');
      assert.equal(await inTrx((trx) => raw.completeRotation(trx, 999_999)), null);
      assert.equal(await inTrx((trx) => raw.prepareSuccessor(trx, withPolicy.key.id, 'cachet test')), null, 'a rotated key is not rotated again');

      // The grace never outlives the original's own expiry.
      const early = await inTrx((trx) => raw.prepareSuccessor(trx, soon.key.id, 'cachet test'));
      assert.ok(early?.ok);
      const capped = await inTrx((trx) => raw.completeRotation(trx, soon.key.id));
      assert.equal(capped?.expires_at, soon.key.expires_at);

      // A key that never expires gets the grace from delivery; a successor that cannot be planned is reported, not made.
      const uncapped = createKeysService({ db: database.db, repo: createKeysRepo(), pepper: testConfig().pepper, clock: own, keyMaxTtlMs: null, keyDefaultTtlMs: 90 * DAY });
      const forever = await adminKeys(uncapped, database.db, own).create({ name: 'forever', scopes: ['components.read'], expires: 'never', rotation, createdBy: 'cli' });
      assert.ok(forever.ok);
      assert.ok((await inTrx((trx) => uncapped.prepareSuccessor(trx, forever.key.id, 'cachet test')))?.ok);
      const graced = await inTrx((trx) => uncapped.completeRotation(trx, forever.key.id));
      assert.equal(graced?.expires_at, new Date(own.now().getTime() + 2 * 3_600_000).toISOString());
      const stale = await admin.create({ name: 'stale scopes', scopes: ['components.read'], rotation, createdBy: 'cli' });
      assert.ok(stale.ok);
      await database.db.updateTable('api_keys').set({ scopes: '["components.write"]' }).where('id', '=', stale.key.id).execute();
      const unplanned = await inTrx((trx) => raw.prepareSuccessor(trx, stale.key.id, 'cachet test'));
      assert.ok(unplanned && !unplanned.ok && /unknown scope "components.write"/.test(unplanned.error), JSON.stringify(unplanned));
      assert.equal((await rows.findById(database.db, stale.key.id))!.rotation_pending_id, null);

      // A failed delivery: the successor is revoked, the original keeps its expiry, and the next
      // attempt waits retryMs doubling per failure, never more than an hour.
      const failing = await admin.create({ name: 'undeliverable', scopes: ['components.read'], expires: '30d', rotation, createdBy: 'cli' });
      assert.ok(failing.ok);
      const attempt = await inTrx((trx) => raw.prepareSuccessor(trx, failing.key.id, 'cachet test'));
      assert.ok(attempt?.ok);
      const abandoned = await inTrx((trx) => raw.abandonSuccessor(trx, failing.key.id, 'e'.repeat(600), 60_000));
      assert.ok(abandoned);
      assert.deepEqual([abandoned.expires_at, abandoned.delivery?.failures, abandoned.delivery?.last_error, abandoned.delivery?.last_attempt_at], [failing.key.expires_at, 1, 'e'.repeat(500), own.now().toISOString()]);
      assert.equal(abandoned.delivery?.next_attempt_at, new Date(own.now().getTime() + 60_000).toISOString());
      assert.equal((await admin.show(attempt.key.id))!.status, 'revoked', 'an undelivered successor must not stay usable');
      assert.equal((await rows.findById(database.db, failing.key.id))!.rotation_pending_id, null);
      const successorEvents = await keyEvents(attempt.key.id);
      assert.deepEqual(successorEvents.map((event) => event.action), ['keys.create', 'keys.revoke']);
      assert.deepEqual(successorEvents[1]!.changes, { revoked_at: [null, own.now().toISOString()], reason: [null, 'undelivered successor'] });
      const waits = [];
      for (let i = 0; i < 6; i++) {
        const again = await inTrx((trx) => raw.abandonSuccessor(trx, failing.key.id, 'still down', 60_000));
        waits.push((Date.parse(again!.delivery!.next_attempt_at!) - own.now().getTime()) / 60_000);
      }
      assert.deepEqual(waits, [2, 4, 8, 16, 32, 60]);
      assert.equal(await inTrx((trx) => raw.abandonSuccessor(trx, 999_999, 'x', 60_000)), null);
      // An operator revoked the successor while it was being delivered: abandoning records nothing more.
      const handRevoked = await inTrx((trx) => raw.prepareSuccessor(trx, failing.key.id, 'cachet test'));
      assert.ok(handRevoked?.ok && (await admin.revoke(handRevoked.key.id)).ok);
      const events = (await keyEvents(handRevoked.key.id)).length;
      assert.ok(await inTrx((trx) => raw.abandonSuccessor(trx, failing.key.id, 'gone', 60_000)));
      assert.equal((await keyEvents(handRevoked.key.id)).length, events);

      // Revoked and expired keys are not rotated.
      const revoked = await admin.create({ name: 'revoked', scopes: ['components.read'], rotation, createdBy: 'cli' });
      const expiring = await admin.create({ name: 'expiring', scopes: ['components.read'], expires: '2h', rotation, createdBy: 'cli' });
      assert.ok(revoked.ok && expiring.ok && (await admin.revoke(revoked.key.id)).ok);
      own.advance(3 * 3_600_000);
      for (const id of [revoked.key.id, expiring.key.id]) assert.equal(await inTrx((trx) => raw.prepareSuccessor(trx, id, 'cachet test')), null);
    });

    it('retires a rotated key a set time after its successor is first used, never later than its expiry, once', async () => {
      const own = fixedClock(new Date('2026-11-25T12:00:00Z'));
      const raw = createKeysService({ db: database.db, repo: createKeysRepo(), pepper: testConfig().pepper, clock: own, keyMaxTtlMs: 90 * DAY, keyDefaultTtlMs: 90 * DAY });
      const admin = adminKeys(raw, database.db, own);
      const audited = createAudited(database.db, createAuditWriter({ repo: createAuditRepo(), clock: own, pepper: testConfig().pepper }));
      const retire = () => audited(systemContext('cachet test'), (trx) => raw.retirePickedUp(trx));
      const deliver = { type: 'webhook' as const, url: 'https://consumer.example/retire' };
      // Earlier tests' rotated keys must not be retired by this sweep.
      assert.deepEqual(await retire(), []);
      const rotated = async (name: string, retireAfter: string | null, graceMs = 2 * 3_600_000) => {
        const created = await admin.create({ name, scopes: ['components.read'], expires: '30d', rotation: { every: '1h', grace: '2h', deliver, retire_after_pickup: retireAfter }, createdBy: 'cli' });
        assert.ok(created.ok, JSON.stringify(created));
        const rotation = await admin.rotate(created.key.id, graceMs);
        assert.ok(rotation.ok, JSON.stringify(rotation));
        return { id: created.key.id, successor: rotation.key.id, expires: rotation.previous.expires_at! };
      };
      const useAt = (id: number, at: Date) => database.db.updateTable('api_keys').set({ first_used_at: at.toISOString() }).where('id', '=', id).execute();

      const picked = await rotated('picked up', '5m');
      const unused = await rotated('successor unused', '5m');
      const noRetire = await rotated('no retire policy', null);
      const longAgo = await rotated('picked up long ago', '5m');
      const revoked = await rotated('revoked after rotation', '5m');
      const late = await rotated('grace ends first', '1h', 30 * 60_000);
      const manual = await admin.create({ name: 'rotated by hand, no policy', scopes: ['components.read'], expires: '30d', createdBy: 'cli' });
      assert.ok(manual.ok);
      const manualRotation = await admin.rotate(manual.key.id, 3_600_000);
      assert.ok(manualRotation.ok && (await admin.revoke(revoked.id)).ok);
      assert.deepEqual(await retire(), [], 'no successor has been used yet');

      const firstUse = new Date(own.now().getTime() + 60_000);
      for (const key of [picked, noRetire, revoked, late]) await useAt(key.successor, firstUse);
      await useAt(manualRotation.key.id, firstUse);
      await useAt(longAgo.successor, new Date(own.now().getTime() - 3_600_000));
      own.advance(2 * 60_000);
      const before = await keyEvents(picked.id);
      assert.deepEqual((await retire()).sort((a, b) => a - b), [picked.id, longAgo.id]);
      assert.equal((await admin.show(picked.id))!.expires_at, new Date(firstUse.getTime() + 5 * 60_000).toISOString(), 'five minutes after the first use');
      assert.equal((await admin.show(longAgo.id))!.expires_at, own.now().toISOString(), 'a use long past retires the key now, not in the past');
      for (const key of [unused, noRetire, late]) assert.equal((await admin.show(key.id))!.expires_at, key.expires, `key ${key.id} keeps its expiry`);
      assert.equal((await admin.show(revoked.id))!.status, 'revoked');
      const after = await keyEvents(picked.id);
      assert.deepEqual(after.slice(before.length), [
        { action: 'keys.expire', changes: { expires_at: [picked.expires, new Date(firstUse.getTime() + 5 * 60_000).toISOString()] } },
      ]);
      assert.deepEqual(await retire(), [], 'a retired key is not retired again');
      own.advance(10 * 60_000);
      assert.deepEqual(await retire(), [], 'nor once it has expired');
    });

    it('lists live keys expiring within a window soonest first, warns of each once and records each expiry once', async () => {
      const own = fixedClock(new Date('2026-11-25T12:00:00Z'));
      const raw = createKeysService({ db: database.db, repo: createKeysRepo(), pepper: testConfig().pepper, clock: own, keyMaxTtlMs: null, keyDefaultTtlMs: 90 * DAY });
      const admin = adminKeys(raw, database.db, own);
      const make = async (name: string, expires: string, notBefore?: string) => {
        const created = await admin.create({ name, scopes: ['components.read'], expires, createdBy: 'cli', ...(notBefore ? { notBefore } : {}) });
        assert.ok(created.ok, JSON.stringify(created));
        return created.key.id;
      };
      const later = await make('in three days', '3d');
      const edge = await make('exactly at the window edge', '2d');
      const sooner = await make('in one day', '1d');
      const pending = await make('not valid yet, in two hours', '2h', new Date(own.now().getTime() + 3_600_000).toISOString());
      const never = await make('never expires', 'never');
      const revoked = await make('revoked', '1h');
      const lapsing = await make('expires in a minute', '1m');
      assert.ok((await admin.revoke(revoked)).ok);
      own.advance(2 * 60_000);
      const mine = new Set([later, edge, sooner, pending, never, revoked, lapsing]);
      // The database holds earlier tests' keys too: only this test's count.
      const ids = (keys: readonly { id: number }[]) => keys.map((key) => key.id).filter((id) => mine.has(id));
      const within = async (windowMs: number) => ids(await admin.expiring(windowMs));
      assert.deepEqual(await within(2 * DAY - 2 * 60_000), [pending, sooner, edge], 'live keys only, soonest first, the window edge included');
      assert.deepEqual(await within(DAY - 3 * 60_000), [pending], 'a minute short of the one-day key: only the pending key');

      const first = await admin.sweepExpiry(2 * DAY - 2 * 60_000);
      assert.deepEqual(ids(first.warned).sort((a, b) => a - b), [sooner, edge, pending].sort((a, b) => a - b));
      assert.deepEqual(ids(first.expired), [lapsing]);
      assert.equal(first.expired.find((key) => key.id === lapsing)!.status, 'expired');
      const lapsed = (await keyEvents(lapsing)).at(-1)!;
      assert.deepEqual(lapsed, { action: 'keys.expire', changes: { status: ['active', 'expired'] } });
      const second = await admin.sweepExpiry(4 * DAY);
      assert.deepEqual([ids(second.warned), ids(second.expired)], [[later], []], 'each key is warned of and expires once');
    });

    it('reports a key past its expiry as expired', async () => {
      const created = await keys.create({ name: 'short', scopes: ['*'], expires: '90s', createdBy: 'cli' });
      assert.ok(created.ok);
      clock.advance(91_000);
      assert.equal((await keys.show(created.key.id))!.status, 'expired');
    });
  });

  describe(`leaked and emergency revocation (${dialect})`, () => {
    it('finds keys by token without changing them, revokes leaked tokens once each, and revokes every live key but the kept ones', async () => {
      const database = await freshDatabase(dialect);
      try {
        const clock = fixedClock(new Date('2026-11-25T12:00:00Z'));
        const admin = adminKeys(createKeysService({ db: database.db, repo: createKeysRepo(), pepper: testConfig().pepper, clock, keyMaxTtlMs: 90 * DAY, keyDefaultTtlMs: 90 * DAY }), database.db, clock);
        const make = async (name: string, extra: { expires?: string; notBefore?: string } = {}) => {
          const created = await admin.create({ name, scopes: ['components.read'], createdBy: 'cli', ...extra });
          assert.ok(created.ok, JSON.stringify(created));
          return created;
        };
        const leaked = await make('leaked');
        const alsoLeaked = await make('also leaked');
        const kept = await make('kept');
        const pending = await make('pending', { notBefore: new Date(clock.now().getTime() + DAY).toISOString() });
        const lapsing = await make('lapsing', { expires: '1h' });
        const innocent = await make('innocent');
        const unknown = generateToken();
        assert.ok(isWellFormedToken(unknown));

        const found = await admin.lookup([leaked.token, leaked.token, unknown, 'not a token']);
        assert.deepEqual([...found.keys()], [leaked.token, unknown, 'not a token'], 'each distinct token once');
        assert.equal(found.get(leaked.token)?.id, leaked.key.id);
        assert.equal(found.get(leaked.token)?.status, 'active');
        assert.equal(found.get(unknown), null);
        assert.equal(found.get('not a token'), null);

        const revokeTokens = (tokens: string[]) =>
          createAudited(database.db, createAuditWriter({ repo: createAuditRepo(), clock, pepper: testConfig().pepper }))(systemContext('cachet test'), (trx) => admin.service.revokeTokens(trx, tokens));
        assert.equal(await revokeTokens([leaked.token, unknown, 'not a token', alsoLeaked.token, leaked.token]), 2);
        assert.equal(await revokeTokens([leaked.token]), 0, 'a revoked key is not counted again');
        const after = await admin.lookup([leaked.token, alsoLeaked.token, innocent.token]);
        assert.deepEqual([...after.values()].map((key) => key?.status), ['revoked', 'revoked', 'active']);

        clock.advance(2 * 3_600_000);
        const revoked = await admin.revokeAll([kept.key.id]);
        assert.deepEqual(revoked.sort((a, b) => a - b), [pending.key.id, innocent.key.id].sort((a, b) => a - b), 'live keys only: not the kept, the already revoked or the expired');
        const statuses = new Map((await admin.list()).map((key) => [key.id, key.status]));
        assert.deepEqual(
          [leaked, alsoLeaked, kept, pending, lapsing, innocent].map((key) => statuses.get(key.key.id)),
          ['revoked', 'revoked', 'active', 'revoked', 'expired', 'revoked'],
        );
        assert.deepEqual(await admin.revokeAll([]), [kept.key.id], 'without exceptions, the last live key');
      } finally {
        await database.close();
      }
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

    it('names the bootstrap key for what it is, and keeps it within a lifetime limit under 24 h', async () => {
      const database = await freshDatabase(dialect);
      try {
        const clock = fixedClock(new Date('2026-11-25T12:00:00Z'));
        const short = adminKeys(createKeysService({ db: database.db, repo: createKeysRepo(), pepper: testConfig().pepper, clock, keyMaxTtlMs: 3_600_000, keyDefaultTtlMs: 3_600_000 }), database.db, clock);
        const made = await short.bootstrap();
        assert.ok(made && isWellFormedToken(made.token));
        assert.deepEqual(
          [made.key.name, made.key.purpose, made.key.created_by, made.key.scopes, made.key.expires_at, made.key.status, made.key.allowed_ips, made.key.not_before],
          ['bootstrap', 'first key of a new installation', 'bootstrap', ['*'], '2026-11-25T13:00:00.000Z', 'active', null, null],
        );
        assert.equal((await short.lookup([made.token])).get(made.token)?.id, made.key.id, 'the token shown is the key stored');
        assert.deepEqual((await database.db.selectFrom('audit_events').select(['action', 'resource_id']).execute()).map((e) => [e.action, e.resource_id]), [['keys.create', String(made.key.id)]]);
      } finally {
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
