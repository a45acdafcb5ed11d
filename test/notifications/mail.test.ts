/**
 * Notification mail through a real SMTP server (smtp-server on 127.0.0.1): both parts, the
 * one-click unsubscribe headers, the Message-ID and escaping; and the mailer without SMTP_URL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { SMTPServer } from 'smtp-server';
import type { NotificationEvent } from '../../src/features/notifications/notifications.events.js';
import { manageLink, unsubscribeLink } from '../../src/features/notifications/notifications.links.js';
import { notificationMail, verificationMail, type MailMessage } from '../../src/features/notifications/notifications.mail.js';
import { createMailer, MAIL_OFF_WARNING } from '../../src/features/notifications/notifications.mailer.js';
import { freePort } from '../helpers/processes.js';

const PEPPER = Buffer.from('mail-test-pepper-mail-test-pepper-012345');
const SITE = { name: 'Acme <Status>', publicUrl: 'https://status.example.com' };
const SUBSCRIBER = { id: 42, email: 'reader@example.org', verify_code: 'code-of-reader' };

const EVENT: NotificationEvent = {
  id: '01936b2e-7c4a-7000-8000-00000000abcd',
  type: 'incident.created',
  at: '2026-11-25T12:00:00.000Z',
  component_id: 3,
  incident: {
    id: 7,
    name: '<b>x</b>',
    status: 1,
    status_name: 'Investigating',
    message: 'Logins fail & <script>alert(1)</script>',
    component_id: 3,
    visible: true,
    occurred_at: '2026-11-25T11:58:00.000Z',
    permalink: 'https://status.example.com/incidents/7',
  },
};

function links() {
  return { manage: manageLink(SITE.publicUrl, PEPPER, SUBSCRIBER), unsubscribe: unsubscribeLink(SITE.publicUrl, PEPPER, SUBSCRIBER) };
}

/** Headers of a raw message (or part), unfolded, by lower-case name. */
function headersOf(raw: string): Map<string, string> {
  const head = raw.split(/\r\n\r\n/)[0]!.replace(/\r\n[ \t]+/g, ' ');
  return new Map(head.split('\r\n').map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
}

/** A part's body, decoded from quoted-printable or base64 as its header says. */
function bodyOf(part: string): string {
  const headers = headersOf(part);
  const body = part.slice(part.indexOf('\r\n\r\n') + 4);
  const encoding = headers.get('content-transfer-encoding')?.toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** The parts of a multipart message by content type. */
function partsOf(raw: string): Map<string, string> {
  const boundary = /boundary="?([^";\r\n]+)"?/.exec(headersOf(raw).get('content-type') ?? '')?.[1];
  assert.ok(boundary, 'no multipart boundary');
  const parts = raw.split(`--${boundary}`).slice(1, -1).map((p) => p.replace(/^\r\n/, ''));
  return new Map(parts.map((p) => [headersOf(p).get('content-type')!.split(';')[0]!.trim(), bodyOf(p)]));
}

