/**
 * The dashboard's content pages: components and groups, incidents (from a template too) and their
 * updates, maintenance, metrics and points, subscribers, and the admin-only page settings. Every
 * change is made through a form, checked through the API or the status page, and audited with the
 * signed-in user as actor; invalid input re-renders the form and changes nothing; names render
 * escaped; a form without its CSRF token changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { createUser, visitor, type Visitor } from '../helpers/dashboard.js';
import { dialects } from '../helpers/dialects.js';

const XSS = '<img src=x onerror=alert(1)>';

for (const dialect of await dialects()) {
  describe(`dashboard: content (${dialect})`, () => {
    let t: TestApp;
    let admin: Visitor;
    let editor: Visitor;
    let reader: string;
    const ids = { admin: 0, editor: 0 };

    before(async () => {
      t = await buildTestApp(dialect, { siteName: 'Env Status' });
      ids.admin = (await createUser(t, 'admin@example.test', 'admin')).id;
      ids.editor = (await createUser(t, 'editor@example.test', 'user')).id;
      admin = visitor(t, '127.0.0.20');
      editor = visitor(t, '127.0.0.21');
      assert.equal((await admin.signIn('admin@example.test')).statusCode, 303);
      assert.equal((await editor.signIn('editor@example.test')).statusCode, 303);
      reader = await t.key(['*']);
    });
    after(() => t.close());

    const api = async (url: string) => t.request({ url, token: reader });
    const apiData = async (url: string) => {
      const response = await api(url);
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
      return json(response).data;
    };
    const publicPage = async () => (await t.server.app.inject({ method: 'GET', url: '/' })).body;
    const count = async (table: 'components' | 'incidents' | 'component_groups' | 'schedules' | 'metrics' | 'subscribers' | 'incident_templates' | 'incident_updates') =>
      Number((await t.database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    /** Events of dashboard requests (the API's keyed reads are audited too, and are not counted). */
    const eventCount = async () =>
      Number((await t.database.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).where('path', 'like', '/dashboard%').executeTakeFirstOrThrow()).n);

    /** The newest event of `action`, checked to be an allowed change by `userId`; its resource id. */
    async function audited(action: string, userId: number): Promise<number> {
      const event = await t.database.db.selectFrom('audit_events').selectAll().where('action', '=', action).orderBy('seq', 'desc').executeTakeFirst();
      assert.ok(event, `an audit event ${action}`);
      assert.equal(event.actor_type, 'user');
      assert.equal(event.user_id, userId);
      assert.equal(event.outcome, 'allowed');
      return Number(event.resource_id);
    }

    /** A form that was accepted: a 303 to `to`, whose page shows the flash message. */
    async function accepted(v: Visitor, response: LightMyRequestResponse, to: string) {
      assert.equal(response.statusCode, 303, response.body);
      assert.equal(response.headers.location, to);
      const page = await v.get(to.split('#')[0]!);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /class="flash flash-ok"/);
      return page;
    }

    /** A form sent back: 400, each message shown, the form filled with what was sent. */
    function refused(response: LightMyRequestResponse, messages: readonly string[], kept: readonly string[] = []) {
      assert.equal(response.statusCode, 400, response.body);
      assert.match(response.body, /role="alert" id="form-errors"/);
      for (const message of messages) assert.ok(response.body.includes(message), `shows "${message}"`);
      for (const value of kept) assert.ok(response.body.includes(value), `keeps "${value}"`);
    }

    const componentForm = (extra: Record<string, string>) => ({ name: 'API', status: '1', description: '', link: '', group_id: '0', order: '0', enabled: '1', tags: '', ...extra });

    it('lets a user (not only an admin) create, edit, disable and delete a component, each change audited as theirs', async () => {
      const created = await editor.submit('/dashboard/components', componentForm({ name: 'Checkout API', description: 'Takes payments', link: 'https://pay.example.test', order: '2', tags: 'Core, Edge' }), '/dashboard/components/new');
      const list = await accepted(editor, created, '/dashboard/components');
      assert.ok(list.body.includes('Checkout API'));
      const id = await audited('components.create', ids.editor);
      let component = await apiData(`/api/v1/components/${id}`);
      assert.equal(component.name, 'Checkout API');
      assert.equal(component.description, 'Takes payments');
      assert.equal(component.status, 1);
      assert.equal(component.order, 2);
      assert.equal(component.enabled, true);
      assert.deepEqual(component.tags, { core: 'Core', edge: 'Edge' });

      const edit = await editor.get(`/dashboard/components/${id}`);
      assert.equal(edit.statusCode, 200);
      assert.ok(edit.body.includes('value="Core, Edge"'));
      const saved = await editor.submit(`/dashboard/components/${id}`, componentForm({ name: 'Checkout', status: '3', order: '2', tags: 'Core' }), `/dashboard/components/${id}`);
      await accepted(editor, saved, '/dashboard/components');
      assert.equal(await audited('components.update', ids.editor), id);
      component = await apiData(`/api/v1/components/${id}`);
      assert.equal(component.name, 'Checkout');
      assert.equal(component.status_name, 'Partial Outage');
      assert.deepEqual(component.tags, { core: 'Core' });

      await accepted(editor, await editor.submit(`/dashboard/components/${id}/disable`, {}, '/dashboard/components'), '/dashboard/components');
      assert.equal((await apiData(`/api/v1/components/${id}`)).enabled, false);
      await accepted(editor, await editor.submit(`/dashboard/components/${id}/enable`, {}, '/dashboard/components'), '/dashboard/components');
      assert.equal((await apiData(`/api/v1/components/${id}`)).enabled, true);

      const deleted = await editor.submit(`/dashboard/components/${id}/delete`, {}, `/dashboard/components/${id}`);
      await accepted(editor, deleted, '/dashboard/components');
      assert.equal(await audited('components.delete', ids.editor), id);
      assert.equal((await api(`/api/v1/components/${id}`)).statusCode, 404);
      assert.equal((await editor.get(`/dashboard/components/${id}`)).statusCode, 404);
    });

    it('creates, edits and deletes a component group; its components are then ungrouped', async () => {
      const created = await admin.submit('/dashboard/components/groups', { name: 'Payments', order: '1', collapsed: '2', visible: '1' }, '/dashboard/components/groups/new');
      await accepted(admin, created, '/dashboard/components#groups');
      const groupId = await audited('component-groups.create', ids.admin);
      let group = await apiData(`/api/v1/components/groups/${groupId}`);
      assert.equal(group.name, 'Payments');
      assert.equal(group.collapsed, 2);
      assert.equal(group.visible, 1);

      await admin.submit('/dashboard/components', componentForm({ name: 'Card processor', group_id: String(groupId) }), '/dashboard/components/new');
      const componentId = await audited('components.create', ids.admin);
      assert.equal((await apiData(`/api/v1/components/${componentId}`)).group_id, groupId);

      const saved = await admin.submit(`/dashboard/components/groups/${groupId}`, { name: 'Billing', order: '3', collapsed: '0' }, `/dashboard/components/groups/${groupId}`);
      await accepted(admin, saved, '/dashboard/components#groups');
      assert.equal(await audited('component-groups.update', ids.admin), groupId);
      group = await apiData(`/api/v1/components/groups/${groupId}`);
      assert.equal(group.name, 'Billing');
      assert.equal(group.order, 3);
      assert.equal(group.visible, 0, 'an unticked box is sent as false');

      await accepted(admin, await admin.submit(`/dashboard/components/groups/${groupId}/delete`, {}, `/dashboard/components/groups/${groupId}`), '/dashboard/components#groups');
      assert.equal(await audited('component-groups.delete', ids.admin), groupId);
      assert.equal((await api(`/api/v1/components/groups/${groupId}`)).statusCode, 404);
      assert.equal((await apiData(`/api/v1/components/${componentId}`)).group_id, 0);
    });

    it('reports an incident that sets its component’s status, adds an update, and shows both on the status page', async () => {
      await editor.submit('/dashboard/components', componentForm({ name: 'Search' }), '/dashboard/components/new');
      const componentId = await audited('components.create', ids.editor);

      const created = await editor.submit(
        '/dashboard/incidents',
        { name: 'Search is slow', status: '1', message: 'We are looking into slow searches.', component_id: String(componentId), component_status: '2', occurred_at: '2026-11-25T11:30', visible: '1', template: '', vars: '' },
        '/dashboard/incidents/new',
      );
      assert.equal(created.statusCode, 303, created.body);
      const incidentId = await audited('incidents.create', ids.editor);
      assert.equal(created.headers.location, `/dashboard/incidents/${incidentId}`);
      await accepted(editor, created, `/dashboard/incidents/${incidentId}`);
      let incident = await apiData(`/api/v1/incidents/${incidentId}`);
      assert.equal(incident.name, 'Search is slow');
      assert.equal(incident.component_id, componentId);
      assert.equal(incident.occurred_at, '2026-11-25 11:30:00', 'the form time is UTC');
      assert.equal(incident.stickied, false);
      assert.equal((await apiData(`/api/v1/components/${componentId}`)).status, 2);
      assert.equal(await audited('components.update', ids.editor), componentId, "the component's change is audited beside the incident's");

      const update = await editor.submit(`/dashboard/incidents/${incidentId}/updates`, { status: '2', message: 'Found a bad index; rebuilding it.' }, `/dashboard/incidents/${incidentId}`);
      await accepted(editor, update, `/dashboard/incidents/${incidentId}#updates`);
      const updateId = await audited('incident-updates.create', ids.editor);
      incident = await apiData(`/api/v1/incidents/${incidentId}`);
      assert.equal(incident.status, 2, 'the incident takes the update’s status');
      assert.deepEqual(incident.updates.map((u: { id: number }) => u.id), [updateId]);
      const page = await editor.get(`/dashboard/incidents/${incidentId}`);
      assert.ok(page.body.includes('Found a bad index; rebuilding it.'), 'the incident page lists its updates');

      let status = await publicPage();
      assert.ok(status.includes('Search is slow'));
      assert.ok(status.includes('We are looking into slow searches.'));
      assert.ok(status.includes('Found a bad index; rebuilding it.'));

      const edited = await editor.submit(
        `/dashboard/incidents/${incidentId}`,
        { name: 'Search was slow', status: '4', message: 'Searches were slow for an hour.', component_id: String(componentId), component_status: '', occurred_at: '2026-11-25T11:30', visible: '1', stickied: '1' },
        `/dashboard/incidents/${incidentId}`,
      );
      await accepted(editor, edited, `/dashboard/incidents/${incidentId}`);
      assert.equal(await audited('incidents.update', ids.editor), incidentId);
      incident = await apiData(`/api/v1/incidents/${incidentId}`);
      assert.equal(incident.name, 'Search was slow');
      assert.equal(incident.stickied, true);
      assert.equal(incident.occurred_at, '2026-11-25 11:30:00', 'an unchanged time stays');
      assert.equal((await apiData(`/api/v1/components/${componentId}`)).status, 2, 'an unchanged component keeps its status');

      await accepted(editor, await editor.submit(`/dashboard/incidents/${incidentId}/updates/${updateId}/delete`, {}, `/dashboard/incidents/${incidentId}`), `/dashboard/incidents/${incidentId}#updates`);
      assert.equal(await audited('incident-updates.delete', ids.editor), updateId);
      assert.deepEqual((await apiData(`/api/v1/incidents/${incidentId}`)).updates, []);

      await accepted(editor, await editor.submit(`/dashboard/incidents/${incidentId}/delete`, {}, `/dashboard/incidents/${incidentId}`), '/dashboard/incidents');
      assert.equal(await audited('incidents.delete', ids.editor), incidentId);
      assert.equal((await api(`/api/v1/incidents/${incidentId}`)).statusCode, 404);
      status = await publicPage();
      assert.ok(!status.includes('Search was slow'));
    });

    it('manages incident templates and reports an incident from one, with its variables', async () => {
      const created = await admin.submit('/dashboard/templates', { name: 'Slow service', slug: '', template: '{{ service }} is slow ({{ incident.name }}).' }, '/dashboard/templates/new');
      await accepted(admin, created, '/dashboard/templates');
      const templateId = await audited('incident-templates.create', ids.admin);
      const template = await apiData(`/api/v1/incidents/templates/${templateId}`);
      assert.equal(template.slug, 'slow-service');

      const form = await admin.get('/dashboard/incidents/new?template=slow-service');
      assert.match(form.body, /<option value="slow-service" selected>Slow service<\/option>/);
      const reported = await admin.submit(
        '/dashboard/incidents',
        { name: 'Checkout delays', status: '2', message: '', component_id: '0', component_status: '', occurred_at: '', visible: '1', template: 'slow-service', vars: 'service = Checkout\n' },
        '/dashboard/incidents/new',
      );
      assert.equal(reported.statusCode, 303, reported.body);
      const incidentId = await audited('incidents.create', ids.admin);
      const incident = await apiData(`/api/v1/incidents/${incidentId}`);
      assert.equal(incident.message, 'Checkout is slow (Checkout delays).');
      assert.equal(incident.occurred_at, '2026-11-25 12:00:00', 'a blank time is now');
      assert.ok((await publicPage()).includes('Checkout is slow (Checkout delays).'));

      const badVars = await admin.submit('/dashboard/incidents', { name: 'x', status: '1', template: 'slow-service', vars: 'not a pair', visible: '1' }, '/dashboard/incidents/new');
      refused(badVars, ['Line 1 of the template variables is not name = value'], ['not a pair']);
      const unknown = await admin.submit('/dashboard/incidents', { name: 'x', status: '1', template: 'no-such-template', visible: '1' }, '/dashboard/incidents/new');
      refused(unknown, ['The incident template &quot;no-such-template&quot; does not exist.']);

      const saved = await admin.submit(`/dashboard/templates/${templateId}`, { name: 'Slow', slug: '', template: '{{ service }} is slow.' }, `/dashboard/templates/${templateId}`);
      await accepted(admin, saved, '/dashboard/templates');
      assert.equal(await audited('incident-templates.update', ids.admin), templateId);
      const changed = await apiData(`/api/v1/incidents/templates/${templateId}`);
      assert.equal(changed.name, 'Slow');
      assert.equal(changed.slug, 'slow-service', 'a blank slug keeps the slug');

      const broken = await admin.submit(`/dashboard/templates/${templateId}`, { name: 'Slow', template: '{% if %}' }, `/dashboard/templates/${templateId}`);
      refused(broken, ['The template is not valid'], ['{% if %}']);
      assert.equal((await apiData(`/api/v1/incidents/templates/${templateId}`)).template, '{{ service }} is slow.');

      await accepted(admin, await admin.submit(`/dashboard/templates/${templateId}/delete`, {}, `/dashboard/templates/${templateId}`), '/dashboard/templates');
      assert.equal(await audited('incident-templates.delete', ids.admin), templateId);
      assert.equal((await api(`/api/v1/incidents/templates/${templateId}`)).statusCode, 404);
    });

    it('schedules maintenance, starts and completes it, and deletes it', async () => {
      const created = await editor.submit('/dashboard/schedules', { name: 'Database upgrade', message: 'Short read-only window.', status: '0', scheduled_at: '2026-12-01T22:00', completed_at: '' }, '/dashboard/schedules/new');
      await accepted(editor, created, '/dashboard/schedules');
      const id = await audited('schedules.create', ids.editor);
      let schedule = await apiData(`/api/v1/schedules/${id}`);
      assert.equal(schedule.scheduled_at, '2026-12-01 22:00:00', 'the form time is UTC');
      assert.equal(schedule.completed_at, null);
      assert.ok((await publicPage()).includes('Database upgrade'));

      const edit = await editor.get(`/dashboard/schedules/${id}`);
      assert.ok(edit.body.includes('value="2026-12-01T22:00:00"'));
      const saved = await editor.submit(`/dashboard/schedules/${id}`, { name: 'Database upgrade (v16)', message: 'Short read-only window.', status: '0', scheduled_at: '2026-12-01T22:00:00', completed_at: '' }, `/dashboard/schedules/${id}`);
      await accepted(editor, saved, '/dashboard/schedules');
      assert.equal(await audited('schedules.update', ids.editor), id);
      assert.equal((await apiData(`/api/v1/schedules/${id}`)).name, 'Database upgrade (v16)');

      await accepted(editor, await editor.submit(`/dashboard/schedules/${id}/status`, { status: '1' }, '/dashboard/schedules'), '/dashboard/schedules');
      assert.equal((await apiData(`/api/v1/schedules/${id}`)).human_status, 'In Progress');
      await accepted(editor, await editor.submit(`/dashboard/schedules/${id}/status`, { status: '2' }, '/dashboard/schedules'), '/dashboard/schedules');
      schedule = await apiData(`/api/v1/schedules/${id}`);
      assert.equal(schedule.status, 2);
      assert.equal(schedule.completed_at, '2026-11-25 12:00:00', 'completing stamps the time');
      assert.equal(await audited('schedules.update', ids.editor), id);
      assert.ok(!(await publicPage()).includes('Database upgrade'), 'complete maintenance leaves the status page');

      await accepted(editor, await editor.submit(`/dashboard/schedules/${id}/delete`, {}, `/dashboard/schedules/${id}`), '/dashboard/schedules');
      assert.equal(await audited('schedules.delete', ids.editor), id);
      assert.equal((await api(`/api/v1/schedules/${id}`)).statusCode, 404);
    });

    it('creates and edits a metric, adds a point, and deletes the metric', async () => {
      const metricForm = { name: 'Response time', suffix: 'ms', description: 'p95', default_value: '0', calc_type: '1', display_chart: '1', places: '1', default_view: '0', threshold: '5', order: '0', visible: '1' };
      const created = await admin.submit('/dashboard/metrics', metricForm, '/dashboard/metrics/new');
      assert.equal(created.statusCode, 303, created.body);
      const id = await audited('metrics.create', ids.admin);
      await accepted(admin, created, `/dashboard/metrics/${id}`);
      let metric = await apiData(`/api/v1/metrics/${id}`);
      assert.equal(metric.name, 'Response time');
      assert.equal(metric.calc_type, 1);
      assert.equal(metric.places, 1);
      assert.equal(metric.default_view_name, 'Last Hour');

      const point = await admin.submit(`/dashboard/metrics/${id}/points`, { value: '42.5', at: '' }, `/dashboard/metrics/${id}`);
      await accepted(admin, point, `/dashboard/metrics/${id}#points`);
      const pointId = await audited('metric-points.create', ids.admin);
      const points = json(await api(`/api/v1/metrics/${id}/points`)).data;
      assert.deepEqual(points.map((p: { id: number; value: number }) => [p.id, p.value]), [[pointId, 42.5]]);
      assert.ok((await admin.get(`/dashboard/metrics/${id}`)).body.includes('42.5 ms'));

      const badPoint = await admin.submit(`/dashboard/metrics/${id}/points`, { value: 'lots', at: '' }, `/dashboard/metrics/${id}`);
      assert.equal(badPoint.statusCode, 400);
      assert.ok(badPoint.body.includes('The value must be a number.'));

      const saved = await admin.submit(`/dashboard/metrics/${id}`, { ...metricForm, name: 'Latency', threshold: '7' }, `/dashboard/metrics/${id}`);
      refused(saved, ['The threshold must divide 60 minutes evenly'], ['value="Latency"']);
      assert.equal((await apiData(`/api/v1/metrics/${id}`)).name, 'Response time', 'a refused edit changes nothing');
      await accepted(admin, await admin.submit(`/dashboard/metrics/${id}`, { ...metricForm, name: 'Latency', threshold: '10' }, `/dashboard/metrics/${id}`), `/dashboard/metrics/${id}`);
      assert.equal(await audited('metrics.update', ids.admin), id);
      metric = await apiData(`/api/v1/metrics/${id}`);
      assert.equal(metric.name, 'Latency');
      assert.equal(metric.threshold, 10);

      await accepted(admin, await admin.submit(`/dashboard/metrics/${id}/delete`, {}, `/dashboard/metrics/${id}`), '/dashboard/metrics');
      assert.equal(await audited('metrics.delete', ids.admin), id);
      assert.equal((await api(`/api/v1/metrics/${id}`)).statusCode, 404);
    });

    it('adds a subscriber to chosen components, leaves a known address alone, and removes one', async () => {
      await editor.submit('/dashboard/components', componentForm({ name: 'Mail' }), '/dashboard/components/new');
      const mail = await audited('components.create', ids.editor);
      const added = await editor.submit('/dashboard/subscribers', { email: 'Ops@Example.test', components: [String(mail)], verify: '1' });
      const list = await accepted(editor, added, '/dashboard/subscribers');
      assert.ok(list.body.includes('ops@example.test'));
      assert.match(list.body, /<span class="tag">Mail<\/span>/);
      const id = await audited('subscribers.create', ids.editor);
      const subscriber = json(await api('/api/v1/subscribers')).data.find((s: { id: number }) => s.id === id);
      assert.equal(subscriber.email, 'ops@example.test');
      assert.equal(subscriber.global, false);
      assert.notEqual(subscriber.verified_at, null);
      assert.deepEqual(subscriber.subscriptions.map((s: { component_id: number }) => s.component_id), [mail]);

      const before = await eventCount();
      const again = await editor.submit('/dashboard/subscribers', { email: 'ops@example.test' });
      assert.equal(again.statusCode, 303);
      assert.match((await editor.get('/dashboard/subscribers')).body, /subscribed already: nothing changed/);
      assert.equal(await eventCount(), before, 'nothing changed, nothing audited');

      refused(await editor.submit('/dashboard/subscribers', { email: 'not an address' }), ['The email must be a valid email address.'], ['value="not an address"']);
      refused(await editor.submit('/dashboard/subscribers', { email: 'new@example.test', components: ['999999'] }), ['no component has id 999999']);
      assert.equal(json(await api('/api/v1/subscribers')).data.length, 1);

      await accepted(editor, await editor.submit(`/dashboard/subscribers/${id}/delete`, {}, '/dashboard/subscribers'), '/dashboard/subscribers');
      assert.equal(await audited('subscribers.delete', ids.editor), id);
      assert.deepEqual(json(await api('/api/v1/subscribers')).data, []);
    });

    it('lets an admin change the site name shown on the status page; a user is refused (403, audited)', async () => {
      assert.ok((await publicPage()).includes('<title>Env Status</title>'));
      const settingsForm = { site_name: 'Acme Status', about: 'We run **Acme**.', stylesheet_url: '', locale: 'en' };

      const denied = await editor.get('/dashboard/settings');
      assert.equal(denied.statusCode, 403);
      const forbidden = await editor.submit('/dashboard/settings', settingsForm, '/dashboard');
      assert.equal(forbidden.statusCode, 403);
      const refusals = await t.database.db.selectFrom('audit_events').selectAll().where('reason', '=', 'admin_only').where('user_id', '=', ids.editor).execute();
      assert.equal(refusals.length, 2);
      for (const event of refusals) {
        assert.equal(event.outcome, 'denied');
        assert.equal(event.actor_type, 'user');
        assert.equal(event.status, 403);
      }
      assert.ok((await publicPage()).includes('<title>Env Status</title>'), 'the refused change did not happen');

      const page = await admin.get('/dashboard/settings');
      assert.equal(page.statusCode, 200);
      assert.ok(page.body.includes('value="Env Status"'));
      refused(await admin.submit('/dashboard/settings', { ...settingsForm, stylesheet_url: 'javascript:alert(1)' }), ['The stylesheet URL must be an absolute http: or https: URL'], ['value="Acme Status"']);
      assert.ok((await publicPage()).includes('<title>Env Status</title>'));

      await accepted(admin, await admin.submit('/dashboard/settings', settingsForm), '/dashboard/settings');
      await audited('settings.update', ids.admin);
      const status = await publicPage();
      assert.ok(status.includes('<title>Acme Status</title>'));
      assert.ok(status.includes('We run <strong>Acme</strong>.'));
    });

    it('re-renders a form with the messages and the values sent for invalid input, and changes nothing', async () => {
      const components = await count('components');
      const events = await eventCount();
      refused(await editor.submit('/dashboard/components', componentForm({ name: '', description: 'kept text' })), ['The name field is required.'], ['kept text']);
      refused(await editor.submit('/dashboard/components', componentForm({ name: 'Bad status', status: '9' })), ['The status may not be greater than 4.'], ['value="Bad status"']);
      refused(await editor.submit('/dashboard/components', componentForm({ name: 'Bad link', link: 'ftp://x' })), ['The link format is invalid.']);
      assert.equal(await count('components'), components);

      await editor.submit('/dashboard/components', componentForm({ name: 'Stays' }), '/dashboard/components/new');
      const id = await audited('components.create', ids.editor);
      const afterCreate = await eventCount();
      refused(await editor.submit(`/dashboard/components/${id}`, componentForm({ name: 'Stays', status: 'unknown' }), `/dashboard/components/${id}`), ['The status must be an integer.']);
      assert.equal((await apiData(`/api/v1/components/${id}`)).status, 1);

      const incidents = await count('incidents');
      refused(await editor.submit('/dashboard/incidents', { name: '', status: '1', message: 'm', visible: '1' }, '/dashboard/incidents/new'), ['The name field is required.']);
      refused(await editor.submit('/dashboard/incidents', { name: 'No such status', status: '7', message: 'm', visible: '1' }, '/dashboard/incidents/new'), ['The status may not be greater than 4.']);
      refused(await editor.submit('/dashboard/incidents', { name: 'No message', status: '1', message: '  ', visible: '1' }, '/dashboard/incidents/new'), ['The message field is required.']);
      refused(await editor.submit('/dashboard/incidents', { name: 'Half a pair', status: '1', message: 'm', component_id: String(id), visible: '1' }, '/dashboard/incidents/new'), ['The component status field is required when component id is present.']);
      assert.equal(await count('incidents'), incidents);

      const schedules = await count('schedules');
      refused(await editor.submit('/dashboard/schedules', { name: 'No start', status: '0', scheduled_at: '' }, '/dashboard/schedules/new'), ['The scheduled at field is required.']);
      refused(await editor.submit('/dashboard/schedules', { name: 'Bad start', status: '0', scheduled_at: 'next tuesday' }, '/dashboard/schedules/new'), ['The scheduled at is not a valid date']);
      assert.equal(await count('schedules'), schedules);
      refused(await editor.submit('/dashboard/metrics', { name: 'No suffix', suffix: '', default_value: '0' }, '/dashboard/metrics/new'), ['The suffix field is required.']);
      refused(await editor.submit('/dashboard/templates', { name: 'T', template: '' }, '/dashboard/templates/new'), ['The template field is required.']);
      refused(await editor.submit('/dashboard/components/groups', { name: '' }, '/dashboard/components/groups/new'), ['The name field is required.']);
      assert.equal(await eventCount(), afterCreate, 'no refused form wrote an event');
      assert.ok(afterCreate > events);
    });

    it('renders names as text in the list pages', async () => {
      await editor.submit('/dashboard/components', componentForm({ name: XSS }), '/dashboard/components/new');
      const componentId = await audited('components.create', ids.editor);
      await editor.submit('/dashboard/incidents', { name: XSS, status: '1', message: XSS, visible: '1' }, '/dashboard/incidents/new');
      const incidentId = await audited('incidents.create', ids.editor);
      for (const url of ['/dashboard/components', '/dashboard/incidents', `/dashboard/components/${componentId}`, `/dashboard/incidents/${incidentId}`]) {
        const page = await editor.get(url);
        assert.equal(page.statusCode, 200);
        assert.ok(!page.body.includes(XSS), `${url} has no raw tag`);
        assert.ok(page.body.includes('&lt;img src=x onerror=alert(1)&gt;'), `${url} shows the name escaped`);
      }
    });

    it('refuses a form posted without its CSRF token (403, audited) and changes nothing', async () => {
      const components = await count('components');
      const incidents = await count('incidents');
      const forged = await editor.postRaw('/dashboard/components', componentForm({ name: 'Forged' }));
      assert.equal(forged.statusCode, 403);
      const wrong = await editor.postRaw('/dashboard/incidents', { _csrf: 'not-a-token', name: 'Forged', status: '1', message: 'm', visible: '1' });
      assert.equal(wrong.statusCode, 403);
      assert.equal(await count('components'), components);
      assert.equal(await count('incidents'), incidents);
      const denials = await t.database.db.selectFrom('audit_events').select(['outcome', 'path']).where('reason', '=', 'csrf_invalid').where('user_id', '=', ids.editor).orderBy('seq').execute();
      assert.deepEqual(denials, [
        { outcome: 'denied', path: '/dashboard/components' },
        { outcome: 'denied', path: '/dashboard/incidents' },
      ]);
    });

    it('answers 404 for a record that is not there', async () => {
      for (const url of ['/dashboard/components/999999', '/dashboard/components/groups/999999', '/dashboard/incidents/999999', '/dashboard/templates/999999', '/dashboard/schedules/999999', '/dashboard/metrics/999999', '/dashboard/components/abc']) {
        assert.equal((await editor.get(url)).statusCode, 404, url);
      }
      assert.equal((await editor.submit('/dashboard/incidents/999999/delete', {}, '/dashboard/incidents')).statusCode, 404);
      assert.equal((await editor.submit('/dashboard/subscribers/999999/delete', {}, '/dashboard/subscribers')).statusCode, 404);
    });
  });
}
