/** A status page's worth of content, created through the API as an operator would. */
import assert from 'node:assert/strict';
import { json, type TestApp } from './app.js';

/** Ids and names of what seedStatusPage created. */
export interface SeededPage {
  publicComponent: { id: number; name: string };
  disabledComponent: { id: number; name: string };
  hiddenGroupComponent: { id: number; name: string };
  hiddenGroup: string;
  publicIncident: { id: number; name: string; update: string };
  hiddenIncident: { id: number; name: string };
  xssIncident: { id: number; name: string; message: string };
  schedule: { id: number; name: string };
  publicMetric: { id: number; name: string };
  hiddenMetric: { id: number; name: string };
}

/**
 * A visible group with a component, a hidden group with one, a disabled component, a public incident
 * that puts its component into partial outage and has an update, a hidden incident, an incident
 * whose name and message are markup, an upcoming maintenance, a charted public metric with two
 * points and a metric guests may not see.
 */
export async function seedStatusPage(t: TestApp): Promise<SeededPage> {
  const admin = await t.key(['*']);
  const post = async (url: string, body: object): Promise<{ id: number }> => {
    const response = await t.request({ method: 'POST', url, token: admin, body });
    assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
    return json<{ data: { id: number } }>(response).data;
  };
  const visibleGroup = await post('/api/v1/components/groups', { name: 'Core services', visible: true });
  const hiddenGroup = await post('/api/v1/components/groups', { name: 'Internal tooling group', visible: false });
  const publicComponent = await post('/api/v1/components', { name: 'Public API', status: 1, group_id: visibleGroup.id });
  const disabledComponent = await post('/api/v1/components', { name: 'Retired mailer', status: 1, enabled: false });
  const hiddenGroupComponent = await post('/api/v1/components', { name: 'Build farm', status: 1, group_id: hiddenGroup.id });
  const publicIncident = await post('/api/v1/incidents', {
    name: 'Database slowdown',
    message: 'Queries are slow.',
    status: 1,
    visible: 1,
    component_id: publicComponent.id,
    component_status: 3,
  });
  await post(`/api/v1/incidents/${publicIncident.id}/updates`, { status: 2, message: 'Found a runaway query.' });
  const hiddenIncident = await post('/api/v1/incidents', { name: 'Secret incident', message: 'Only staff see this.', status: 1, visible: 0 });
  const xss = { name: '<script>alert(1)</script>', message: '<img src=x onerror=alert(2)>' };
  const xssIncident = await post('/api/v1/incidents', { ...xss, status: 1, visible: 1 });
  const schedule = await post('/api/v1/schedules', { name: 'Planned upgrade', message: 'Upgrading the database.', status: 0, scheduled_at: '2026-12-01 10:00' });
  const publicMetric = await post('/api/v1/metrics', { name: 'Response time', suffix: 'ms', default_value: 0, calc_type: 1, display_chart: true, default_view: 0, visible: 1 });
  for (const value of [120, 180]) await post(`/api/v1/metrics/${publicMetric.id}/points`, { value });
  const hiddenMetric = await post('/api/v1/metrics', { name: 'Queue depth (staff only)', suffix: 'jobs', default_value: 0, display_chart: true, visible: 2 });
  return {
    publicMetric: { id: publicMetric.id, name: 'Response time' },
    hiddenMetric: { id: hiddenMetric.id, name: 'Queue depth (staff only)' },
    publicComponent: { id: publicComponent.id, name: 'Public API' },
    disabledComponent: { id: disabledComponent.id, name: 'Retired mailer' },
    hiddenGroupComponent: { id: hiddenGroupComponent.id, name: 'Build farm' },
    hiddenGroup: 'Internal tooling group',
    publicIncident: { id: publicIncident.id, name: 'Database slowdown', update: 'Found a runaway query.' },
    hiddenIncident: { id: hiddenIncident.id, name: 'Secret incident' },
    xssIncident: { id: xssIncident.id, ...xss },
    schedule: { id: schedule.id, name: 'Planned upgrade' },
  };
}
