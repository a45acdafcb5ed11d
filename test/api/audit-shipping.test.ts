/**
 * Shipping the audit trail (DESIGN.md §4): events reach a real syslog receiver over UDP and TCP as
 * RFC 5424 messages, requests do not wait for a sink that is down, every event arrives once it is
 * back and none twice, the file sink rotates, and two instances on PostgreSQL never both ship an event.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig, parseAuditSink, type AuditSinkTarget } from '../../src/config.js';
import { eventHash, eventOfRow, hashedContent } from '../../src/features/audit/audit.chain.js';
import { createAuditRepo } from '../../src/features/audit/audit.repo.js';
import { createAuditShipper } from '../../src/features/audit/audit.shipper.js';
import { createAuditSink, MAX_DATAGRAM_BYTES, ROTATED_FILES, SYSLOG_FACILITY, syslogMessage } from '../../src/features/audit/audit.sinks.js';
import type { AuditEvent } from '../../src/features/audit/audit.types.js';
import { systemContext } from '../../src/features/audit/audit.types.js';
import { createAuditWriter } from '../../src/features/audit/audit.writer.js';
import type { Database } from '../../src/db/database.js';
import { systemClock } from '../../src/infra/clock.js';
import { createLogger } from '../../src/logger.js';
import { buildTestApp, testConfig, type TestApp } from '../helpers/app.js';
import { dialects, freshDatabase } from '../helpers/dialects.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const SEVERITY = { allowed: 6, denied: 5, failed: 4 } as const;

interface SyslogMessage {
  pri: number;
  version: string;
  timestamp: string;
  hostname: string;
  app: string;
  procId: string;
  msgId: string;
  structuredData: string;
  body: AuditEvent & { truncated?: boolean };
  bytes: Buffer;
}

/** Parses one RFC 5424 message whose MSG is a BOM and a JSON object. */
function parseSyslog(bytes: Buffer): SyslogMessage {
  const bom = bytes.indexOf(BOM);
  assert.ok(bom > 0, 'message has no BOM before its MSG');
  const header = bytes.subarray(0, bom).toString('ascii');
  const match = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) $/.exec(header);
  assert.ok(match, `not an RFC 5424 header: ${header}`);
  const [, pri, version, timestamp, hostname, app, procId, msgId, structuredData] = match;
  return {
    pri: Number(pri),
    version: version!,
    timestamp: timestamp!,
    hostname: hostname!,
    app: app!,
    procId: procId!,
    msgId: msgId!,
    structuredData: structuredData!,
    body: JSON.parse(bytes.subarray(bom + BOM.length).toString('utf8')) as SyslogMessage['body'],
    bytes,
  };
}

