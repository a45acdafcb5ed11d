/**
 * The mail subscribers receive, rendered as plain text and HTML: the verification mail and one
 * notification per event. Pure functions: a message is rendered once, stored as a `mail` job's
 * payload and sent as it is, so a retry sends the same message (the same Message-ID) again.
 */
import { createHash } from 'node:crypto';
import type { NotificationEvent } from './notifications.events.js';

/** One mail as the worker sends it; JSON-serialisable (it is a job's payload). */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Extra headers (`List-Unsubscribe`, …); From, To, Subject and Message-ID are set by the mailer. */
  headers: Record<string, string>;
  /** `<…@host>`, the same for every attempt at this message. */
  message_id: string;
}

/** The deployment a mail speaks for. */
export interface MailSite {
  /** The status page's name (the settings'). */
  name: string;
  /** `CACHET_PUBLIC_URL`, without a trailing slash. */
  publicUrl: string;
}

/** The recipient: a subscriber's id (for the Message-ID) and address. */
export interface MailSubscriber {
  id: number;
  email: string;
}

/** The signed links every notification ends with. */
export interface MailLinks {
  manage: string;
  unsubscribe: string;
}

/** What a mail says, before it is written out as text and as HTML. */
interface Content {
  subject: string;
  heading: string;
  /** Label → value lines under the heading. */
  facts: Array<[string, string]>;
  /** Free text (an incident's or update's message), shown as written. */
  message: string;
  /** The main link (the incident's or schedule's page) and its label. */
  action: { label: string; href: string } | null;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A header value on one line: a line break in a name would start a header of its own. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** The host a Message-ID is qualified with: the public URL's. */
function hostOf(publicUrl: string): string {
  return new URL(publicUrl).hostname;
}

/** Only http(s) links become anchors; anything else stays text. */
function isWebLink(href: string): boolean {
  return /^https?:\/\//i.test(href);
}

const DATE = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** An ISO 8601 time as mail shows it (UTC, the same in every client); the input unchanged when it is not a time. */
export function mailTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${DATE.format(date)} UTC`;
}

/** What an event says, by type. */
function describe(site: MailSite, event: NotificationEvent): Content {
  const prefix = `[${site.name}] `;
  const { incident, update, schedule, component } = event;
  switch (event.type) {
    case 'incident.created':
      return {
        subject: `${prefix}Incident: ${incident?.name ?? 'new incident'} (${incident?.status_name ?? 'reported'})`,
        heading: incident?.name ?? 'New incident',
        facts: [
          ['Status', incident?.status_name ?? ''],
          ['Reported', mailTime(incident?.occurred_at ?? event.at)],
        ],
        message: incident?.message ?? '',
        action: incident ? { label: 'View the incident', href: incident.permalink } : null,
      };
    case 'incident.updated':
      return {
        subject: `${prefix}Update: ${incident?.name ?? 'incident'} (${update?.status_name ?? incident?.status_name ?? 'updated'})`,
        heading: incident?.name ?? 'Incident update',
        facts: [
          ['Status', update?.status_name ?? incident?.status_name ?? ''],
          ['Updated', mailTime(update?.created_at ?? event.at)],
        ],
        message: update?.message ?? incident?.message ?? '',
        action: incident ? { label: 'View the incident', href: incident.permalink } : null,
      };
    case 'schedule.created':
    case 'schedule.started':
    case 'schedule.completed': {
      const verb = event.type === 'schedule.created' ? 'scheduled' : event.type === 'schedule.started' ? 'started' : 'completed';
      const facts: Array<[string, string]> = [['Status', schedule?.status_name ?? verb]];
      facts.push(['Scheduled for', mailTime(schedule?.scheduled_at ?? event.at)]);
      if (event.type === 'schedule.started') facts.push(['Started', mailTime(event.at)]);
      if (schedule?.completed_at) facts.push([event.type === 'schedule.completed' ? 'Completed' : 'Until', mailTime(schedule.completed_at)]);
      else if (event.type === 'schedule.completed') facts.push(['Completed', mailTime(event.at)]);
      return {
        subject: `${prefix}Maintenance ${verb}: ${schedule?.name ?? 'maintenance'}`,
        heading: schedule?.name ?? 'Maintenance',
        facts,
        message: schedule?.message ?? '',
        action: schedule ? { label: 'View the maintenance', href: schedule.permalink } : null,
      };
    }
    case 'component.status_changed':
      return {
        subject: `${prefix}${component?.name ?? 'A component'} is now ${component?.status_name ?? 'changed'}`,
        heading: component?.name ?? 'Component status',
        facts: [
          ['Status', `${component?.previous_status_name ?? '?'} → ${component?.status_name ?? '?'}`],
          ['Changed', mailTime(event.at)],
        ],
        message: '',
        action: null,
      };
    default:
      throw new Error(`no mail for events of type ${String(event.type)}`);
  }
}

function renderText(site: MailSite, content: Content, footer: string[]): string {
  const lines = [content.heading, '', ...content.facts.map(([label, value]) => `${label}: ${value}`)];
  if (content.message.trim() !== '') lines.push('', content.message.trim());
  lines.push('');
  if (content.action) lines.push(`${content.action.label}: ${content.action.href}`);
  lines.push(`Status page: ${site.publicUrl}/`, '', '-- ', ...footer);
  return lines.join('\n') + '\n';
}

const STYLE = {
  body: 'margin:0;padding:0;background:#f6f8fa;',
  box: 'max-width:560px;margin:0 auto;padding:24px;font:15px/1.5 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#ffffff;',
  site: 'margin:0 0 16px;font-size:13px;color:#57606a;',
  heading: 'margin:0 0 12px;font-size:20px;line-height:1.3;',
  facts: 'margin:0 0 16px;padding:0;list-style:none;',
  message: 'margin:0 0 16px;white-space:pre-wrap;overflow-wrap:anywhere;',
  button: 'display:inline-block;padding:8px 16px;border-radius:6px;background:#0550ae;color:#ffffff;text-decoration:none;font-weight:600;',
  link: 'color:#0550ae;',
  footer: 'margin:24px 0 0;padding-top:12px;border-top:1px solid #d0d7de;font-size:12px;color:#57606a;',
};

/** An anchor for `href` (escaped), or the text alone when `href` is not a web link. */
function anchor(href: string, label: string, style = STYLE.link): string {
  return isWebLink(href) ? `<a href="${escapeHtml(href)}" style="${style}">${escapeHtml(label)}</a>` : escapeHtml(label);
}

function renderHtml(site: MailSite, content: Content, footerHtml: string): string {
  const facts = content.facts.map(([label, value]) => `<li><strong>${escapeHtml(label)}:</strong> ${escapeHtml(value)}</li>`).join('');
  const message = content.message.trim() === '' ? '' : `<p style="${STYLE.message}">${escapeHtml(content.message.trim())}</p>`;
  const action = content.action ? `<p style="margin:0 0 16px;">${anchor(content.action.href, content.action.label, STYLE.button)}</p>` : '';
  return [
    '<!doctype html>',
    `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(content.subject)}</title></head>`,
    `<body style="${STYLE.body}"><div style="${STYLE.box}">`,
    `<p style="${STYLE.site}">${anchor(`${site.publicUrl}/`, site.name, STYLE.link)}</p>`,
    `<h1 style="${STYLE.heading}">${escapeHtml(content.heading)}</h1>`,
    facts === '' ? '' : `<ul style="${STYLE.facts}">${facts}</ul>`,
    message,
    action,
    `<p style="margin:0;">${anchor(`${site.publicUrl}/`, 'Status page')}</p>`,
    `<p style="${STYLE.footer}">${footerHtml}</p>`,
    '</div></body></html>',
    '',
  ].join('\n');
}

/**
 * The mail that asks a new subscriber to confirm: the verification `link` (signed, expiring; its
 * `expires` is shown). Its Message-ID follows from the link, so a re-sent verification is a new message.
 */
export function verificationMail(site: MailSite, subscriber: MailSubscriber, link: string): MailMessage {
  const expires = Number(new URL(link).searchParams.get('expires'));
  const until = Number.isFinite(expires) && expires > 0 ? mailTime(new Date(expires * 1000).toISOString()) : null;
  const content: Content = {
    subject: oneLine(`Confirm your subscription to ${site.name} status updates`),
    heading: 'Confirm your subscription',
    facts: [],
    message: `Someone, hopefully you, asked for status updates from ${site.name} to be sent to this address. Confirm to start receiving them${until ? ` (the link works until ${until})` : ''}.`,
    action: { label: 'Confirm my subscription', href: link },
  };
  const ignore = 'If you did not ask for this, ignore this mail: nothing more will be sent.';
  const digest = createHash('sha256').update(link, 'utf8').digest('hex').slice(0, 16);
  return {
    to: subscriber.email,
    subject: content.subject,
    text: renderText(site, content, [ignore]),
    html: renderHtml(site, content, escapeHtml(ignore)),
    headers: { 'Auto-Submitted': 'auto-generated' },
    message_id: `<verify.${subscriber.id}.${digest}@${hostOf(site.publicUrl)}>`,
  };
}

/**
 * The mail that tells `subscriber` of `event`, ending with its manage and unsubscribe links, with
 * the one-click unsubscribe headers of RFC 8058 and the Message-ID `<event-id.subscriber-id@host>`.
 */
export function notificationMail(site: MailSite, event: NotificationEvent, subscriber: MailSubscriber, links: MailLinks): MailMessage {
  const content = describe(site, event);
  content.subject = oneLine(content.subject);
  const why = `You receive this because you subscribed to status updates from ${site.name}.`;
  const footerText = [why, `Manage your subscription: ${links.manage}`, `Unsubscribe: ${links.unsubscribe}`];
  const footerHtml = `${escapeHtml(why)}<br>${anchor(links.manage, 'Manage your subscription')} · ${anchor(links.unsubscribe, 'Unsubscribe')}`;
  return {
    to: subscriber.email,
    subject: content.subject,
    text: renderText(site, content, footerText),
    html: renderHtml(site, content, footerHtml),
    headers: {
      'List-Unsubscribe': `<${links.unsubscribe}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'Auto-Submitted': 'auto-generated',
    },
    message_id: `<${event.id}.${subscriber.id}@${hostOf(site.publicUrl)}>`,
  };
}
