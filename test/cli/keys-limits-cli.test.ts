/** `cachet keys create --resources/--not-before` and `cachet keys list --expiring`, run as a user runs them on a SQLite file. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseResourcesOption } from '../../src/cli/keys.js';

const BIN = path.resolve('bin/cachet.js');

describe('cachet keys: resource limits, start time and the expiring list', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const run = (...args: string[]) => {
    const result = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'resources-cli-'));
    env = { ...process.env, CACHET_DATA_DIR: path.join(dir, 'data'), DATABASE_URL: `sqlite:${path.join(dir, 'data', 'cachet.db')}`, LOG_LEVEL: 'warn' };
    delete env.CACHET_PEPPER;
    delete env.CACHET_PEPPER_FILE;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses RESOURCE:ID,…;RESOURCE:ID', () => {
    assert.deepEqual(parseResourcesOption('components:7,9;incidents:3'), { components: [7, 9], incidents: [3] });
    assert.deepEqual(parseResourcesOption(' components : 7 ; components:8 '), { components: [7, 8] });
    assert.deepEqual(parseResourcesOption('components:x'), { components: ['x'] });
    assert.throws(() => parseResourcesOption('7,9'), /RESOURCE:ID/);
    assert.throws(() => parseResourcesOption(';'), /RESOURCE:ID/);
  });

  it('creates a limited key that starts later, and refuses bad limits with one line', () => {
    const notBefore = new Date(Date.now() + 3_600_000).toISOString();
    const created = run('keys', 'create', '--purpose', 'test', '--name', 'status bot', '--scopes', 'components.manage', '--resources', 'components:9,7;incidents:3', '--not-before', notBefore, '--json');
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as { id: number; resources: Record<string, number[]>; not_before: string; status: string };
    assert.deepEqual(key.resources, { components: [7, 9], incidents: [3] });
    assert.equal(key.not_before, notBefore);
    assert.equal(key.status, 'pending');
    const shown = run('keys', 'show', String(key.id));
    assert.match(shown.stdout, /resources +components:7,9;incidents:3/);
    assert.match(shown.stdout, /not_before +\d{4}-/);
    for (const [limits, message] of [
      ['widgets:1', /"widgets" cannot be limited/],
      ['components:0', /positive whole numbers/],
      ['components:x', /positive whole numbers/],
      [`components:${Array.from({ length: 101 }, (_, i) => i + 1).join(',')}`, /more than 100/],
    ] as const) {
      const bad = run('keys', 'create', '--purpose', 'test', '--name', 'bad', '--scopes', 'components.read', '--resources', limits);
      assert.equal(bad.code, 1, limits);
      assert.match(bad.stderr, message);
      assert.equal(bad.stderr.trim().split('\n').length, 1);
    }
    const badTime = run('keys', 'create', '--purpose', 'test', '--name', 'bad', '--scopes', 'components.read', '--not-before', 'soon');
    assert.equal(badTime.code, 1);
    assert.match(badTime.stderr, /not_before must be an ISO 8601 time/);
  });

  it('lists the keys expiring within a window (default 7d)', () => {
    const soon = JSON.parse(run('keys', 'create', '--purpose', 'test', '--name', 'soon', '--scopes', 'components.read', '--expires', '2d', '--json').stdout) as { id: number };
    const later = JSON.parse(run('keys', 'create', '--purpose', 'test', '--name', 'later', '--scopes', 'components.read', '--expires', '30d', '--json').stdout) as { id: number };
    const week = run('keys', 'list', '--expiring', '--json');
    assert.equal(week.code, 0, week.stderr);
    const weekIds = (JSON.parse(week.stdout) as Array<{ id: number }>).map((k) => k.id);
    assert.ok(weekIds.includes(soon.id) && !weekIds.includes(later.id), week.stdout);
    const month = (JSON.parse(run('keys', 'list', '--expiring', '31d', '--json').stdout) as Array<{ id: number }>).map((k) => k.id);
    assert.ok(month.includes(soon.id) && month.includes(later.id));
    assert.ok(month.indexOf(soon.id) < month.indexOf(later.id), 'soonest first');
    const table = run('keys', 'list', '--expiring', '1d');
    assert.equal(table.stdout, 'no keys expire within 1d\n');
    const bad = run('keys', 'list', '--expiring', 'soon');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--expiring must be a duration/);
  });
});
