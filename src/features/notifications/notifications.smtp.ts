/**
 * SMTP delivery that gives a crash no mail to send twice. A message is sent on a connection of
 * our own (nodemailer's SMTPConnection; a few, each carrying one message at a time), as a stream:
 * the whole message goes out, then `accepted()` records it as sent (the job's completion), and
 * only then the final `.` that makes the server take it. A process that dies before that write
 * leaves the server holding an unfinished DATA, which it discards (the job runs again); one that
 * dies after it has recorded the message as sent. What is left is a window of a few microtasks
 * between the record and the `.`, where a crash loses the mail instead of doubling it.
 * (A pooled transport answers only after the server accepted, so a crash before the record sends
 * it twice; that window is the event loop's latency, milliseconds under load.)
 */
import { PassThrough } from 'node:stream';
import MailComposer from 'nodemailer/lib/mail-composer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SmtpMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
  messageId: string;
}

interface Lane {
  connection: SMTPConnection | null;
  /** The message this lane is sending (one at a time). */
  tail: Promise<void>;
}

/** Resolves once `body` has been read to its last byte by the connection (after the server's 354), or when `stop()` says so. */
function drained(body: PassThrough, stopped: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (stopped() || (body.readableFlowing === true && body.readableLength === 0 && body.writableLength === 0)) return resolve();
      setImmediate(check);
    };
    check();
  });
}

export function createSmtpSender(smtpUrl: string, lanes = 4) {
  const options = parseConnectionUrl(smtpUrl);
  const pool: Lane[] = Array.from({ length: lanes }, () => ({ connection: null, tail: Promise.resolve() }));
  let next = 0;

  async function open(lane: Lane): Promise<SMTPConnection> {
    const connection = new SMTPConnection({ host: options.host, port: options.port, secure: options.secure, ...(options.tls ? { tls: options.tls } : {}) });
    await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => {
        connection.removeListener('error', reject);
        resolve();
      });
    });
    // A dropped connection is opened again for the lane's next message.
    const drop = () => {
      if (lane.connection === connection) lane.connection = null;
    };
    connection.on('error', drop);
    connection.on('end', drop);
    if (options.auth) {
      await new Promise<void>((resolve, reject) => connection.login({ user: options.auth!.user, pass: options.auth!.pass }, (err) => (err ? reject(err) : resolve())));
    }
    return connection;
  }

  async function sendOn(lane: Lane, message: SmtpMessage, accepted: () => Promise<void>): Promise<void> {
    const composed = new MailComposer({ ...message, messageId: message.messageId }).compile();
    const raw = await composed.build();
    const envelope = composed.getEnvelope();
    lane.connection ??= await open(lane);
    const connection = lane.connection;
    const body = new PassThrough({ highWaterMark: raw.length + 1024 });
    let failed = false;
    const sent = new Promise<void>((resolve, reject) =>
      connection.send({ from: envelope.from || '', to: envelope.to }, body, (err) => {
        failed = err !== null && err !== undefined;
        return err ? reject(err) : resolve();
      }),
    );
    // Observed through `failed`; awaited below.
    sent.catch(() => undefined);
    body.write(raw);
    try {
      await drained(body, () => failed);
      // Refused before its end (a recipient, the size): nothing was taken, nothing is recorded.
      if (failed) return await sent;
      // Not recorded (it throws): the server must not take it; closing discards the unfinished DATA.
      await accepted();
      body.end();
      await sent;
    } catch (err) {
      // A connection left mid-transaction is not reused: the lane opens a fresh one.
      connection.close();
      if (lane.connection === connection) lane.connection = null;
      throw err;
    }
  }

  return {
    /** Sends `message`; `accepted` runs when the whole message is out and before the server may take it. */
    send(message: SmtpMessage, accepted: () => Promise<void> = async () => undefined): Promise<void> {
      const lane = pool[next++ % pool.length]!;
      const run = lane.tail.then(() => sendOn(lane, message, accepted));
      lane.tail = run.catch(() => undefined);
      return run;
    },
    close(): void {
      for (const lane of pool) {
        lane.connection?.quit();
        lane.connection = null;
      }
    },
  };
}
