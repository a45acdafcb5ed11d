/** `cachet notifications held|release|drop`, run as an operator runs them, on a database where a key went past its notification budget. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createKey, envFor, exited, freshUrl, start, type Instance } from '../helpers/processes.js';

const BIN = path.resolve('bin/cachet.js');

describe('cachet notifications', () => {
  let dir: string;
  let url: string;
  let server: Instance;
  const run = (...args: string[]) => {
    const result = spawnSync(process.execPath, [BIN, ...args], { env: envFor(dir, url), encoding: 'utf8', timeout: 60_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const jobs = () => {
    const db = new Database(path.join(dir, 'cachet.db'), { readonly: true });
    try {
      return db.prepare("select id, status from jobs where kind = 'fanout' order by id").all() as Array<{ id: number; status: string }>;
    } finally {
      db.close();
    }
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-notify-cli-'));
    url = (await freshUrl('sqlite', dir)).url;
    server = await start(dir, url, { CACHET_NOTIFY_BUDGET: '1' });
    const token = createKey(dir, url, 'incidents.manage');
    for (const name of ['first', 'second', 'third']) {
      const response = await fetch(`http://127.0.0.1:${server.port}/api/v1/incidents`, {
        method: 'POST',
        headers: { 'x-cachet-token': token, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ name, message: 'x', status: 1, visible: 1 }),
      });
      assert.equal(response.status, 200);
    }
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await exited(server.child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the held batches, releases one, drops one, and refuses an id that is not held without changing anything', () => {
    const listed = run('notifications', 'held', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const held = JSON.parse(listed.stdout) as Array<{ id: number; event_type: string; subject: string; key_id: number }>;
    assert.deepEqual(held.map((b) => [b.event_type, b.subject]), [['incident.created', 'second'], ['incident.created', 'third']]);
    assert.match(run('notifications', 'held').stdout, /incident\.created\s+\S+\s+second/);
    const [second, third] = held;
    const bad = run('notifications', 'release', String(second!.id), '999999');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no held batch with id 999999/);
    assert.equal(jobs().find((j) => j.id === second!.id)?.status, 'held', 'all or nothing');
    assert.equal(run('notifications', 'release', String(second!.id)).code, 0);
    assert.equal(run('notifications', 'drop', String(third!.id)).code, 0);
    const states = new Map(jobs().map((j) => [j.id, j.status]));
    assert.notEqual(states.get(second!.id), 'held');
    assert.equal(states.get(third!.id), 'dropped');
    assert.equal(JSON.parse(run('notifications', 'held', '--json').stdout).length, 0);
    const trail = run('audit', 'export').stdout.trim().split('\n').map((line) => JSON.parse(line) as { action: string; user_agent: string | null; resource_id: string });
    assert.deepEqual(
      trail.filter((e) => e.action.startsWith('notifications.')).map((e) => [e.action, e.resource_id]),
      [['notifications.hold', String(second!.id)], ['notifications.hold', String(third!.id)], ['notifications.release', String(second!.id)], ['notifications.drop', String(third!.id)]],
    );
  });
});
