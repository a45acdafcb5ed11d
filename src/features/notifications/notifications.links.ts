/**
 * Signed links for subscribers: verify (expires), manage and unsubscribe (no expiry). A link names
 * the subscriber by id and carries an HMAC-SHA-256 under a key derived from the server pepper over
 * its purpose, the id, the expiry and the subscriber's `verify_code`: rotating that code (on
 * unsubscribe, on a re-subscribe) kills every link made before. No link holds the email address.
 *
 * @example
 * const link = manageLink('https://status.example.com', pepper, subscriber);
 * // https://status.example.com/subscriptions/manage?id=7&sig=…
 * const id = await checkManageLink(pepper, request.query, (id) => repo.find(db, id));
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a link is made from: the subscriber's id and its current `verify_code`. */
export interface LinkSubscriber {
  id: number;
  verify_code: string;
}

/** Looks a subscriber up by id (undefined when there is none). */
export type FindLinkSubscriber = (id: number) => Promise<LinkSubscriber | undefined>;

/** How long a verification link is good for by default: 7 days. */
export const VERIFY_LINK_TTL_MS = 7 * 86_400_000;

/** The paths the status page serves the links at. */
export const LINK_PATHS = { verify: '/subscribe/verify', manage: '/subscriptions/manage', unsubscribe: '/unsubscribe' } as const;

type Purpose = keyof typeof LINK_PATHS;

/** The links' own key, so that a signature here can never stand for a digest made elsewhere with the pepper. */
function linkKey(pepper: Buffer): Buffer {
  return createHmac('sha256', pepper).update('cachet subscriber links v1', 'utf8').digest();
}

function signature(pepper: Buffer, purpose: Purpose, id: number, expires: number | null, verifyCode: string): string {
  return createHmac('sha256', linkKey(pepper))
    .update([purpose, String(id), expires === null ? '-' : String(expires), verifyCode].join('\0'), 'utf8')
    .digest('base64url');
}

function link(publicUrl: string, pepper: Buffer, purpose: Purpose, subscriber: LinkSubscriber, expires: number | null): string {
  const query = new URLSearchParams({ id: String(subscriber.id) });
  if (expires !== null) query.set('expires', String(expires));
  query.set('sig', signature(pepper, purpose, subscriber.id, expires, subscriber.verify_code));
  return `${publicUrl}${LINK_PATHS[purpose]}?${query.toString()}`;
}

/** The link that confirms a subscription, good until `expiresAt` (to the second). */
export function verifyLink(publicUrl: string, pepper: Buffer, subscriber: LinkSubscriber, expiresAt: Date = new Date(Date.now() + VERIFY_LINK_TTL_MS)): string {
  return link(publicUrl, pepper, 'verify', subscriber, Math.floor(expiresAt.getTime() / 1000));
}

/** The link to the page where a subscriber chooses its components; good until its `verify_code` changes. */
export function manageLink(publicUrl: string, pepper: Buffer, subscriber: LinkSubscriber): string {
  return link(publicUrl, pepper, 'manage', subscriber, null);
}

/** The unsubscribe link (also the `List-Unsubscribe` target); good until its `verify_code` changes. */
export function unsubscribeLink(publicUrl: string, pepper: Buffer, subscriber: LinkSubscriber): string {
  return link(publicUrl, pepper, 'unsubscribe', subscriber, null);
}

/** One query value as a string; a repeated or missing field is undefined. */
function field(query: unknown, name: string): string | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const value = (query as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

async function check(pepper: Buffer, purpose: Purpose, query: unknown, find: FindLinkSubscriber, now: Date | null): Promise<number | null> {
  const id = field(query, 'id');
  const sig = field(query, 'sig');
  const expiresText = field(query, 'expires');
  if (id === undefined || !/^[1-9][0-9]{0,9}$/.test(id) || Number(id) > 2_147_483_647) return null;
  if (sig === undefined || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return null;
  let expires: number | null = null;
  if (now !== null) {
    if (expiresText === undefined || !/^[0-9]{1,12}$/.test(expiresText)) return null;
    expires = Number(expiresText);
    if (now.getTime() >= expires * 1000) return null;
  } else if (expiresText !== undefined) {
    return null;
  }
  const subscriber = await find(Number(id));
  if (!subscriber) return null;
  const expected = Buffer.from(signature(pepper, purpose, subscriber.id, expires, subscriber.verify_code), 'utf8');
  const given = Buffer.from(sig, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected) ? subscriber.id : null;
}

/** The subscriber id a verification link (the request's query) names, or null when it is forged, expired or outdated. */
export function checkVerifyLink(pepper: Buffer, query: unknown, now: Date, find: FindLinkSubscriber): Promise<number | null> {
  return check(pepper, 'verify', query, find, now);
}

/** The subscriber id a manage link names, or null when it is forged or outdated. */
export function checkManageLink(pepper: Buffer, query: unknown, find: FindLinkSubscriber): Promise<number | null> {
  return check(pepper, 'manage', query, find, null);
}

/** The subscriber id an unsubscribe link names, or null when it is forged or outdated. */
export function checkUnsubscribeLink(pepper: Buffer, query: unknown, find: FindLinkSubscriber): Promise<number | null> {
  return check(pepper, 'unsubscribe', query, find, null);
}
