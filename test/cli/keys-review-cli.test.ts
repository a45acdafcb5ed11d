/** `cachet keys review` and `cachet keys narrow`, run as an operator runs them, on history made by real requests to a real server. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { envFor, exited, freshUrl, start, type Instance } from '../helpers/processes.js';

const BIN = path.resolve('bin/cachet.js');

describe('cachet keys review and narrow', () => {
  let dir: string;
  let url: string;
  let server: Instance;
  const tokens: string[] = [];
  const run = (...args: string[]) => {
    const result = spawnSync(process.execPath, [BIN, ...args], { env: envFor(dir, url), encoding: 'utf8', timeout: 60_000 });
    for (const token of tokens) assert.ok(!result.stdout.includes(token.slice(12)) && !result.stderr.includes(token.slice(12)), 'no token in the output');
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const create = (name: string, scopes: string) => {
    const made = JSON.parse(run('keys', 'create', '--name', name, '--purpose', `${name} job`, '--scopes', scopes, '--json').stdout) as { id: number; token: string };
    tokens.push(made.token);
    return made;
  };
  const get = (token: string, route: string) => fetch(`http://127.0.0.1:${server.port}${route}`, { headers: { 'x-cachet-token': token, accept: 'application/json' } });

  let wide: { id: number; token: string };
  let idle: { id: number; token: string };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-review-cli-'));
    url = (await freshUrl('sqlite', dir)).url;
    server = await start(dir, url);
    wide = create('reader', 'components.manage,incidents.manage');
    idle = create('idle', 'components.read');
    assert.equal((await get(wide.token, '/api/v1/components')).status, 200);
    assert.equal((await get(wide.token, '/api/v1/incidents')).status, 200);
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await exited(server.child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reviews every key, as text and JSON', () => {
    const json = run('keys', 'review', '--json');
    assert.equal(json.code, 0, json.stderr);
    const keys = (JSON.parse(json.stdout) as { keys: Array<{ id: number; findings: Array<{ code: string }>; suggestion: { scopes: string[]; allowed_ips: string[] | null } | null }> }).keys;
    const reader = keys.find((k) => k.id === wide.id)!;
    assert.deepEqual(reader.findings.map((f) => f.code).sort(), ['no_ip_restriction', 'unused_scopes']);
    assert.deepEqual(reader.suggestion, { scopes: ['components.read', 'incidents.read'], resources: null, allowed_ips: ['127.0.0.1/32'] });
    assert.deepEqual(keys.find((k) => k.id === idle.id)!.findings.map((f) => f.code), ['never_used']);
    const text = run('keys', 'review', '--days', '7');
    assert.match(text.stdout, new RegExp(`key ${wide.id} reader`));
    assert.match(text.stdout, /unused_scopes: holds scopes it did not use in 7 days: components\.manage, incidents\.manage/);
    assert.match(text.stdout, new RegExp(`suggest  revoke it \\(cachet keys revoke ${idle.id}\\)`));
    assert.match(run('keys', 'review', '--days', '0').stderr, /--days must be/);
  });

  it('narrows: a dry run by default, --apply changes the key, and the server enforces it', async () => {
    const dry = run('keys', 'narrow', String(wide.id));
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would change/);
    assert.match(dry.stdout, /scopes: \["components\.manage","incidents\.manage"\] -> \["components\.read","incidents\.read"\]/);
    const applied = run('keys', 'narrow', String(wide.id), '--apply', '--json');
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(JSON.parse(applied.stdout).applied, true);
    const shown = JSON.parse(run('keys', 'show', String(wide.id), '--json').stdout) as { scopes: string[]; allowed_ips: string[] };
    assert.deepEqual([shown.scopes, shown.allowed_ips], [['components.read', 'incidents.read'], ['127.0.0.1/32']]);
    let status = 0;
    for (let i = 0; i < 40 && status !== 403; i += 1) {
      status = (await fetch(`http://127.0.0.1:${server.port}/api/v1/components`, { method: 'POST', headers: { 'x-cachet-token': wide.token, accept: 'application/json', 'content-type': 'application/json' }, body: '{"name":"x","status":1}' })).status;
      if (status !== 403) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, 403, 'the server refuses what the narrowed key no longer holds');
    assert.match(run('keys', 'narrow', String(idle.id), '--apply').stderr, /not used in the window: there is nothing to narrow it to/);
    const trail = run('audit', 'export').stdout;
    assert.ok(trail.includes('"action":"keys.narrow"') && trail.includes('"user_agent":"cachet keys narrow"'));
  });

  it('starts a report-only narrowing with --shadow', () => {
    const other = create('shadowed', 'components.manage');
    return get(other.token, '/api/v1/components').then(() => {
      const shadow = run('keys', 'narrow', String(other.id), '--shadow', '--for', '3d', '--propose', '--json');
      assert.equal(shadow.code, 0, shadow.stderr);
      const state = JSON.parse(shadow.stdout).shadow as { scopes: string[]; on_quiet: string; until: string };
      assert.deepEqual([state.scopes, state.on_quiet], [['components.read'], 'propose']);
      const shown = JSON.parse(run('keys', 'show', String(other.id), '--json').stdout) as { scopes: string[] };
      assert.deepEqual(shown.scopes, ['components.manage'], 'the key keeps working as it is');
      assert.match(run('keys', 'narrow', String(other.id), '--apply', '--shadow').stderr, /not both/);
    });
  });
});
