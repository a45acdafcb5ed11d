/**
 * Notifications under real `cachet serve` processes: 10,000 subscribers do not slow the request
 * that causes their mail (delivery happens outside it) and all get it; a server killed with
 * SIGKILL in the middle of delivery and started again delivers every mail, none twice; two instances on
 * PostgreSQL share one queue (FOR UPDATE SKIP LOCKED) without sending any mail twice.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { dialects } from '../helpers/dialects.js';
import { createKey, exited, freshUrl, start, type Instance } from '../helpers/processes.js';
import { startSmtp, type SmtpSink } from '../helpers/smtp.js';

const SUBSCRIBERS = 10_000;
const now = () => new Date().toISOString();

function subscriberRows(count: number, tag: string) {
  return Array.from({ length: count }, (_, i) => [`${tag}-${i}@example.org`, randomBytes(16).toString('hex'), 1, now(), now(), now()] as const);
}

async function post(instance: Instance, token: string, route: string, body: unknown) {
  const started = performance.now();
  const response = await fetch(`http://127.0.0.1:${instance.port}${route}`, { method: 'POST', headers: { 'x-cachet-token': token, accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const ms = performance.now() - started;
  assert.equal(response.status, 200, await response.text());
  return ms;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function stop(instance: Instance | undefined, signal: NodeJS.Signals = 'SIGTERM') {
  if (!instance || instance.child.exitCode !== null) return;
  instance.child.kill(signal);
  await exited(instance.child);
}

describe('notifications with 10,000 subscribers (SQLite, real processes)', () => {
  let dir: string;
  let url: string;
  let smtp: SmtpSink;
  let server: Instance | undefined;
  let token: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-notify-'));
    url = (await freshUrl('sqlite', dir)).url;
    smtp = await startSmtp();
    env = { SMTP_URL: smtp.url, CACHET_JOB_POLL_MS: '100', CACHET_JOB_LEASE: '3s', CACHET_NOTIFY_BUDGET: '1000' };
    token = createKey(dir, url);
    server = await start(dir, url, env);
  });
  after(async () => {
    await stop(server);
    await smtp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers an incident as fast with 10,000 subscribers as with none, and delivers all 10,000 mails outside the request', async () => {
    const without: number[] = [];
    for (let i = 0; i < 15; i += 1) without.push(await post(server!, token, '/api/v1/incidents', { name: `warm ${i}`, message: 'x', status: 1, visible: 1 }));
    const db = new Database(path.join(dir, 'cachet.db'));
    const insert = db.prepare('insert into subscribers (email, verify_code, global, verified_at, created_at, updated_at) values (?, ?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (const row of subscriberRows(SUBSCRIBERS, 'load')) insert.run(...row);
    })();
    db.close();
    const withMany: number[] = [];
    const seen: number[] = [];
    for (let i = 0; i < 15; i += 1) {
      withMany.push(await post(server!, token, '/api/v1/incidents', { name: `loaded ${i}`, message: 'x', status: 1, visible: 1, notify: i === 0 }));
      seen.push(smtp.mails.length);
    }
    const started = Date.now();
    await smtp.waitFor(SUBSCRIBERS, 240_000);
    const deliveryS = (Date.now() - started) / 1000;
    process.stdout.write(`# incident create, median of 15: ${median(without).toFixed(1)} ms with no subscribers, ${median(withMany).toFixed(1)} ms with ${SUBSCRIBERS} (all mails delivered ${deliveryS.toFixed(1)} s later)\n`);
    // The request returned before its mails went out: delivery is not in the request.
    assert.ok(seen[0]! < SUBSCRIBERS, `only ${seen[0]} of ${SUBSCRIBERS} mails had gone when the request returned`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const ids = new Set(smtp.mails.map((m) => m.messageId));
    assert.equal(smtp.mails.length, SUBSCRIBERS, 'one mail per subscriber, none twice');
    assert.equal(ids.size, SUBSCRIBERS);
    assert.equal(new Set(smtp.mails.map((m) => m.to)).size, SUBSCRIBERS);
  });

  it('delivers every mail after the server is killed with SIGKILL in the middle of delivery and started again, none twice', async () => {
    smtp.mails.length = 0;
    await post(server!, token, '/api/v1/incidents', { name: 'killed during delivery', message: 'x', status: 1, visible: 1 });
    await smtp.waitFor(1500, 60_000);
    await stop(server, 'SIGKILL');
    const atKill = smtp.mails.length;
    assert.ok(atKill < SUBSCRIBERS, 'killed before delivery ended');
    server = await start(dir, url, env);
    await smtp.waitFor(SUBSCRIBERS, 240_000);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const byAddress = new Map<string, Set<string>>();
    const counts = new Map<string, number>();
    for (const mail of smtp.mails) {
      if (!byAddress.has(mail.to)) byAddress.set(mail.to, new Set());
      byAddress.get(mail.to)!.add(mail.messageId);
      counts.set(mail.to, (counts.get(mail.to) ?? 0) + 1);
    }
    const twice = [...counts.values()].filter((n) => n > 1).length;
    process.stdout.write(`# killed after ${atKill} of ${SUBSCRIBERS} mails; after the restart ${smtp.mails.length} mails, ${byAddress.size} addresses, ${twice} twice\n`);
    assert.equal(byAddress.size, SUBSCRIBERS, 'every subscriber got the mail');
    // A mail's job is recorded as sent before the final `.` of its DATA: the mails in flight at the
    // kill were unfinished at the server (discarded, sent again after the restart) or recorded.
    assert.equal(twice, 0, 'none got it twice');
    assert.ok([...byAddress.values()].every((ids) => ids.size === 1), 'one Message-ID per address');
  });
});

const postgres = (await dialects()).includes('postgres');

describe('two instances on PostgreSQL share the queue', { skip: !postgres && 'needs PostgreSQL' }, () => {
  let dir: string;
  let url: string;
  let drop: () => Promise<void>;
  let smtp: SmtpSink;
  const servers: Instance[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-notify-pg-'));
    ({ url, drop } = await freshUrl('postgres', dir));
    smtp = await startSmtp();
    const env = { SMTP_URL: smtp.url, CACHET_JOB_POLL_MS: '50' };
    servers.push(await start(dir, url, env));
    servers.push(await start(dir, url, env));
  });
  after(async () => {
    for (const s of servers) await stop(s);
    await smtp?.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers 3,000 mails once each, the work shared by both instances', async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const rows = subscriberRows(3000, 'pg');
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500);
      const values = chunk.map((_, j) => `($${j * 6 + 1}, $${j * 6 + 2}, $${j * 6 + 3}, $${j * 6 + 4}, $${j * 6 + 5}, $${j * 6 + 6})`).join(', ');
      await client.query(`insert into subscribers (email, verify_code, global, verified_at, created_at, updated_at) values ${values}`, chunk.flat());
    }
    const token = createKey(dir, url);
    await post(servers[0]!, token, '/api/v1/incidents', { name: 'shared', message: 'x', status: 1, visible: 1 });
    await smtp.waitFor(3000, 120_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(smtp.mails.length, 3000);
    assert.equal(new Set(smtp.mails.map((m) => m.to)).size, 3000);
    const workers = await client.query<{ holder: string; n: string }>("select locked_by as holder, count(*) as n from jobs where kind = 'notify' and status = 'done' group by locked_by");
    await client.end();
    process.stdout.write(`# mails sent per instance: ${workers.rows.map((r) => r.n).join(' and ')}\n`);
    assert.equal(workers.rows.length, 2, 'both instances sent mail');
    assert.equal(workers.rows.reduce((sum, r) => sum + Number(r.n), 0), 3000);
  });
});
