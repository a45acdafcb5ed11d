/** Every route of Cachet 2.4's API v1 (reference §1.9, rows 1–43) is served. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';

const CACHET_24_ROUTES = [
  'GET /ping', 'GET /version', 'GET /status',
  'GET /components', 'GET /components/:id', 'POST /components', 'PUT /components/:id', 'DELETE /components/:id',
  'GET /components/groups', 'GET /components/groups/:id', 'POST /components/groups', 'PUT /components/groups/:id', 'DELETE /components/groups/:id',
  'GET /incidents', 'GET /incidents/:id', 'POST /incidents', 'PUT /incidents/:id', 'DELETE /incidents/:id',
  'GET /incidents/templates', 'GET /incidents/templates/:id',
  'GET /incidents/:id/updates', 'GET /incidents/:id/updates/:id', 'POST /incidents/:id/updates', 'PUT /incidents/:id/updates/:id', 'DELETE /incidents/:id/updates/:id',
  'GET /metrics', 'GET /metrics/:id', 'POST /metrics', 'PUT /metrics/:id', 'DELETE /metrics/:id',
  'GET /metrics/:id/points', 'POST /metrics/:id/points', 'PUT /metrics/:id/points/:id', 'DELETE /metrics/:id/points/:id',
  'GET /schedules', 'GET /schedules/:id', 'POST /schedules', 'PUT /schedules/:id', 'DELETE /schedules/:id',
  'GET /subscribers', 'POST /subscribers', 'DELETE /subscribers/:id', 'DELETE /subscriptions/:id',
];

describe('Cachet 2.4 API surface', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp('sqlite');
  });
  after(() => t.close());

  it('serves all 43 routes of Cachet 2.4 under /api/v1', () => {
    assert.equal(CACHET_24_ROUTES.length, 43);
    const served = new Set(t.server.app.routeTable.map((r) => `${r.method} ${r.url.replace('/api/v1', '').replace(/:[a-z_]+/g, ':id')}`));
    const missing = CACHET_24_ROUTES.filter((route) => !served.has(route));
    assert.deepEqual(missing, []);
  });
});
