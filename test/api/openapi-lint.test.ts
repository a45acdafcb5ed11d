/**
 * The OpenAPI document client authors generate clients from: it passes Redocly's `recommended`
 * lint (redocly.yaml at the repository root), and every operation has a unique operationId and
 * declared security. Redocly runs offline, as a child process, on the document the app serves.
 * The document does not depend on the database, so this suite runs on SQLite only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { deriveOperationId, registerOpenApi } from '../../src/http/openapi.js';
import type { ApiApp } from '../../src/http/app-types.js';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REDOCLY = path.join(ROOT, 'node_modules/@redocly/cli/bin/cli.js');
const CONFIG = path.join(ROOT, 'redocly.yaml');

/** The warnings redocly.yaml explains and accepts (rule and JSON pointer); any other fails. */
const ACCEPTED_WARNINGS = ['no-ambiguous-paths #/paths/~1api~1v1~1incidents~1templates~1{id}'];

interface Problem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: Array<{ pointer: string }>;
}
interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: Problem[];
}

type Operation = { operationId?: string; security?: Array<Record<string, string[]>>; 'x-cachet-scope'?: string; tags?: string[]; summary?: string };
type Document = { servers?: Array<{ url: string }>; tags?: Array<{ name: string; description?: string }>; paths: Record<string, Record<string, Operation>> };

/** `redocly lint` on `document`, offline: no telemetry, no update check. */
async function lint(dir: string, name: string, document: unknown): Promise<LintReport> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(document));
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true', NO_COLOR: '1' };
  const child = spawn(process.execPath, [REDOCLY, 'lint', file, `--config=${CONFIG}`, '--format=json'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const start = stdout.indexOf('{');
  assert.ok(start >= 0, `redocly printed no report (exit ${code}): ${stderr}`);
  const report = JSON.parse(stdout.slice(start)) as LintReport;
  assert.equal(code === 0, report.totals.errors === 0, `redocly exit ${code} with ${report.totals.errors} errors`);
  return report;
}

const described = (problems: Problem[]) => problems.map((p) => `${p.ruleId} ${p.location.map((l) => l.pointer).join(' ')}`);

function operations(document: Document): Array<{ where: string; operation: Operation }> {
  return Object.entries(document.paths).flatMap(([url, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ where: `${method.toUpperCase()} ${url}`, operation })),
  );
}