describe('notification mail over SMTP', () => {
  it('delivers text and HTML parts, the one-click unsubscribe headers and the Message-ID, with the incident escaped in HTML', async (t) => {
    const received: Array<{ from: string; to: string[]; raw: string }> = [];
    const server = new SMTPServer({
      authOptional: true,
      // No TLS on the loopback test server: nodemailer would otherwise upgrade to it and distrust its certificate.
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'Acme Status <noreply@status.example.com>', logger: { warn: () => assert.fail('no warning expected') } });
    t.after(async () => {
      mailer.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    assert.equal(mailer.sending, true);

    const message: MailMessage = notificationMail(SITE, EVENT, SUBSCRIBER, links());
    // The payload is stored as JSON: what is sent is what was stored.
    await mailer.send(JSON.parse(JSON.stringify(message)) as MailMessage);

    assert.equal(received.length, 1);
    const mail = received[0]!;
    assert.equal(mail.from, 'noreply@status.example.com');
    assert.deepEqual(mail.to, ['reader@example.org']);
    const headers = headersOf(mail.raw);
    assert.equal(headers.get('message-id'), '<01936b2e-7c4a-7000-8000-00000000abcd.42@status.example.com>');
    assert.equal(headers.get('list-unsubscribe'), `<${links().unsubscribe}>`);
    assert.equal(headers.get('list-unsubscribe-post'), 'List-Unsubscribe=One-Click');
    assert.match(headers.get('content-type') ?? '', /^multipart\/alternative;/);
    assert.match(headers.get('from') ?? '', /noreply@status\.example\.com/);

    const parts = partsOf(mail.raw);
    assert.deepEqual([...parts.keys()].sort(), ['text/html', 'text/plain']);
    const text = parts.get('text/plain')!;
    const html = parts.get('text/html')!;
    assert.match(text, /<b>x<\/b>/, 'the text part shows the name as written');
    assert.match(text, /Status: Investigating/);
    assert.ok(text.includes('https://status.example.com/incidents/7'));
    assert.ok(text.includes(links().unsubscribe) && text.includes(links().manage));
    assert.ok(!html.includes('<b>x</b>'), 'the incident name is raw in the HTML part');
    assert.ok(!html.includes('<script>'));
    assert.ok(html.includes('&lt;b&gt;x&lt;/b&gt;'));
    assert.ok(html.includes('Logins fail &amp; &lt;script&gt;'));
    assert.ok(html.includes('Acme &lt;Status&gt;'));
    assert.ok(html.includes(`href="${links().unsubscribe.replaceAll('&', '&amp;')}"`));
    assert.ok(html.includes('href="https://status.example.com/incidents/7"'));
  });
});

describe('notification mail rendering', () => {
  it('gives the same message (and Message-ID) for the same event and subscriber, another for another subscriber', () => {
    const first = notificationMail(SITE, EVENT, SUBSCRIBER, links());
    assert.deepEqual(notificationMail(SITE, EVENT, SUBSCRIBER, links()), first);
    assert.equal(notificationMail(SITE, EVENT, { ...SUBSCRIBER, id: 43 }, links()).message_id, '<01936b2e-7c4a-7000-8000-00000000abcd.43@status.example.com>');
  });

  it('renders every event type with its facts, and keeps a name with a line break on one subject line', () => {
    const schedule = { id: 9, name: 'DB upgrade\r\nBcc: evil@example.com', message: 'Upgrading.', status: 1, status_name: 'In Progress', scheduled_at: '2026-12-01T10:00:00.000Z', completed_at: '2026-12-01T12:00:00.000Z', permalink: 'https://status.example.com/schedules/9' };
    const cases: Array<[NotificationEvent, RegExp, RegExp]> = [
      [{ ...EVENT, type: 'incident.updated', update: { id: 1, status: 2, status_name: 'Identified', message: 'Found it.', created_at: '2026-11-25T12:30:00.000Z' } }, /^\[Acme <Status>\] Update: <b>x<\/b> \(Identified\)$/, /Status: Identified[\s\S]*Found it\./],
      [{ ...EVENT, type: 'schedule.created', incident: undefined, schedule }, /^\[Acme <Status>\] Maintenance scheduled: DB upgrade Bcc: evil@example\.com$/, /Scheduled for: 1 Dec 2026, 10:00 UTC[\s\S]*Until: 1 Dec 2026, 12:00 UTC/],
      [{ ...EVENT, type: 'schedule.started', incident: undefined, schedule }, /Maintenance started/, /schedules\/9/],
      [{ ...EVENT, type: 'schedule.completed', incident: undefined, schedule }, /Maintenance completed/, /Completed: 1 Dec 2026, 12:00 UTC/],
      [
        { ...EVENT, type: 'component.status_changed', incident: undefined, component: { id: 3, name: 'API', status: 4, status_name: 'Major Outage', previous_status: 1, previous_status_name: 'Operational' } },
        /^\[Acme <Status>\] API is now Major Outage$/,
        /Status: Operational → Major Outage/,
      ],
    ];
    for (const [event, subject, text] of cases) {
      const mail = notificationMail(SITE, event, SUBSCRIBER, links());
      assert.match(mail.subject, subject);
      assert.doesNotMatch(mail.subject, /[\r\n]/);
      assert.match(mail.text, text);
      assert.match(mail.text, /Status page: https:\/\/status\.example\.com\//);
      assert.equal(mail.headers['List-Unsubscribe-Post'], 'List-Unsubscribe=One-Click');
    }
  });

  it('writes the verification mail with its link and expiry, without unsubscribe headers', () => {
    const link = 'https://status.example.com/subscribe/verify?id=42&expires=1796212800&sig=' + 'A'.repeat(43);
    const mail = verificationMail(SITE, SUBSCRIBER, link);
    assert.equal(mail.to, 'reader@example.org');
    assert.ok(mail.text.includes(link));
    assert.ok(mail.html.includes(link.replaceAll('&', '&amp;')));
    assert.match(mail.text, /works until/);
    assert.equal(mail.headers['List-Unsubscribe'], undefined);
    assert.match(mail.message_id, /^<verify\.42\.[0-9a-f]{16}@status\.example\.com>$/);
  });
});

describe('mailer without SMTP_URL', () => {
  it('sends nothing, resolves, and says so once in the log', async () => {
    const warnings: string[] = [];
    const mailer = createMailer({ smtpUrl: null, from: 'Cachet <noreply@status.test>', logger: { warn: (message: string) => warnings.push(message) } });
    assert.equal(mailer.sending, false);
    const message = notificationMail(SITE, EVENT, SUBSCRIBER, links());
    await mailer.send(message);
    await mailer.send(message);
    assert.deepEqual(warnings, [MAIL_OFF_WARNING]);
    assert.equal(MAIL_OFF_WARNING, 'SMTP_URL is not set: notifications are recorded but not sent');
    mailer.close();
  });
});

describe('mail settings', () => {
  it('reads SMTP_URL (or SMTP_URL_FILE) and CACHET_MAIL_FROM, defaulting From to noreply at the public URL\'s host', () => {
    const base = { CACHET_PEPPER: 'x'.repeat(40), CACHET_DATA_DIR: '/tmp/mail-config', CACHET_PUBLIC_URL: 'https://status.example.com:8443/status' };
    const plain = loadConfig(base);
    assert.equal(plain.smtpUrl, null);
    assert.equal(plain.mailFrom, 'Cachet <noreply@status.example.com>');
    const set = loadConfig({ ...base, SMTP_URL: 'smtps://user:pass@mail.example.com:465', CACHET_MAIL_FROM: 'Acme Status <status@example.com>' });
    assert.equal(set.smtpUrl, 'smtps://user:pass@mail.example.com:465');
    assert.equal(set.mailFrom, 'Acme Status <status@example.com>');
    const dir = mkdtempSync(path.join(tmpdir(), 'cachet-smtp-'));
    const file = path.join(dir, 'smtp-url');
    writeFileSync(file, 'smtp://mail.example.com:587\n', { mode: 0o600 });
    const fromFile = loadConfig({ ...base, SMTP_URL_FILE: file });
    assert.equal(fromFile.smtpUrl, 'smtp://mail.example.com:587');
    assert.ok(fromFile.secretFiles.includes(file));
    assert.throws(() => loadConfig({ ...base, SMTP_URL: 'http://mail.example.com' }), /SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL/);
    assert.throws(() => loadConfig({ ...base, SMTP_URL: 'smtp://user:secret@' }), (err: Error) => /SMTP_URL/.test(err.message) && !err.message.includes('secret'));
    assert.throws(() => loadConfig({ ...base, CACHET_MAIL_FROM: 'not an address' }), /CACHET_MAIL_FROM/);
  });
});
