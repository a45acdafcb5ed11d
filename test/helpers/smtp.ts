/** A real SMTP server on loopback (the `smtp-server` package) that keeps every message it accepts, for notification tests. */
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The envelope recipient. */
  to: string;
  raw: string;
  /** Header name (lower case) → value, folded lines joined. */
  headers: Map<string, string>;
  messageId: string;
  subject: string;
}

export interface SmtpSink {
  url: string;
  port: number;
  mails: ReceivedMail[];
  /** Resolves once at least `count` mails arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/** The header block of a raw message, unfolded. */
export function headersOf(raw: string): Map<string, string> {
  const block = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const headers = new Map<string, string>();
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** Starts the server on `port` (0: any free port); recipients matching `refuse` are refused at RCPT TO. */
export async function startSmtp(port = 0, options: { refuse?: RegExp } = {}): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    // Many messages arrive at once in the load tests.
    maxClients: 100,
    onRcptTo(address, _session, callback) {
      if (options.refuse?.test(address.address)) return callback(new Error('550 no such user'));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const headers = headersOf(raw);
        for (const recipient of session.envelope.rcptTo) {
          mails.push({ to: recipient.address, raw, headers, messageId: headers.get('message-id') ?? '', subject: headers.get('subject') ?? '' });
        }
        callback();
      });
    },
  });
  // A client that dies mid-session (a server process killed on purpose) resets its connection: expected here.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const address = server.server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `smtp://127.0.0.1:${actual}`,
    port: actual,
    mails,
    async waitFor(count, timeoutMs = 30_000) {
      const started = Date.now();
      while (mails.length < count) {
        if (Date.now() - started > timeoutMs) throw new Error(`expected ${count} mails, got ${mails.length} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return mails;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
