/**
 * The audit trail, end to end through the real application: a scripted workload over every route
 * (allowed with a key, denied without one or without the scope), key presentations that fail, and
 * changes made outside a request. Every request has exactly one event of its own with the right
 * actor, action, resource, outcome, reason and diff; no token or subscriber email is stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { eventHash, GENESIS_HASH, hashedContent, eventOfRow } from '../../src/features/audit/audit.chain.js';
import { personalDigest } from '../../src/features/audit/audit.changes.js';
import { createAuditRepo } from '../../src/features/audit/audit.repo.js';
import type { AuditEvent } from '../../src/features/audit/audit.types.js';
import { generateToken } from '../../src/infra/token.js';
import { buildTestApp, json, testConfig, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const repo = createAuditRepo();

interface Step {
  method: string;
  url: string;
  body?: Record<string, unknown>;
  action: string;
  resource: string;
  /** Resource id the event names (a created one is filled in from the response). */
  id?: string | null;
  status?: number;
  /** Actions of the further events the request writes (a rotation also creates the successor). */
  extra?: string[];
}

for (const dialect of await dialects()) {
  describe(`audit trail (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    let adminId: number;
    const secrets: string[] = [];

    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
      secrets.push(admin);
      adminId = (await t.server.keys.list()).find((k) => admin.startsWith(k.prefix))!.id;
    });
    after(() => t.close());

    async function allEvents(): Promise<AuditEvent[]> {
      const rows = await t.database.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
      return rows.map(eventOfRow);
    }

    async function eventsOf(response: LightMyRequestResponse): Promise<AuditEvent[]> {
      const requestId = response.headers['x-request-id'];
      assert.equal(typeof requestId, 'string', 'every response names its request');
      const rows = await t.database.db.selectFrom('audit_events').selectAll().where('request_id', '=', requestId as string).orderBy('seq').execute();
      return rows.map(eventOfRow);
    }

    async function only(response: LightMyRequestResponse): Promise<AuditEvent> {
      const events = await eventsOf(response);
      assert.equal(events.length, 1, `one event for ${response.raw.req.method} ${response.raw.req.url}: ${JSON.stringify(events)}`);
      return events[0]!;
    }

    it('writes exactly one event per keyed request on every route, with action, resource, outcome and diff', async () => {
      const created: Record<string, number> = {};
      const id = (name: string) => String(created[name]);
      const email = 'Audited.Person@example.com';
      secrets.push(email.toLowerCase(), email);
      const steps: Array<Step | (() => Step)> = [
        { method: 'GET', url: '/api/v1/ping', action: 'system.ping', resource: 'system' },
        { method: 'GET', url: '/api/v1/version', action: 'system.version', resource: 'system' },
        { method: 'GET', url: '/api/v1/status', action: 'system.status', resource: 'system' },
        { method: 'GET', url: '/api/v1/openapi.json', action: 'system.openapi', resource: 'system' },
        { method: 'POST', url: '/api/v1/components/groups', body: { name: 'Group' }, action: 'component-groups.create', resource: 'component-groups' },
        () => ({ method: 'GET', url: `/api/v1/components/groups/${id('component-groups')}`, action: 'component-groups.show', resource: 'component-groups', id: id('component-groups') }),
        () => ({ method: 'PUT', url: `/api/v1/components/groups/${id('component-groups')}`, body: { name: 'Group 2' }, action: 'component-groups.update', resource: 'component-groups', id: id('component-groups') }),
        { method: 'GET', url: '/api/v1/components/groups', action: 'component-groups.list', resource: 'component-groups', id: null },
        { method: 'POST', url: '/api/v1/components', body: { name: 'API', status: 1 }, action: 'components.create', resource: 'components' },
        () => ({ method: 'GET', url: `/api/v1/components/${id('components')}`, action: 'components.show', resource: 'components', id: id('components') }),
        () => ({ method: 'PUT', url: `/api/v1/components/${id('components')}`, body: { status: 2 }, action: 'components.update', resource: 'components', id: id('components') }),
        { method: 'GET', url: '/api/v1/components', action: 'components.list', resource: 'components', id: null },
        { method: 'POST', url: '/api/v1/incidents/templates', body: { name: 'Tpl', template: 'Hello {{ incident.name }}' }, action: 'incident-templates.create', resource: 'incident-templates' },
        () => ({ method: 'GET', url: `/api/v1/incidents/templates/${id('incident-templates')}`, action: 'incident-templates.show', resource: 'incident-templates', id: id('incident-templates') }),
        () => ({ method: 'PUT', url: `/api/v1/incidents/templates/${id('incident-templates')}`, body: { name: 'Tpl 2' }, action: 'incident-templates.update', resource: 'incident-templates', id: id('incident-templates') }),
        { method: 'GET', url: '/api/v1/incidents/templates', action: 'incident-templates.list', resource: 'incident-templates', id: null },
        () => ({ method: 'POST', url: '/api/v1/incidents', body: { name: 'Outage', message: 'Down', status: 1, visible: 1 }, action: 'incidents.create', resource: 'incidents' }),
        () => ({ method: 'GET', url: `/api/v1/incidents/${id('incidents')}`, action: 'incidents.show', resource: 'incidents', id: id('incidents') }),
        () => ({ method: 'PUT', url: `/api/v1/incidents/${id('incidents')}`, body: { name: 'Outage!' }, action: 'incidents.update', resource: 'incidents', id: id('incidents') }),
        { method: 'GET', url: '/api/v1/incidents', action: 'incidents.list', resource: 'incidents', id: null },
        () => ({ method: 'POST', url: `/api/v1/incidents/${id('incidents')}/updates`, body: { status: 2, message: 'Looking' }, action: 'incident-updates.create', resource: 'incident-updates' }),
        () => ({ method: 'GET', url: `/api/v1/incidents/${id('incidents')}/updates/${id('incident-updates')}`, action: 'incident-updates.show', resource: 'incident-updates', id: id('incident-updates') }),
        () => ({ method: 'PUT', url: `/api/v1/incidents/${id('incidents')}/updates/${id('incident-updates')}`, body: { message: 'Found' }, action: 'incident-updates.update', resource: 'incident-updates', id: id('incident-updates') }),
        () => ({ method: 'GET', url: `/api/v1/incidents/${id('incidents')}/updates`, action: 'incident-updates.list', resource: 'incident-updates', id: null }),
        { method: 'POST', url: '/api/v1/metrics', body: { name: 'Latency', suffix: 'ms', description: 'p50', default_value: 0 }, action: 'metrics.create', resource: 'metrics' },
        () => ({ method: 'GET', url: `/api/v1/metrics/${id('metrics')}`, action: 'metrics.show', resource: 'metrics', id: id('metrics') }),
        () => ({ method: 'PUT', url: `/api/v1/metrics/${id('metrics')}`, body: { suffix: 's' }, action: 'metrics.update', resource: 'metrics', id: id('metrics') }),
        { method: 'GET', url: '/api/v1/metrics', action: 'metrics.list', resource: 'metrics', id: null },
        () => ({ method: 'POST', url: `/api/v1/metrics/${id('metrics')}/points`, body: { value: 7 }, action: 'metric-points.create', resource: 'metric-points' }),
        () => ({ method: 'GET', url: `/api/v1/metrics/${id('metrics')}/points`, action: 'metric-points.list', resource: 'metric-points', id: null }),
        () => ({ method: 'PUT', url: `/api/v1/metrics/${id('metrics')}/points/${id('metric-points')}`, body: { value: 8 }, action: 'metric-points.update', resource: 'metric-points', id: id('metric-points') }),
        { method: 'POST', url: '/api/v1/schedules', body: { name: 'Maint', status: 0, scheduled_at: '2026-12-01 10:00' }, action: 'schedules.create', resource: 'schedules' },
        () => ({ method: 'GET', url: `/api/v1/schedules/${id('schedules')}`, action: 'schedules.show', resource: 'schedules', id: id('schedules') }),
        () => ({ method: 'PUT', url: `/api/v1/schedules/${id('schedules')}`, body: { name: 'Maint 2' }, action: 'schedules.update', resource: 'schedules', id: id('schedules') }),
        { method: 'GET', url: '/api/v1/schedules', action: 'schedules.list', resource: 'schedules', id: null },
        () => ({ method: 'POST', url: '/api/v1/subscribers', body: { email, components: [created.components] }, action: 'subscribers.create', resource: 'subscribers' }),
        { method: 'GET', url: '/api/v1/subscribers', action: 'subscribers.list', resource: 'subscribers', id: null },
        { method: 'GET', url: '/api/v1/audit?per_page=1', action: 'audit.list', resource: 'audit', id: null },
        () => ({ method: 'GET', url: `/api/v1/keys/${adminId}/usage`, action: 'keys.show', resource: 'keys', id: String(adminId) }),
        { method: 'GET', url: '/api/v1/keys', action: 'keys.list', resource: 'keys', id: null },
        { method: 'GET', url: '/api/v1/keys/self', action: 'keys.show', resource: 'keys', id: null },
        { method: 'POST', url: '/api/v1/keys', body: { purpose: 'test', name: 'made', scopes: ['components.read'] }, action: 'keys.create', resource: 'keys' },
        () => ({ method: 'GET', url: `/api/v1/keys/${id('keys')}`, action: 'keys.show', resource: 'keys', id: id('keys') }),
        () => ({ method: 'PUT', url: `/api/v1/keys/${id('keys')}`, body: { name: 'renamed' }, action: 'keys.update', resource: 'keys', id: id('keys') }),
        () => ({ method: 'DELETE', url: `/api/v1/keys/${id('keys')}/rotation`, action: 'keys.update', resource: 'keys', id: id('keys') }),
        { method: 'GET', url: '/api/v1/keys/review', action: 'keys.review', resource: 'keys', id: null },
        () => ({ method: 'POST', url: `/api/v1/keys/${id('keys')}/narrow`, body: {}, action: 'keys.narrow', resource: 'keys', id: id('keys') }),
        () => ({ method: 'POST', url: `/api/v1/keys/${id('keys')}/rotate`, body: { grace: '1h' }, action: 'keys.rotate', resource: 'keys', id: id('keys'), extra: ['keys.create'] }),
        () => ({ method: 'DELETE', url: `/api/v1/keys/${id('keys')}`, action: 'keys.revoke', resource: 'keys', id: id('keys'), status: 204 }),
        { method: 'POST', url: '/api/v1/keys/revoke', body: { tokens: ['cachet_nothing'] }, action: 'keys.revoke', resource: 'keys', id: null, status: 202 },
        { method: 'POST', url: '/api/v1/webhooks', body: { name: 'Hook', url: 'https://hooks.example.com/audit', events: ['*'] }, action: 'webhooks.create', resource: 'webhooks' },
        () => ({ method: 'GET', url: `/api/v1/webhooks/${id('webhooks')}`, action: 'webhooks.show', resource: 'webhooks', id: id('webhooks') }),
        () => ({ method: 'PUT', url: `/api/v1/webhooks/${id('webhooks')}`, body: { name: 'Hook 2', enabled: false }, action: 'webhooks.update', resource: 'webhooks', id: id('webhooks') }),
        { method: 'GET', url: '/api/v1/webhooks', action: 'webhooks.list', resource: 'webhooks', id: null },
        () => ({ method: 'POST', url: `/api/v1/webhooks/${id('webhooks')}/secret`, body: { grace: '1h' }, action: 'webhooks.rotate', resource: 'webhooks', id: id('webhooks') }),
        () => ({ method: 'GET', url: `/api/v1/webhooks/${id('webhooks')}/deliveries`, action: 'webhooks.show', resource: 'webhooks', id: id('webhooks') }),
        () => ({ method: 'DELETE', url: `/api/v1/webhooks/${id('webhooks')}`, action: 'webhooks.delete', resource: 'webhooks', id: id('webhooks'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/subscriptions/${id('subscriptions')}`, action: 'subscribers.update', resource: 'subscriptions', id: id('subscriptions'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/subscribers/${id('subscribers')}`, action: 'subscribers.delete', resource: 'subscribers', id: id('subscribers'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/metrics/${id('metrics')}/points/${id('metric-points')}`, action: 'metric-points.delete', resource: 'metric-points', id: id('metric-points'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/metrics/${id('metrics')}`, action: 'metrics.delete', resource: 'metrics', id: id('metrics'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/schedules/${id('schedules')}`, action: 'schedules.delete', resource: 'schedules', id: id('schedules'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/incidents/${id('incidents')}/updates/${id('incident-updates')}`, action: 'incident-updates.delete', resource: 'incident-updates', id: id('incident-updates'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/incidents/${id('incidents')}`, action: 'incidents.delete', resource: 'incidents', id: id('incidents'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/incidents/templates/${id('incident-templates')}`, action: 'incident-templates.delete', resource: 'incident-templates', id: id('incident-templates'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/components/${id('components')}`, action: 'components.delete', resource: 'components', id: id('components'), status: 204 }),
        () => ({ method: 'DELETE', url: `/api/v1/components/groups/${id('component-groups')}`, action: 'component-groups.delete', resource: 'component-groups', id: id('component-groups'), status: 204 }),
      ];
      const covered = new Set<string>();
      for (const entry of steps) {
        const step = typeof entry === 'function' ? entry() : entry;
        const response = await t.request({ method: step.method, url: step.url, token: admin, body: step.body, headers: { 'user-agent': 'audit-test/1.0' } });
        assert.equal(response.statusCode, step.status ?? 200, `${step.method} ${step.url}: ${response.body}`);
        const [event, ...others] = await eventsOf(response);
        assert.ok(event, `an event for ${step.method} ${step.url}`);
        assert.deepEqual(others.map((e) => e.action), step.extra ?? [], `${step.method} ${step.url} writes one event of its own`);
        const route = t.server.app.routeTable.find((r) => r.method === step.method && r.access?.action === step.action && new RegExp(`^${r.url.replace(/:[^/]+/g, '[^/]+')}$`).test(step.url.split('?')[0]!));
        assert.ok(route, `a route serves ${step.method} ${step.url}`);
        covered.add(`${route.method} ${route.url}`);
        if (step.action.endsWith('.create')) {
          created[step.resource] = json(response).data.id as number;
          if (step.resource === 'subscribers') {
            const subscriptions = await t.database.db.selectFrom('subscriptions').select('id').where('subscriber_id', '=', created.subscribers!).execute();
            created.subscriptions = subscriptions[0]!.id;
          }
        }
        const expectedId = step.action.endsWith('.create') ? String(created[step.resource]) : step.id ?? null;
        assert.deepEqual(
          { action: event.action, resource_type: event.resource_type, resource_id: event.resource_id, outcome: event.outcome, status: event.status, reason: event.reason },
          { action: step.action, resource_type: step.resource, resource_id: expectedId, outcome: 'allowed', status: step.status ?? 200, reason: null },
          `${step.method} ${step.url}`,
        );
        assert.equal(event.actor_type, 'key');
        assert.equal(event.key_id, adminId);
        assert.equal(event.key_prefix, admin.slice(0, 12));
        assert.equal(event.ip, '127.0.0.1');
        assert.equal(event.user_agent, 'audit-test/1.0');
        assert.equal(event.method, step.method);
        assert.equal(event.path, step.url.split('?')[0]);
        if (step.action.endsWith('.update') && step.body) {
          for (const [field, value] of Object.entries(step.body)) assert.deepEqual(event.changes?.[field]?.[1], value, `${step.action} records ${field}`);
        }
        if (step.action.endsWith('.create') && step.body?.name !== undefined) assert.deepEqual(event.changes?.name, [null, step.body.name]);
        if (step.action.endsWith('.delete') && step.action !== 'subscribers.delete') assert.ok(event.changes && Object.values(event.changes).every(([, after]) => after === null));
      }
      const uncovered = t.server.app.routeTable.filter((r) => !covered.has(`${r.method} ${r.url}`) && r.access && r.method !== 'HEAD');
      assert.deepEqual(uncovered.map((r) => `${r.method} ${r.url}`), [], 'the workload covers every route');

      // The subscriber's email is stored as a keyed digest an auditor can recompute, never as itself.
      const subscribed = (await allEvents()).find((e) => e.action === 'subscribers.create')!;
      assert.deepEqual(subscribed.changes?.email, [null, personalDigest(testConfig().pepper, email.toLowerCase())]);
      assert.equal(subscribed.changes?.verify_code, undefined, 'the verification code is a secret');
    });

    it('audits an incident that changes a component as a component update too', async () => {
      const component = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'DB', status: 1 } })).data.id as number;
      const response = await t.request({ method: 'POST', url: '/api/v1/incidents', token: admin, body: { name: 'DB down', message: 'x', status: 1, visible: 1, component_id: component, component_status: 4 } });
      assert.equal(response.statusCode, 200, response.body);
      const events = await eventsOf(response);
      assert.deepEqual(events.map((e) => e.action), ['incidents.create', 'components.update']);
      assert.equal(events[1]!.resource_id, String(component));
      assert.deepEqual(events[1]!.changes?.status, [1, 4]);
    });

    it('audits every denial with its reason, and failed key presentations by prefix only', async () => {
      const reader = await t.key(['components.read']);
      const readerId = (await t.server.keys.list()).find((k) => reader.startsWith(k.prefix))!.id;
      const unknown = generateToken();
      const revoked = await t.key(['components.read']);
      const revokedId = (await t.server.keys.list()).find((k) => revoked.startsWith(k.prefix))!.id;
      assert.ok((await t.server.keys.revoke(revokedId)).ok);
      t.server.verifier.invalidate();
      secrets.push(reader, unknown, revoked);
      const cases: Array<{ request: Parameters<TestApp['request']>[0]; status: number; reason: string; actor: string; keyId: number | null; prefix: string | null; action: string }> = [
        { request: { method: 'POST', url: '/api/v1/components', body: { name: 'x', status: 1 } }, status: 401, reason: 'key_missing', actor: 'anonymous', keyId: null, prefix: null, action: 'components.create' },
        { request: { method: 'POST', url: '/api/v1/components', token: 'not-a-key', body: { name: 'x', status: 1 } }, status: 401, reason: 'key_malformed', actor: 'anonymous', keyId: null, prefix: null, action: 'components.create' },
        { request: { url: '/api/v1/components', token: unknown }, status: 401, reason: 'key_unknown', actor: 'anonymous', keyId: null, prefix: unknown.slice(0, 12), action: 'components.list' },
        { request: { url: '/api/v1/components', token: revoked }, status: 401, reason: 'key_revoked', actor: 'key', keyId: revokedId, prefix: revoked.slice(0, 12), action: 'components.list' },
        { request: { method: 'POST', url: '/api/v1/components', token: reader, body: { name: 'x', status: 1 } }, status: 403, reason: 'scope_missing', actor: 'key', keyId: readerId, prefix: reader.slice(0, 12), action: 'components.create' },
        { request: { url: '/api/v1/audit', token: reader }, status: 403, reason: 'scope_missing', actor: 'key', keyId: readerId, prefix: reader.slice(0, 12), action: 'audit.list' },
        { request: { url: '/api/v1/components', headers: { authorization: 'Token abc' } }, status: 401, reason: 'authorization_malformed', actor: 'anonymous', keyId: null, prefix: null, action: 'components.list' },
      ];
      for (const c of cases) {
        const response = await t.request(c.request);
        assert.equal(response.statusCode, c.status, response.body);
        const event = await only(response);
        assert.deepEqual(
          { outcome: event.outcome, status: event.status, reason: event.reason, actor: event.actor_type, key: event.key_id, prefix: event.key_prefix, action: event.action },
          { outcome: 'denied', status: c.status, reason: c.reason, actor: c.actor, key: c.keyId, prefix: c.prefix, action: c.action },
          JSON.stringify(c.request),
        );
      }
      // A guest's read is not an event; a keyed request that fails is one, outcome failed.
      assert.equal((await eventsOf(await t.request({ url: '/api/v1/components' }))).length, 0);
      const missing = await only(await t.request({ url: '/api/v1/components/999999', token: reader }));
      assert.deepEqual([missing.outcome, missing.status, missing.resource_id], ['failed', 404, '999999']);
      const invalid = await only(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { status: 99 } }));
      assert.deepEqual([invalid.outcome, invalid.status, invalid.changes], ['failed', 400, null]);
    });

    it('audits key changes made outside a request as the system', async () => {
      const before = (await allEvents()).length;
      const created = await t.server.keys.create({ name: 'cli-made', scopes: ['components.read'], createdBy: 'cli' });
      assert.ok(created.ok);
      secrets.push(created.token);
      assert.ok((await t.server.keys.revoke(created.key.id)).ok);
      const events = (await allEvents()).slice(before);
      assert.deepEqual(events.map((e) => [e.action, e.actor_type, e.user_agent, e.resource_id]), [
        ['keys.create', 'system', 'cachet serve', String(created.key.id)],
        ['keys.revoke', 'system', 'cachet serve', String(created.key.id)],
      ]);
      assert.deepEqual(events[1]!.changes?.revoked_at?.[0], null);
      assert.equal(events[0]!.changes?.digest, undefined);
    });

    it('serves the trail newest first with filters, and a key usage summary', async () => {
      const reader = await t.key(['audit.read', 'keys.read', 'components.read']);
      const readerId = (await t.server.keys.list()).find((k) => reader.startsWith(k.prefix))!.id;
      secrets.push(reader);
      for (let i = 0; i < 3; i++) await t.request({ url: '/api/v1/components', token: reader });
      await t.request({ method: 'POST', url: '/api/v1/components', token: reader, body: { name: 'x', status: 1 } });
      const page = json(await t.request({ url: `/api/v1/audit?key_id=${readerId}&per_page=2`, token: reader }));
      assert.equal(page.meta.pagination.total, 4);
      assert.equal(page.data.length, 2);
      assert.ok(page.data[0].seq > page.data[1].seq, 'newest first');
      assert.equal(page.data[0].action, 'components.create');
      const denied = json(await t.request({ url: `/api/v1/audit?key_id=${readerId}&outcome=denied&reason=scope_missing`, token: reader }));
      assert.deepEqual(denied.data.map((e: AuditEvent) => e.action), ['components.create']);
      const byAction = json(await t.request({ url: `/api/v1/audit?action=components.list&key_id=${readerId}`, token: reader }));
      assert.equal(byAction.meta.pagination.total, 3);
      const none = json(await t.request({ url: `/api/v1/audit?key_id=${readerId}&since=2999-01-01T00:00:00Z`, token: reader }));
      assert.equal(none.meta.pagination.total, 0);
      assert.equal((await t.request({ url: '/api/v1/audit?since=yesterday-ish', token: reader })).statusCode, 400);

      const usage = json(await t.request({ url: `/api/v1/keys/${readerId}/usage`, token: reader })).data;
      assert.equal(usage.key_id, readerId);
      // Three reads, one denied write and the audit queries above (each is an event of this key).
      assert.deepEqual(
        usage.actions.filter((a: { action: string }) => a.action.startsWith('components')),
        [
          { action: 'components.create', outcome: 'denied', count: 1 },
          { action: 'components.list', outcome: 'allowed', count: 3 },
        ],
      );
      assert.deepEqual(usage.addresses.map((a: { ip: string }) => a.ip), ['127.0.0.1']);
      assert.ok(usage.first_use <= usage.last_use);
      assert.equal((await t.request({ url: '/api/v1/keys/999999/usage', token: reader })).statusCode, 404);
    });

    it('keeps one valid chain, and stores no token and no email anywhere in the trail', async () => {
      const events = await allEvents();
      let prev = GENESIS_HASH;
      for (const [i, event] of events.entries()) {
        assert.equal(event.seq, i + 1);
        assert.equal(event.prev_hash, prev);
        assert.equal(event.hash, eventHash(prev, hashedContent(event)));
        prev = event.hash;
      }
      const head = await repo.head(t.database.db);
      assert.deepEqual([head.seq, head.hash], [events.length, prev]);
      const bytes = JSON.stringify(await t.database.db.selectFrom('audit_events').selectAll().execute());
      for (const secret of secrets) {
        assert.ok(!bytes.includes(secret), 'a secret reached the trail');
        if (secret.length > 20) assert.ok(!bytes.includes(secret.slice(12)), 'a token body reached the trail');
      }
      assert.ok(!bytes.toLowerCase().includes('audited.person'), 'an email reached the trail');
    });
  });
}
