import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';
import { dialects } from '../helpers/dialects.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

for (const dialect of await dialects()) {
  describe(`system API (${dialect})`, () => {
    let t: TestApp;
    let admin: string;
    before(async () => {
      t = await buildTestApp(dialect);
      admin = await t.key(['*']);
    });
    after(() => t.close());

    it('answers ping with exactly {"data":"Pong!"} as JSON', async () => {
      const response = await t.request({ url: '/api/v1/ping' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      assert.equal(response.body, '{"data":"Pong!"}');
    });

    it('refuses a non-JSON Accept with 406 and accepts */* and JSON variants', async () => {
      assert.equal((await t.request({ url: '/api/v1/ping', headers: { accept: 'text/html' } })).statusCode, 406);
      for (const accept of ['*/*', 'application/json; indent=4', 'text/html, application/json;q=0.9', 'application/*']) {
        assert.equal((await t.request({ url: '/api/v1/ping', headers: { accept } })).statusCode, 200, accept);
      }
      const noAccept = await t.server.app.inject({ method: 'GET', url: '/api/v1/ping' });
      assert.equal(noAccept.statusCode, 200);
    });

    it('returns a JSON 404 envelope for an unknown path and 405 for a known path with another method', async () => {
      const missing = await t.request({ url: '/api/v1/not-found' });
      assert.equal(missing.statusCode, 404);
      assert.match(String(missing.headers['content-type']), /^application\/json/);
      const error = json(missing).errors[0];
      assert.equal(error.status, 404);
      assert.equal(error.title, 'Not Found');
      assert.match(error.id, UUID);
      const wrongMethod = await t.request({ method: 'PATCH', url: '/api/v1/ping' });
      assert.equal(wrongMethod.statusCode, 405);
      assert.equal(json(wrongMethod).errors[0].title, 'Method Not Allowed');
      assert.match(String(wrongMethod.headers.allow), /GET/);
    });

    it('lets other origins read the API but not write to it (CORS)', async () => {
      const read = await t.request({ url: '/api/v1/components', headers: { origin: 'https://widget.example' } });
      assert.equal(read.headers['access-control-allow-origin'], '*');
      const preflight = await t.server.app.inject({
        method: 'OPTIONS',
        url: '/api/v1/components',
        headers: { origin: 'https://widget.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-cachet-token' },
      });
      assert.equal(preflight.statusCode, 204);
      assert.equal(preflight.headers['access-control-allow-methods'], 'GET, HEAD');
      assert.match(String(preflight.headers['access-control-allow-headers']), /X-Cachet-Token/);
      assert.equal(preflight.headers['access-control-allow-credentials'], undefined);
    });

    it('reports the Cachet API version with meta.latest', async () => {
      const body = json(await t.request({ url: '/api/v1/version' }));
      assert.equal(body.data, '2.4.1');
      assert.equal(typeof body.meta.on_latest, 'boolean');
      assert.equal(body.meta.latest.tag_name, 'v2.4.1');
      assert.equal(body.meta.server.name, 'cachet-ts');
    });

    it('computes /status from enabled components: success, info, danger, with Cache-Control', async () => {
      const empty = await t.request({ url: '/api/v1/status' });
      assert.ok(empty.headers['cache-control']);
      assert.deepEqual(json(empty).data, { status: 'success', message: 'System operational' });
      const create = (body: Record<string, unknown>) => t.request({ method: 'POST', url: '/api/v1/components', token: admin, body });
      const partial = json(await create({ name: 'A', status: 3 })).data;
      assert.deepEqual(json(await t.request({ url: '/api/v1/status' })).data, { status: 'info', message: 'The system is experiencing issues' });
      await t.request({ method: 'PUT', url: `/api/v1/components/${partial.id}`, token: admin, body: { status: 1 } });
      await create({ name: 'B', status: 1 });
      assert.deepEqual(json(await t.request({ url: '/api/v1/status' })).data, { status: 'success', message: 'All systems are operational' });
      await create({ name: 'C', status: 4 });
      await create({ name: 'D', status: 4 });
      assert.deepEqual(json(await t.request({ url: '/api/v1/status' })).data, { status: 'danger', message: 'Some systems are experiencing major issues' });
      await create({ name: 'E', status: 4, enabled: false });
      assert.equal(json(await t.request({ url: '/api/v1/status' })).data.status, 'danger');
    });

    it('answers /status from a one-second cache per visibility: a change made elsewhere shows within a second', async () => {
      const status = async (token?: string) => json(await t.request({ url: '/api/v1/status', ...(token ? { token } : {}) })).data.status as string;
      const group = json(await t.request({ method: 'POST', url: '/api/v1/components/groups', token: admin, body: { name: 'internal', visible: 0 } })).data;
      const hidden = json(await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'hidden', status: 1, group_id: group.id } })).data;
      assert.equal(await status(), 'danger', 'two of the four visible components are in a major outage (the test above)');
      // Another instance (or the CLI) puts every component back in operation: this server did not see the write.
      await t.database.db.updateTable('components').set({ status: 1 }).execute();
      assert.equal(await status(), 'danger', 'within the second, the cached answer');
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.equal(await status(), 'success', 'after it, the change');
      // A write through the API shows at once, for each visibility: guests do not count the component
      // in the hidden group, a caller who may read hidden groups does.
      await t.request({ method: 'PUT', url: `/api/v1/components/${hidden.id}`, token: admin, body: { status: 4 } });
      assert.deepEqual([await status(), await status(admin)], ['success', 'info']);
    });

    it('serves an OpenAPI 3.1 document that names each operation\'s scope', async () => {
      const response = await t.request({ url: '/api/v1/openapi.json' });
      assert.equal(response.statusCode, 200);
      const doc = json(response);
      assert.equal(doc.openapi, '3.1.0');
      const post = doc.paths['/api/v1/components'].post;
      assert.equal(post['x-cachet-scope'], 'components.manage');
      assert.ok(post.requestBody.content['application/json'].schema.properties.name);
      assert.deepEqual(post.security, [{ cachetToken: [] }, { bearer: [] }]);
      assert.equal(doc.paths['/api/v1/components/{id}'].delete['x-cachet-scope'], 'components.delete');
      assert.equal(doc.paths['/api/v1/ping'].get['x-cachet-scope'], 'public');
    });
  });
}
