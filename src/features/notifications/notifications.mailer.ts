/**
 * Sends rendered mail over SMTP (a few connections of our own: see notifications.smtp.ts for why
 * not nodemailer's pooled transport), or, without `SMTP_URL`, sends nothing: the jobs still
 * complete, and the log says once that mail is off.
 */
import type { MailMessage } from './notifications.mail.js';
import { createSmtpSender } from './notifications.smtp.js';

/** The part of a logger the mailer uses (pino's satisfies it). */
export interface MailerLogger {
  warn(message: string): void;
}

export interface MailerOptions {
  /** `SMTP_URL` (`smtp://` or `smtps://`, nodemailer's URL form); null sends nothing. */
  smtpUrl: string | null;
  /** The From header (`CACHET_MAIL_FROM`). */
  from: string;
  logger: MailerLogger;
}

export interface Mailer {
  /**
   * Sends `message`; rejects when the SMTP server refuses it or cannot be reached (the job is then
   * retried). `accepted` (the job's completion) runs once the message is out and before the
   * server may take it, so a crash cannot send it twice.
   */
  send(message: MailMessage, accepted?: () => Promise<void>): Promise<void>;
  /** Closes the pooled connections. */
  close(): void;
  /** False when no SMTP server is configured: `send` then drops each message. */
  readonly sending: boolean;
}

/** The warning a mailer without SMTP_URL logs, once. */
export const MAIL_OFF_WARNING = 'SMTP_URL is not set: notifications are recorded but not sent';

/**
 * A mailer over `smtpUrl`, or one that sends nothing when it is null.
 *
 * @example
 * const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, logger });
 * await mailer.send(message);
 */
export function createMailer({ smtpUrl, from, logger }: MailerOptions): Mailer {
  if (smtpUrl === null) {
    let warned = false;
    return {
      sending: false,
      async send() {
        if (!warned) logger.warn(MAIL_OFF_WARNING);
        warned = true;
      },
      close() {},
    };
  }
  const smtp = createSmtpSender(smtpUrl, 4);
  return {
    sending: true,
    async send(message, accepted) {
      await smtp.send({ from, to: message.to, subject: message.subject, text: message.text, html: message.html, headers: message.headers, messageId: message.message_id }, accepted);
    },
    close() {
      smtp.close();
    },
  };
}