/** A syslog receiver on 127.0.0.1 that can go down and come back on the same port. */
interface Receiver {
  port: number;
  messages: SyslogMessage[];
  /** Every byte received, for the token search. */
  raw(): Buffer;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

async function udpReceiver(): Promise<Receiver> {
  const messages: SyslogMessage[] = [];
  const chunks: Buffer[] = [];
  let socket: dgram.Socket | null = null;
  let port = 0;
  async function listen(): Promise<void> {
    const created = dgram.createSocket('udp4');
    created.on('message', (datagram) => {
      chunks.push(datagram);
      messages.push(parseSyslog(datagram));
    });
    await new Promise<void>((resolve) => created.bind(port, '127.0.0.1', resolve));
    port = created.address().port;
    socket = created;
  }
  await listen();
  return {
    get port() {
      return port;
    },
    messages,
    raw: () => Buffer.concat(chunks),
    stop: () => new Promise<void>((resolve) => socket!.close(() => resolve())),
    restart: listen,
  };
}

/** Splits an RFC 6587 octet-counted stream (`LEN SP MSG`…); returns the messages and the unfinished rest. */
function octetFrames(stream: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let at = 0;
  while (at < stream.length) {
    const space = stream.indexOf(0x20, at);
    if (space === -1) break;
    const length = stream.subarray(at, space).toString('ascii');
    assert.match(length, /^[1-9]\d*$/, 'octet count is not a number');
    const end = space + 1 + Number(length);
    if (end > stream.length) break;
    frames.push(stream.subarray(space + 1, end));
    at = end;
  }
  return { frames, rest: stream.subarray(at) };
}

async function tcpReceiver(): Promise<Receiver & { connections: number }> {
  const messages: SyslogMessage[] = [];
  const chunks: Buffer[] = [];
  let server: net.Server | null = null;
  const open = new Set<net.Socket>();
  let port = 0;
  let connections = 0;
  async function listen(): Promise<void> {
    const created = net.createServer((connection) => {
      connections++;
      open.add(connection);
      let pending: Buffer = Buffer.alloc(0);
      connection.on('data', (data: Buffer) => {
        chunks.push(data);
        const { frames, rest } = octetFrames(Buffer.concat([pending, data]));
        pending = rest;
        for (const frame of frames) messages.push(parseSyslog(frame));
      });
      connection.on('close', () => open.delete(connection));
      connection.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => created.listen(port, '127.0.0.1', resolve));
    port = (created.address() as net.AddressInfo).port;
    server = created;
  }
  await listen();
  return {
    get port() {
      return port;
    },
    get connections() {
      return connections;
    },
    messages,
    raw: () => Buffer.concat(chunks),
    async stop() {
      const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
      for (const connection of open) connection.destroy();
      await closed;
    },
    restart: listen,
  };
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function storedEvents(database: Database): Promise<AuditEvent[]> {
  return (await createAuditRepo().after(database.db, 0, 100_000)).map(eventOfRow);
}

/** The last seq the sink's cursor says was delivered. */
async function cursor(database: Database, name: string): Promise<number> {
  const row = await database.db.selectFrom('audit_cursors').select('seq').where('name', '=', name).executeTakeFirst();
  return Number(row?.seq ?? 0);
}

function syslogTarget(transport: 'udp' | 'tcp', port: number): AuditSinkTarget {
  return parseAuditSink(`syslog+${transport}://127.0.0.1:${port}`)!;
}

/** Asserts that a message says what its stored event says, in the form RFC 5424 asks for. */
function assertMessageOf(message: SyslogMessage, event: AuditEvent): void {
  assert.equal(message.pri, SYSLOG_FACILITY * 8 + SEVERITY[event.outcome]);
  assert.equal(message.version, '1');
  assert.match(message.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/);
  assert.equal(message.timestamp, event.at);
  assert.match(message.hostname, /^[\x21-\x7e]{1,255}$/);
  assert.equal(message.app, 'cachet');
  assert.equal(message.procId, String(process.pid));
  assert.equal(message.msgId, event.action.slice(0, 32));
  assert.equal(message.structuredData, '-');
  assert.deepEqual(message.body, event);
  // The body carries everything needed to check the chain.
  assert.equal(eventHash(message.body.prev_hash, hashedContent(message.body)), message.body.hash);
}

function seqs(messages: SyslogMessage[]): number[] {
  return messages.map((m) => m.body.seq);
}

for (const dialect of await dialects()) {
  for (const transport of ['udp', 'tcp'] as const) {
    describe(`audit shipping to syslog over ${transport.toUpperCase()} (${dialect})`, () => {
      let receiver: Receiver;
      let t: TestApp;
      let admin: string;
      let reader: string;
      let target: AuditSinkTarget;

      before(async () => {
        receiver = transport === 'udp' ? await udpReceiver() : await tcpReceiver();
        target = syslogTarget(transport, receiver.port);
        t = await buildTestApp(dialect, { auditSink: target });
        admin = await t.key(['*']);
        reader = await t.key(['components.read']);
      });
      after(async () => {
        await t.close();
        await receiver.stop().catch(() => undefined);
      });

      it('sends every event as an RFC 5424 message whose JSON is the stored event with its hash', async () => {
        assert.equal((await t.request({ url: '/api/v1/components', token: reader })).statusCode, 200);
        assert.equal((await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'API', status: 1 } })).statusCode, 200);
        assert.equal((await t.request({ method: 'POST', url: '/api/v1/components', token: reader, body: { name: 'x', status: 1 } })).statusCode, 403);
        assert.equal((await t.request({ url: '/api/v1/components', token: 'cachet_' + 'x'.repeat(49) })).statusCode, 401);
        const stored = await storedEvents(t.database);
        await waitFor('every event at the receiver', () => receiver.messages.length >= stored.length);
        assert.deepEqual(seqs(receiver.messages), stored.map((e) => e.seq));
        receiver.messages.forEach((message, i) => assertMessageOf(message, stored[i]!));
        assert.ok(stored.some((e) => e.outcome === 'denied'), 'the denials are events too');
        assert.ok(stored.some((e) => e.action === 'components.create' && e.outcome === 'allowed'));
      });

      it('keeps answering requests while the receiver is down, then delivers every event once', async () => {
        const before = (await storedEvents(t.database)).length;
        // Steady state first: a receiver that drops the connection while a batch is being
        // confirmed gets that batch again, which is at-least-once delivery, not this test's subject.
        await waitFor('the earlier events to be confirmed', async () => (await cursor(t.database, target.name)) === before);
        assert.equal(receiver.messages.length, before);
        await receiver.stop();
        for (let i = 0; i < 20; i++) {
          const started = performance.now();
          const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: `while down ${i}`, status: 1 } });
          assert.equal(response.statusCode, 200, response.body);
          assert.ok(performance.now() - started < 1000, 'a request waited for the sink');
          if (i === 0) await new Promise((resolve) => setTimeout(resolve, 300)); // the shipper fails a few times meanwhile
        }
        const stored = await storedEvents(t.database);
        assert.ok(stored.length >= before + 20);
        assert.equal(receiver.messages.length, before, 'nothing can have arrived while the receiver was down');

        await receiver.restart();
        await waitFor('the events written while the receiver was down', () => receiver.messages.length >= stored.length);
        await new Promise((resolve) => setTimeout(resolve, 200)); // time for a duplicate to show up
        assert.deepEqual(seqs(receiver.messages), stored.map((e) => e.seq), 'each event exactly once, in chain order');
        receiver.messages.forEach((message, i) => assertMessageOf(message, stored[i]!));
      });