describe('the OpenAPI document', () => {
  let t: TestApp;
  let dir: string;
  let document: Document;
  before(async () => {
    t = await buildTestApp('sqlite', { publicUrl: 'https://status.acme.test/cachet' });
    dir = await mkdtemp(path.join(tmpdir(), 'openapi-lint-'));
    const response = await t.request({ url: '/api/v1/openapi.json' });
    assert.equal(response.statusCode, 200);
    document = json<Document>(response);
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("passes Redocly's recommended lint: no errors, and only the warning redocly.yaml explains", async () => {
    const report = await lint(dir, 'openapi.json', document);
    assert.deepEqual(described(report.problems.filter((p) => p.severity === 'error')), []);
    assert.deepEqual(described(report.problems.filter((p) => p.severity === 'warn')), ACCEPTED_WARNINGS);
    assert.equal(report.totals.errors, 0);
    assert.equal(report.totals.warnings, ACCEPTED_WARNINGS.length);
  });

  it('fails the lint when an operation loses its operationId, security or 4xx responses', async () => {
    const broken = structuredClone(document) as Document & { paths: Record<string, Record<string, Operation & { responses?: Record<string, unknown> }>> };
    delete broken.paths['/api/v1/components']!.get!.operationId;
    delete broken.paths['/api/v1/keys']!.post!.security;
    const responses = broken.paths['/api/v1/keys/{id}/rotate']!.post!.responses!;
    for (const code of Object.keys(responses)) if (code.startsWith('4')) delete responses[code];
    const report = await lint(dir, 'broken.json', broken);
    const errors = described(report.problems.filter((p) => p.severity === 'error'));
    assert.ok(errors.includes('operation-operationId #/paths/~1api~1v1~1components/get/operationId'), errors.join('\n'));
    assert.ok(errors.includes('security-defined #/paths/~1api~1v1~1keys/post'), errors.join('\n'));
    const warnings = described(report.problems.filter((p) => p.severity === 'warn'));
    assert.ok(warnings.includes('operation-4xx-response #/paths/~1api~1v1~1keys~1{id}~1rotate/post/responses'), warnings.join('\n'));
  });

  it('documents every API route, each with a unique operationId, security, its scope and a described tag', () => {
    const ids = new Map<string, string>();
    const tags = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description]));
    for (const { where, operation } of operations(document)) {
      assert.match(operation.operationId ?? '', /^[a-z][A-Za-z]+$/, `${where} has no operationId`);
      assert.equal(ids.get(operation.operationId!), undefined, `${where} and ${ids.get(operation.operationId!)} share ${operation.operationId}`);
      ids.set(operation.operationId!, where);
      assert.ok(Array.isArray(operation.security) && operation.security.length > 0, `${where} declares no security`);
      assert.ok(operation['x-cachet-scope'], `${where} names no scope`);
      for (const tag of operation.tags ?? []) assert.ok(tags.get(tag), `${where}: tag ${tag} is not described`);
    }
    const routes = t.server.app.routeTable.filter((r) => r.url.startsWith('/api/v1') && r.method !== 'HEAD' && r.url !== '/api/v1/openapi.json');
    for (const route of routes) {
      const operation = document.paths[route.url.replace(/:([a-z_]+)/g, '{$1}')]?.[route.method.toLowerCase()];
      assert.ok(operation?.operationId, `${route.method} ${route.url} is missing from the document`);
    }
    assert.equal(ids.size, routes.length);
    assert.ok(Object.keys(document.paths).filter((p) => p.startsWith('/api/v1/keys')).length >= 5, 'the keys API is documented');
  });

  it('derives operationIds from the route actions, and documents who may call each operation', () => {
    const id = (method: string, url: string) => document.paths[url]?.[method]?.operationId;
    assert.equal(id('get', '/api/v1/components'), 'listComponents');
    assert.equal(id('get', '/api/v1/components/groups/{id}'), 'getComponentGroup');
    assert.equal(id('post', '/api/v1/incidents/{id}/updates'), 'createIncidentUpdate');
    assert.equal(id('get', '/api/v1/ping'), 'getPing');
    assert.equal(id('delete', '/api/v1/keys/{id}'), 'revokeKey');
    assert.equal(id('post', '/api/v1/keys/revoke'), 'reportLeakedTokens');
    const keyed = [{ cachetToken: [] }, { bearer: [] }];
    const security = (method: string, url: string) => document.paths[url]?.[method]?.security;
    assert.deepEqual(security('get', '/api/v1/ping'), [{}, ...keyed]);
    assert.deepEqual(security('get', '/api/v1/components'), [{}, ...keyed]);
    assert.deepEqual(security('post', '/api/v1/keys/revoke'), [{}, ...keyed]);
    assert.deepEqual(security('get', '/api/v1/keys/self'), keyed);
    assert.deepEqual(security('get', '/api/v1/subscribers'), keyed);
    assert.deepEqual(document.servers, [{ url: 'https://status.acme.test/cachet', description: 'This server (CACHET_PUBLIC_URL)' }]);
    // The server URL has a path; the operation paths still carry `/api/v1`.
    assert.ok(document.paths['/api/v1/ping']);
  });

  it('derives operationIds deterministically, and a clash stops start-up', async () => {
    assert.equal(deriveOperationId('components.list'), 'listComponents');
    assert.equal(deriveOperationId('metric-points.update'), 'updateMetricPoint');
    assert.equal(deriveOperationId('system.version'), 'getVersion');
    const app = Fastify() as unknown as ApiApp;
    await registerOpenApi(app, { version: '0', publicUrl: 'http://x.test' });
    app.get('/api/v1/a', { schema: { tags: ['System'] }, config: { access: { scope: 'public', action: 'keys.show' } } }, () => 'a');
    assert.throws(
      () => app.get('/api/v1/b', { schema: { tags: ['System'] }, config: { access: { scope: 'public', action: 'keys.show' } } }, () => 'b'),
      /GET \/api\/v1\/a and GET \/api\/v1\/b both have operationId getKey/,
    );
    assert.throws(() => app.get('/api/v1/c', { schema: { tags: ['Nope'] }, config: { access: { scope: 'public', action: 'x.list' } } }, () => 'c'), /tag "Nope"/);
    await app.close();
  });
});
