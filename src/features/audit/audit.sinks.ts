/**
 * Where the audit trail goes besides the database (`CACHET_AUDIT_SINK`): stdout, an appended and
 * rotated file, or syslog (RFC 5424) over UDP or TCP. Each sink takes events in chain order and
 * either delivers all of them or rejects, so the shipper sends them again.
 */
import { sharedStdout, type LineWriter } from '../../logger.js';
import { lookup } from 'node:dns/promises';
import dgram from 'node:dgram';
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import type { AuditSinkTarget } from '../../config.js';
import type { AuditEvent } from './audit.types.js';

/** A destination for events, in chain order. */
export interface AuditSink {
  /** Names the sink's row in `audit_cursors` (the configured target). */
  name: string;
  /** Delivers `events` in order; rejects when any of them may not have arrived, so they are sent again. */
  send(events: AuditEvent[]): Promise<void>;
  /** Releases the sink's file or socket. */
  close(): Promise<void>;
}

/** An event's NDJSON line (without the newline): the exported form, so anyone can recompute its hash. */
export function eventLine(event: AuditEvent): string {
  return JSON.stringify(event);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One line per event on `out`: by default the standard output the logger writes to, through the
 * same writer, so events and log lines stay whole lines. Written in one chunk per batch.
 */
export function createStreamSink(name: string, out: LineWriter = sharedStdout()): AuditSink {
  return {
    name,
    send(events) {
      if (events.length === 0) return Promise.resolve();
      try {
        out.write(events.map((event) => eventLine(event) + '\n').join(''));
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
    close: () => Promise.resolve(),
  };
}

/** How many rotated files the file sink keeps: PATH.1 (newest) … PATH.5. */
export const ROTATED_FILES = 5;

/**
 * Appends one line per event to `file` (created with mode 0600, its folder 0700). Before a line
 * would take the file past `maxBytes`, the file becomes PATH.1, PATH.1 becomes PATH.2 and so on;
 * PATH.5 is overwritten. A line longer than `maxBytes` is written to a file of its own.
 */
export function createFileSink(name: string, file: string, maxBytes: number): AuditSink {
  let handle: FileHandle | null = null;
  let size = 0;

  async function openFile(): Promise<FileHandle> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const opened = await open(file, 'a', 0o600);
    size = (await opened.stat()).size;
    handle = opened;
    return opened;
  }

  async function closeFile(): Promise<void> {
    const current = handle;
    handle = null;
    await current?.close();
  }

  async function rotate(): Promise<void> {
    await closeFile();
    for (let i = ROTATED_FILES - 1; i >= 1; i--) {
      await rename(`${file}.${i}`, `${file}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    await rename(file, `${file}.1`);
  }

  return {
    name,
    async send(events) {
      try {
        let current = handle ?? (await openFile());
        let chunk = '';
        let chunkBytes = 0;
        for (const event of events) {
          const line = eventLine(event) + '\n';
          const bytes = Buffer.byteLength(line);
          if (size + chunkBytes + bytes > maxBytes && size + chunkBytes > 0) {
            if (chunkBytes > 0) await current.appendFile(chunk);
            chunk = '';
            chunkBytes = 0;
            await rotate();
            current = await openFile();
          }
          chunk += line;
          chunkBytes += bytes;
        }
        if (chunkBytes > 0) await current.appendFile(chunk);
        size += chunkBytes;
      } catch (err) {
        // Reopened on the next attempt: the file may have been moved or its disk freed meanwhile.
        await closeFile().catch(() => undefined);
        throw err;
      }
    },
    close: closeFile,
  };
}

/** Syslog facility of every message: 13, "log audit" (RFC 5424 §6.2.1). */
export const SYSLOG_FACILITY = 13;

/** Severity by outcome: informational for allowed, notice for denied, warning for failed. */
const SEVERITY: Record<AuditEvent['outcome'], number> = { allowed: 6, denied: 5, failed: 4 };

/** Largest UDP datagram sent; a longer message is sent without its `changes`, marked `truncated`. */
export const MAX_DATAGRAM_BYTES = 8192;

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Printable US-ASCII only (RFC 5424 PRINTUSASCII), at most `max` characters; `-` when nothing is left. */
function printable(text: string, max: number): string {
  const kept = text.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return kept === '' ? '-' : kept;
}

const HOSTNAME = printable(hostname(), 255);

/**
 * An event as an RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME cachet PROCID MSGID - BOM MSG`,
 * where MSGID is the action and MSG the event's JSON in UTF-8. With `maxBytes`, a longer message
 * is built again without `changes` and with `"truncated": true`.
 */
export function syslogMessage(event: AuditEvent, maxBytes = Infinity): Buffer {
  const header = `<${SYSLOG_FACILITY * 8 + SEVERITY[event.outcome]}>1 ${event.at} ${HOSTNAME} cachet ${process.pid} ${printable(event.action, 32)} - `;
  const build = (body: object) => Buffer.concat([Buffer.from(header, 'ascii'), BOM, Buffer.from(JSON.stringify(body), 'utf8')]);
  const message = build(event);
  return message.length <= maxBytes ? message : build({ ...event, changes: null, truncated: true });
}

/** How long a sink waits after a batch for the network to report it undelivered (ms). */
const SETTLE_MS = 20;

/**
 * Syslog over UDP, one datagram per event. The socket is connected, so the ICMP "port
 * unreachable" of a receiver that is down comes back as ECONNREFUSED: the sink waits briefly after
 * each batch for it and rejects, so the batch is sent again. UDP gives no other acknowledgement.
 */
export function createUdpSyslogSink(name: string, host: string, port: number): AuditSink {
  let socket: dgram.Socket | null = null;
  let failure: Error | null = null;

  async function connect(): Promise<dgram.Socket> {
    const { address, family } = await lookup(host);
    const created = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    created.on('error', (err) => {
      if (socket === created) failure ??= err;
    });
    await new Promise<void>((resolve, reject) => {
      created.once('error', reject);
      created.connect(port, address, () => {
        created.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      created.close();
      throw err;
    });
    socket = created;
    failure = null;
    return created;
  }

  function drop(): void {
    const current = socket;
    socket = null;
    failure = null;
    try {
      current?.close();
    } catch {
      // already closed
    }
  }

  return {
    name,
    async send(events) {
      const current = socket ?? (await connect());
      try {
        for (const event of events) {
          const message = syslogMessage(event, MAX_DATAGRAM_BYTES);
          await new Promise<void>((resolve, reject) => current.send(message, (err) => (err ? reject(err) : resolve())));
          if (failure) throw failure;
        }
        await pause(SETTLE_MS);
        if (failure) throw failure;
      } catch (err) {
        // A fresh socket next time: an error still in flight must not fail a later batch.
        drop();
        throw err;
      }
    },
    close() {
      drop();
      return Promise.resolve();
    },
  };
}

/** How long a TCP sink waits to connect, and for a batch to be taken by the kernel (ms). */
const CONNECT_TIMEOUT_MS = 3000;
const WRITE_TIMEOUT_MS = 10_000;

/**
 * Syslog over TCP with octet counting (RFC 6587 §3.4.1: `LEN SP MSG`). One connection, opened on
 * the first batch and again after any error or after the receiver closes it. After each batch the
 * sink waits briefly for a reset, so a receiver that went away fails the batch instead of losing it.
 */
export function createTcpSyslogSink(name: string, host: string, port: number): AuditSink {
  let socket: net.Socket | null = null;
  let connecting: net.Socket | null = null;
  let failure: Error | null = null;

  function connect(): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const created = net.connect({ host, port });
      connecting = created;
      const timer = setTimeout(() => created.destroy(new Error(`connecting to ${host}:${port} timed out`)), CONNECT_TIMEOUT_MS);
      created.once('error', (err) => {
        clearTimeout(timer);
        connecting = null;
        reject(err);
      });
      created.once('connect', () => {
        clearTimeout(timer);
        connecting = null;
        created.removeAllListeners('error');
        created.on('error', (err) => {
          if (socket === created) failure ??= err;
        });
        created.on('close', () => {
          if (socket === created) failure ??= new Error(`syslog receiver ${host}:${port} closed the connection`);
        });
        // A receiver says nothing; its data is discarded, and its end of the stream ends ours.
        created.on('data', () => undefined);
        created.on('end', () => created.destroy());
        created.setKeepAlive(true, 30_000);
        created.setNoDelay(true);
        socket = created;
        failure = null;
        resolve(created);
      });
    });
  }

  function drop(): void {
    const current = socket;
    socket = null;
    failure = null;
    current?.destroy();
  }

  return {
    name,
    async send(events) {
      if (socket && failure) drop();
      const current = socket ?? (await connect());
      try {
        const frames = events.map((event) => {
          const message = syslogMessage(event);
          return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
        });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => current.destroy(new Error(`syslog receiver ${host}:${port} took no data for ${WRITE_TIMEOUT_MS} ms`)), WRITE_TIMEOUT_MS);
          current.write(Buffer.concat(frames), (err) => {
            clearTimeout(timer);
            if (err) reject(err);
            else resolve();
          });
        });
        await pause(SETTLE_MS);
        if (failure || current.destroyed) throw failure ?? new Error(`syslog connection to ${host}:${port} closed`);
      } catch (err) {
        drop();
        throw err;
      }
    },
    async close() {
      connecting?.destroy(new Error('audit sink closed'));
      const current = socket;
      socket = null;
      if (!current || current.destroyed) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => current.destroy(), 1000);
        current.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        current.end();
      });
    },
  };
}

/** The sink `target` names; `maxBytes` is the file sink's rotation size. */
export function createAuditSink(target: AuditSinkTarget, options: { maxBytes: number; out?: LineWriter }): AuditSink {
  switch (target.kind) {
    case 'stdout':
      return createStreamSink(target.name, options.out);
    case 'file':
      return createFileSink(target.name, target.path, options.maxBytes);
    case 'syslog':
      return target.transport === 'udp' ? createUdpSyslogSink(target.name, target.host, target.port) : createTcpSyslogSink(target.name, target.host, target.port);
  }
}