      it('never sends a token', async () => {
        const stored = await storedEvents(t.database);
        await waitFor('every event', () => receiver.messages.length >= stored.length);
        const raw = receiver.raw();
        for (const token of [admin, reader]) {
          assert.ok(!raw.includes(token), 'a token was shipped');
          assert.ok(!raw.includes(token.slice(12)), 'the secret part of a token was shipped');
        }
      });

      if (transport === 'udp') {
        it(`sends an event too large for a datagram without its changes, marked truncated (at most ${MAX_DATAGRAM_BYTES} bytes)`, async () => {
          const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: 'big', status: 1, description: 'd'.repeat(12_000) } });
          assert.equal(response.statusCode, 200);
          const stored = await storedEvents(t.database);
          const event = stored.at(-1)!;
          assert.equal(event.action, 'components.create');
          await waitFor('the large event', () => receiver.messages.some((m) => m.body.seq === event.seq));
          const message = receiver.messages.find((m) => m.body.seq === event.seq)!;
          assert.ok(message.bytes.length <= MAX_DATAGRAM_BYTES);
          assert.equal(message.body.truncated, true);
          assert.equal(message.body.changes, null);
          assert.deepEqual({ ...message.body, truncated: undefined, changes: event.changes }, { ...event, truncated: undefined });
        });
      } else {
        it('frames messages by octet counting (RFC 6587) and reconnects after the receiver went away', async () => {
          const { frames, rest } = octetFrames(receiver.raw());
          assert.equal(rest.length, 0, 'bytes outside a frame');
          assert.equal(frames.length, receiver.messages.length);
          assert.equal((receiver as Receiver & { connections: number }).connections, 2, 'one connection before the receiver went down, one after');
        });
      }
    });
  }

  describe(`audit shipping to a file (${dialect})`, () => {
    let dir: string;
    let t: TestApp;
    let admin: string;

    before(async () => {
      dir = mkdtempSync('/tmp/ship-file-');
      t = await buildTestApp(dialect, { auditSink: parseAuditSink(`file:${dir}/audit.ndjson`), auditSinkMaxBytes: 4096 });
      admin = await t.key(['*']);
    });
    after(async () => {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('appends NDJSON with mode 0600 and rotates by size, keeping five older files', async () => {
      for (let i = 0; i < 60; i++) {
        const response = await t.request({ method: 'POST', url: '/api/v1/components', token: admin, body: { name: `component ${i}`, status: 1 } });
        assert.equal(response.statusCode, 200);
      }
      const stored = await storedEvents(t.database);
      const file = path.join(dir, 'audit.ndjson');
      const lastLine = () => (existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').at(-1) : undefined);
      await waitFor('the last event in the file', () => lastLine() === JSON.stringify(stored.at(-1)));

      const files = [...Array.from({ length: ROTATED_FILES }, (_, i) => `${file}.${ROTATED_FILES - i}`), file];
      for (const f of files) {
        assert.ok(existsSync(f), `${f} is missing`);
        assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is not 0600`);
        assert.ok(statSync(f).size <= 4096, `${f} is larger than the rotation size`);
      }
      assert.ok(!existsSync(`${file}.${ROTATED_FILES + 1}`), 'more rotated files than kept');
      const lines = files.flatMap((f) => readFileSync(f, 'utf8').trimEnd().split('\n'));
      const shipped = lines.map((line) => JSON.parse(line) as AuditEvent);
      // Oldest files were dropped; the rest is the end of the trail, in order and without gaps.
      assert.ok(shipped[0]!.seq > 1, 'nothing was rotated away');
      assert.deepEqual(shipped, stored.slice(stored.length - shipped.length));
      const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
      assert.ok(!bytes.includes(admin.slice(12)), 'a token was written');
    });
  });

  describe(`audit shipper (${dialect})`, () => {
    let database: Awaited<ReturnType<typeof freshDatabase>>;
    const writer = createAuditWriter({ repo: createAuditRepo(), clock: systemClock, pepper: testConfig().pepper });

    before(async () => {
      database = await freshDatabase(dialect);
    });
    after(() => database.close());

    async function writeEvents(count: number): Promise<void> {
      const entries = Array.from({ length: count }, (_, i) => ({
        context: systemContext('cachet test'),
        fact: { action: 'components.update', resourceType: 'components', resourceId: i, outcome: 'allowed' as const, status: null, reason: null, changes: null },
      }));
      await database.db.transaction().execute((trx) => writer.append(trx, entries));
    }

    it('warns once while the sink is down, says when it is back, and starts a new sink at the first event', async () => {
      await writeEvents(5);
      const receiver = await udpReceiver();
      await receiver.stop();
      const logged: Array<{ level: number; msg: string; sink?: string }> = [];
      const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _enc, done) => (logged.push(JSON.parse(chunk.toString('utf8'))), done()) }));
      const shipper = createAuditShipper({ database, repo: createAuditRepo(), sink: createAuditSink(syslogTarget('udp', receiver.port), { maxBytes: 0 }), logger, clock: systemClock, intervalMs: 10 });
      shipper.start();
      try {
        await new Promise((resolve) => setTimeout(resolve, 600));
        const warnings = logged.filter((l) => l.level === 40);
        assert.equal(warnings.length, 1, 'one warning per 30 s while failing');
        assert.equal(warnings[0]!.sink, `syslog+udp://127.0.0.1:${receiver.port}`);
        await receiver.restart();
        const stored = await storedEvents(database);
        await waitFor('the history', () => receiver.messages.length >= stored.length);
        assert.deepEqual(seqs(receiver.messages), stored.map((e) => e.seq), 'a new sink receives the trail from its first event');
        await waitFor('the recovery note', () => logged.some((l) => l.level === 30 && /available again/.test(l.msg)));
      } finally {
        await shipper.stop();
        await receiver.stop();
      }
    });

    if (dialect === 'postgres') {
      it('ships each event once with two instances on one sink (the cursor row is locked while a batch is sent)', async () => {
        const receiver = await tcpReceiver();
        const target = syslogTarget('tcp', receiver.port);
        const logger = createLogger('silent');
        const shippers = [0, 1].map(() =>
          createAuditShipper({ database, repo: createAuditRepo(), sink: createAuditSink(target, { maxBytes: 0 }), logger, clock: systemClock, intervalMs: 5, batchSize: 7 }),
        );
        for (const shipper of shippers) shipper.start();
        try {
          // More events while one instance has shipped them all so far: which one takes a batch is the scheduler's choice.
          for (let i = 0; i < 30 || (receiver.connections < 2 && i < 300); i++) await writeEvents(10);
          const stored = await storedEvents(database);
          await waitFor('every event', () => receiver.messages.length >= stored.length);
          await new Promise((resolve) => setTimeout(resolve, 200));
          assert.deepEqual(seqs(receiver.messages), stored.map((e) => e.seq), 'each event exactly once, in chain order');
          assert.equal(receiver.connections, 2, 'both instances shipped');
        } finally {
          for (const shipper of shippers) await shipper.stop();
          await receiver.stop();
        }
      });
    }
  });
}

describe('audit sink configuration', () => {
  const base = { CACHET_DATA_DIR: '/nonexistent', CACHET_PEPPER: 'p'.repeat(32) };

  it('reads each sink form and names its cursor by the target', () => {
    assert.equal(loadConfig(base).auditSink, null);
    assert.deepEqual(parseAuditSink('stdout'), { kind: 'stdout', name: 'stdout' });
    assert.deepEqual(parseAuditSink('file:relative/audit.ndjson'), { kind: 'file', name: `file:${path.resolve('relative/audit.ndjson')}`, path: path.resolve('relative/audit.ndjson') });
    assert.deepEqual(parseAuditSink('syslog+udp://logs.example:5514'), { kind: 'syslog', name: 'syslog+udp://logs.example:5514', transport: 'udp', host: 'logs.example', port: 5514 });
    assert.deepEqual(parseAuditSink('syslog+tcp://[::1]'), { kind: 'syslog', name: 'syslog+tcp://[::1]:514', transport: 'tcp', host: '::1', port: 514 });
    assert.equal(loadConfig({ ...base, CACHET_AUDIT_SINK_MAX_BYTES: '65536' }).auditSinkMaxBytes, 65536);
    assert.equal(loadConfig(base).auditSinkMaxBytes, 10 * 1024 * 1024);
  });

  it('refuses bad values with an error naming the setting', () => {
    for (const value of ['syslog://x:514', 'file:', 'syslog+udp://x:70000', 'syslog+tcp://user:pw@x:514', 'syslog+udp://x:514/path', 'stderr', 'http://x']) {
      assert.throws(() => loadConfig({ ...base, CACHET_AUDIT_SINK: value }), (err: unknown) => err instanceof ConfigError && err.message.startsWith('CACHET_AUDIT_SINK'), value);
    }
    for (const value of ['10MB', '100', '-1']) {
      assert.throws(() => loadConfig({ ...base, CACHET_AUDIT_SINK_MAX_BYTES: value }), (err: unknown) => err instanceof ConfigError && err.message.startsWith('CACHET_AUDIT_SINK_MAX_BYTES'), value);
    }
  });

  it('gives a message the severity of its outcome and caps datagrams', () => {
    const event: AuditEvent = {
      seq: 1, id: 'e', at: '2026-11-25T12:00:00.000Z', request_id: null, actor_type: 'key', key_id: 1, key_prefix: 'cachet_abcde', user_id: null,
      ip: '127.0.0.1', user_agent: null, method: 'GET', path: '/api/v1/components', action: 'components.list-with-a-very-long-action-name', resource_type: null,
      resource_id: null, outcome: 'denied', status: 403, reason: 'missing_scope', changes: { description: ['', 'é'.repeat(10_000)] }, prev_hash: '0'.repeat(64), hash: 'f'.repeat(64),
    };
    const full = parseSyslog(syslogMessage(event));
    assert.equal(full.pri, 13 * 8 + 5);
    assert.equal(full.msgId, 'components.list-with-a-very-long');
    assert.deepEqual(full.body, event);
    assert.equal(parseSyslog(syslogMessage({ ...event, outcome: 'failed', changes: null })).pri, 13 * 8 + 4);
    const capped = syslogMessage(event, MAX_DATAGRAM_BYTES);
    assert.ok(capped.length <= MAX_DATAGRAM_BYTES);
    assert.deepEqual(parseSyslog(capped).body, { ...event, changes: null, truncated: true });
  });
});
