/**
 * The audit trail in the dashboard: filters (key, user, action, outcome, reason, time), newest
 * first and paged by seq; a user sees only their own events and their keys'; an event's page shows
 * its diff; and the admin's verification reports an intact chain, then the seq of a tampered event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, visitor, type Visitor } from '../helpers/dashboard.js';
import { dialects } from '../helpers/dialects.js';

/** The seqs of the events a page lists, in its order. */
function seqsIn(page: LightMyRequestResponse): number[] {
  return [...page.body.matchAll(/<td><a href="\/dashboard\/audit\/(\d+)">/g)].map((m) => Number(m[1]));
}

for (const dialect of await dialects()) {
  describe(`dashboard: audit trail (${dialect})`, () => {
    let t: TestApp;
    let admin: Visitor;
    let alice: Visitor;
    let bob: Visitor;
    const ids = { admin: 0, alice: 0, bob: 0 };
    const keys = { alice: 0, bob: 0 };

    /** Creates a key through the dashboard as `v`; its id and token. */
    async function createKey(v: Visitor, name: string): Promise<{ id: number; token: string }> {
      const page = await v.submit('/dashboard/keys', { name, purpose: 'audit view tests', scopes: 'components.read', expires: '30d' }, '/dashboard/keys/new');
      assert.equal(page.statusCode, 200, page.body);
      return { id: Number(/href="\/dashboard\/keys\/(\d+)"/.exec(page.body)![1]), token: /cachet_[0-9A-Za-z]{49}/.exec(page.body)![0] };
    }

    before(async () => {
      t = await buildTestApp(dialect);
      ids.admin = (await createUser(t, 'admin@example.test', 'admin')).id;
      ids.alice = (await createUser(t, 'alice@example.test', 'user')).id;
      ids.bob = (await createUser(t, 'bob@example.test', 'user')).id;
      admin = visitor(t, '127.0.0.20');
      alice = visitor(t, '127.0.0.21');
      bob = visitor(t, '127.0.0.22');
      for (const [v, email] of [[admin, 'admin@example.test'], [alice, 'alice@example.test'], [bob, 'bob@example.test']] as const) {
        assert.equal((await v.signIn(email)).statusCode, 303);
      }
      const a = await createKey(alice, 'alice key');
      const b = await createKey(bob, 'bob key');
      keys.alice = a.id;
      keys.bob = b.id;
      // Alice's key: one allowed and one denied request; Bob's: one allowed.
      assert.equal((await t.request({ url: '/api/v1/components', token: a.token })).statusCode, 200);
      assert.equal((await t.request({ url: '/api/v1/subscribers', token: a.token })).statusCode, 403);
      assert.equal((await t.request({ url: '/api/v1/components', token: b.token })).statusCode, 200);
    });
    after(() => t.close());

    const allEvents = () => t.database.db.selectFrom('audit_events').selectAll().orderBy('seq', 'desc').execute();

    it('filters by key, and by key and outcome, newest first', async () => {
      // A key's events: what it did, and what was done to it (its creation by a user).
      const about = (e: { key_id: number | null; resource_type: string | null; resource_id: string | null }, id: number) => e.key_id === id || (e.resource_type === 'keys' && e.resource_id === String(id));
      const expected = (await allEvents()).filter((e) => about(e, keys.alice)).map((e) => Number(e.seq));
      assert.ok(expected.length >= 3);
      assert.ok((await allEvents()).some((e) => e.key_id === null && e.action === 'keys.create' && e.resource_id === String(keys.alice) && expected.includes(Number(e.seq))));
      const page = await admin.get(`/dashboard/audit?key_id=${keys.alice}`);
      assert.equal(page.statusCode, 200);
      assert.deepEqual(seqsIn(page), expected);

      const denied = await admin.get(`/dashboard/audit?key_id=${keys.alice}&outcome=denied`);
      const deniedEvents = (await allEvents()).filter((e) => e.key_id === keys.alice && e.outcome === 'denied');
      assert.equal(deniedEvents.length, 1);
      assert.deepEqual(seqsIn(denied), [Number(deniedEvents[0]!.seq)]);
      assert.match(denied.body, /subscribers\.list/);
      assert.match(denied.body, /scope_missing/);
      assert.match(denied.body, /value="denied" selected|<option selected>denied<\/option>/);
    });

    it('filters by user, action, reason and time, and refuses a malformed filter with a 400', async () => {
      const byUser = await admin.get(`/dashboard/audit?user_id=${ids.bob}&action=keys.create`);
      const expected = (await allEvents()).filter((e) => e.user_id === ids.bob && e.action === 'keys.create').map((e) => Number(e.seq));
      assert.equal(expected.length, 1);
      assert.deepEqual(seqsIn(byUser), expected);
      assert.match(byUser.body, /bob@example\.test/, 'the actor is shown by email');

      const byReason = await admin.get('/dashboard/audit?reason=scope_missing');
      assert.deepEqual(seqsIn(byReason), (await allEvents()).filter((e) => e.reason === 'scope_missing').map((e) => Number(e.seq)));

      const start = t.clock.now();
      t.clock.advance(10 * 60_000);
      const later = await createKey(admin, 'later key');
      const since = await admin.get(`/dashboard/audit?from=${encodeURIComponent(t.clock.now().toISOString())}`);
      const recent = (await allEvents()).filter((e) => e.at >= t.clock.now().toISOString());
      assert.ok(recent.some((e) => e.action === 'keys.create' && e.resource_id === String(later.id)));
      assert.deepEqual(seqsIn(since), recent.map((e) => Number(e.seq)));
      const cut = new Date(start.getTime() + 5 * 60_000).toISOString();
      const until = await admin.get(`/dashboard/audit?to=${encodeURIComponent(cut)}`);
      const early = seqsIn(until);
      assert.ok(early.length > 0);
      assert.deepEqual(early, (await allEvents()).filter((e) => e.at < cut).map((e) => Number(e.seq)));

      const bad = await admin.get('/dashboard/audit?key_id=abc&from=yesterday');
      assert.equal(bad.statusCode, 400);
      assert.match(bad.body, /key id must be a whole number/);
      assert.match(bad.body, /is not a time/);
    });

    it('pages by seq, 50 events at a time', async () => {
      const { token, id } = await createKey(admin, 'busy key');
      for (let i = 0; i < 60; i += 1) await t.request({ url: '/api/v1/components', token });
      const expected = (await allEvents()).filter((e) => e.key_id === id || (e.resource_type === 'keys' && e.resource_id === String(id))).map((e) => Number(e.seq));
      assert.equal(expected.length, 61, 'its creation and its 60 uses');
      const first = await admin.get(`/dashboard/audit?key_id=${id}`);
      assert.deepEqual(seqsIn(first), expected.slice(0, 50));
      const older = /href="(\/dashboard\/audit\?[^"]*before=\d+[^"]*)">Older events/.exec(first.body)?.[1]?.replace(/&amp;/g, '&');
      assert.ok(older, 'a link to older events');
      const second = await admin.get(older);
      assert.deepEqual(seqsIn(second), expected.slice(50));
      assert.ok(!second.body.includes('Older events'));
      assert.match(second.body, /Newest events/);
    });

    it('shows a user only the events they or their keys made', async () => {
      const events = await allEvents();
      const own = events
        .filter((e) => (e.actor_type === 'user' && e.user_id === ids.alice) || e.key_id === keys.alice || (e.resource_type === 'keys' && e.resource_id === String(keys.alice)))
        .map((e) => Number(e.seq));
      const page = await alice.get('/dashboard/audit');
      assert.equal(page.statusCode, 200);
      assert.deepEqual(seqsIn(page), own.slice(0, 50));
      assert.ok(!page.body.includes('bob@example.test'));
      assert.ok(!page.body.includes('Verify the whole chain'), 'verification is for admins');
      assert.deepEqual(seqsIn(await alice.get(`/dashboard/audit?key_id=${keys.bob}`)), [], "another user's key shows nothing");
      assert.deepEqual(seqsIn(await alice.get(`/dashboard/audit?user_id=${ids.bob}`)), []);

      const bobs = events.find((e) => e.key_id === keys.bob)!;
      const refused = await alice.get(`/dashboard/audit/${bobs.seq}`);
      assert.equal(refused.statusCode, 404);
      const refusal = await t.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'audit.show').where('user_id', '=', ids.alice).executeTakeFirstOrThrow();
      assert.equal(refusal.outcome, 'denied');
      assert.equal(refusal.reason, 'not_owner');
      assert.equal((await alice.get(`/dashboard/audit/${own[own.length - 1]}`)).statusCode, 200, 'her own event');
      assert.equal((await admin.get(`/dashboard/audit/${bobs.seq}`)).statusCode, 200, 'an admin sees every event');
    });

    it("shows an event's fields and its diff", async () => {
      const created = await t.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'keys.create').where('resource_id', '=', String(keys.alice)).executeTakeFirstOrThrow();
      const page = await alice.get(`/dashboard/audit/${created.seq}`);
      assert.equal(page.statusCode, 200);
      assert.ok(page.body.includes(created.id));
      assert.ok(page.body.includes(created.hash));
      assert.match(page.body, /alice@example\.test/);
      assert.match(page.body, /<td>name<\/td><td><code>null<\/code><\/td><td><code>&quot;alice key&quot;<\/code><\/td>/);
      assert.match(page.body, /<td>scopes<\/td><td><code>null<\/code><\/td><td><code>\[&quot;components\.read&quot;\]<\/code><\/td>/);
    });

    it('verifies the chain (admins only): intact with its checkpoint, then names the seq of a tampered event', async () => {
      const checkpoint = await t.server.audit.checkpointer.checkpoint();
      assert.ok(checkpoint);
      const shown = await admin.get('/dashboard/audit');
      assert.ok(shown.body.includes(checkpoint.hash));
      assert.match(shown.body, /signature valid/);
      assert.match(shown.body, /not verified since this server started/);

      assert.equal((await alice.submit('/dashboard/audit/verify', {}, '/dashboard/audit')).statusCode, 403);

      const verified = await admin.submit('/dashboard/audit/verify', {}, '/dashboard/audit');
      assert.equal(verified.statusCode, 303);
      const head = Number((await t.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
      const intact = await admin.get('/dashboard/audit');
      // The verification's own event (audit.verify) comes after the head it checked.
      assert.match(intact.body, new RegExp(`Intact up to seq ${head - 1}; checkpoint verified`));
      const verifyEvent = await t.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'audit.verify').executeTakeFirstOrThrow();
      assert.equal(verifyEvent.user_id, ids.admin);

      const target = (await allEvents()).find((e) => e.key_id === keys.alice)!;
      await sql`UPDATE audit_events SET reason = 'x' WHERE seq = ${target.seq}`.execute(t.database.db);
      await admin.submit('/dashboard/audit/verify', {}, '/dashboard/audit');
      const tampered = await admin.get('/dashboard/audit');
      assert.match(tampered.body, new RegExp(`Not intact: altered at seq ${target.seq} \\(id ${target.id}\\)`));
      assert.match(tampered.body, /outcome-denied">Not intact/);
    });
  });
}
