/**
 * The SMTP sender's promise: `accepted` (a job's completion) runs after the whole message is out
 * and before the server takes it; if recording fails, the server never takes the message.
 * Against a real SMTP server (the `smtp-server` package on loopback).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSmtpSender } from '../../src/features/notifications/notifications.smtp.js';
import { startSmtp, type SmtpSink } from '../helpers/smtp.js';

describe('SMTP sender', () => {
  let smtp: SmtpSink;
  let sender: ReturnType<typeof createSmtpSender>;
  const message = (to: string) => ({ from: 'Status <noreply@status.test>', to, subject: 'Hello', text: 'text part', html: '<p>html part</p>', headers: { 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' }, messageId: `<${to}@status.test>` });

  before(async () => {
    smtp = await startSmtp();
    sender = createSmtpSender(smtp.url, 2);
  });
  after(async () => {
    sender.close();
    await smtp.close();
  });

  it('records the mail as sent before the server has it, and the server has it once the send resolves', async () => {
    let seenAtRecord = -1;
    await sender.send(message('one@example.org'), async () => {
      // The whole message is out, but the final `.` is not: the server has not taken it yet.
      await new Promise((resolve) => setTimeout(resolve, 50));
      seenAtRecord = smtp.mails.length;
    });
    assert.equal(seenAtRecord, 0);
    assert.equal(smtp.mails.length, 1);
    const mail = smtp.mails[0]!;
    assert.equal(mail.to, 'one@example.org');
    assert.equal(mail.messageId, '<one@example.org@status.test>');
    assert.match(mail.raw, /text part/);
    assert.match(mail.raw, /html part/);
    assert.equal(mail.headers.get('list-unsubscribe-post'), 'List-Unsubscribe=One-Click');
  });

  it('never delivers a message whose record failed, and sends the next ones on a new connection', async () => {
    smtp.mails.length = 0;
    await assert.rejects(sender.send(message('lost@example.org'), async () => Promise.reject(new Error('the database is down'))), /the database is down/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(smtp.mails.length, 0, 'the unfinished message was discarded by the server');
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => sender.send(message(`${n}@example.org`))));
    assert.deepEqual(smtp.mails.map((m) => m.to).sort(), ['a@example.org', 'b@example.org', 'c@example.org', 'd@example.org', 'e@example.org']);
  });

  it('rejects a recipient the server refuses, without recording it', async () => {
    let recorded = false;
    const refusing = await startSmtp(0, { refuse: /@refused\.example$/ });
    const other = createSmtpSender(refusing.url, 1);
    try {
      await assert.rejects(other.send(message('x@refused.example'), async () => { recorded = true; }));
      assert.equal(recorded, false);
      await other.send(message('fine@example.org'));
      assert.deepEqual(refusing.mails.map((m) => m.to), ['fine@example.org']);
    } finally {
      other.close();
      await refusing.close();
    }
  });
});
