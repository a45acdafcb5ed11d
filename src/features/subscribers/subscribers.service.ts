/** Subscriber rules: email normalisation, Cachet's subscribe-or-return-existing, and the response shape. */
import { randomBytes } from 'node:crypto';
import type { Executor } from '../../db/database.js';
import { created, recordChange, removed } from '../audit/audit.changes.js';
import type { PageRequest } from '../../db/paging.js';
import type { Clock } from '../../infra/clock.js';
import { formatCachetTime, toStoredTime } from '../../infra/time.js';
import type { SubscriberRow, SubscribersRepo, SubscriptionRow } from './subscribers.repo.js';
import { MAX_COMPONENTS, type CreateSubscriberInput, type Subscriber } from './subscribers.schema.js';

// A dot-atom local part and a dotted host name, letters from any script (internationalised addresses).
// Quoted local parts and address literals are refused: nothing a status page mails to needs them.
const LOCAL_PART = /^[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const HOST_LABEL = /^[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]{0,61}[\p{L}\p{M}\p{N}])?$/u;

/**
 * The stored form of an email address, or null when it is not a valid one. Trimmed, NFC-normalised
 * and fully lower-cased, so that `Foo@X.org` and `foo@x.org` are one subscriber and the unique index
 * on `email` enforces that on both dialects without an expression index.
 */
export function normaliseEmail(text: string): string | null {
  const email = text.trim().normalize('NFC').toLowerCase();
  if (email.length > 254) return null;
  const at = email.lastIndexOf('@');
  if (at < 1) return null;
  const local = email.slice(0, at);
  const labels = email.slice(at + 1).split('.');
  if (local.length > 64 || !LOCAL_PART.test(local)) return null;
  return labels.length >= 2 && labels.every((label) => HOST_LABEL.test(label)) ? email : null;
}

/**
 * Component ids from a list or a comma-separated string (`"1, 3"`), deduplicated in order; null when
 * an entry is not an id. An empty result means "none named".
 */
export function parseComponentIds(input: string | readonly number[]): number[] | null {
  const parts = typeof input === 'string' ? input.split(',').map((s) => s.trim()).filter((s) => s !== '') : input.map(String);
  const ids: number[] = [];
  for (const part of parts) {
    if (!/^[0-9]{1,10}$/.test(part)) return null;
    const id = Number(part);
    if (id > 2_147_483_647) return null;
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/** A stored subscriber in Cachet's response shape (without `verify_code`), times in `zone`. */
export function presentSubscriber(row: SubscriberRow, subscriptions: readonly SubscriptionRow[], zone: string): Subscriber {
  return {
    id: row.id,
    email: row.email,
    phone_number: row.phone_number,
    slack_webhook_url: row.slack_webhook_url,
    global: row.global === 1,
    verified_at: formatCachetTime(row.verified_at, zone),
    created_at: formatCachetTime(row.created_at, zone)!,
    updated_at: formatCachetTime(row.updated_at, zone)!,
    subscriptions: subscriptions.map((s) => ({
      id: s.id,
      subscriber_id: s.subscriber_id,
      component_id: s.component_id,
      created_at: formatCachetTime(s.created_at, zone)!,
      updated_at: formatCachetTime(s.updated_at, zone)!,
    })),
  };
}

/** The outcome of a subscribe request: the subscriber (new or existing), or the validation messages. */
export type SubscribeResult = { ok: true; created: boolean; subscriber: SubscriberRow } | { ok: false; details: string[] };

export interface SubscribersServiceDeps {
  repo: SubscribersRepo;
  clock: Clock;
}

/** Creates the subscribers service. */
export function createSubscribersService({ repo, clock }: SubscribersServiceDeps) {
  async function present(db: Executor, rows: SubscriberRow[], zone: string): Promise<Subscriber[]> {
    const subscriptions = await repo.subscriptionsOf(db, rows.map((r) => r.id));
    return rows.map((row) => presentSubscriber(row, subscriptions.get(row.id) ?? [], zone));
  }

  return {
    present,

    /** One page of subscribers with their subscriptions. */
    async list(db: Executor, page: PageRequest, zone: string) {
      const { total, rows } = await repo.list(db, page);
      return { total, items: await present(db, rows, zone) };
    },

    /**
     * Cachet's subscribe: an existing email (compared case-insensitively) is returned unchanged, whatever
     * else the request asks; otherwise the subscriber is created with one subscription per named component,
     * or per live component when none is named (`global`). Named ids that are not live components are refused.
     */
    async subscribe(trx: Executor, input: CreateSubscriberInput): Promise<SubscribeResult> {
      if (input.email.trim() === '') return { ok: false, details: ['The email field is required.'] };
      const email = normaliseEmail(input.email);
      if (email === null) return { ok: false, details: ['The email must be a valid email address.'] };

      const existing = await repo.findByEmail(trx, email);
      if (existing) return { ok: true, created: false, subscriber: existing };

      const named = input.components === undefined ? [] : parseComponentIds(input.components);
      if (named === null) return { ok: false, details: ['The components must be a list of component ids.'] };
      if (named.length > MAX_COMPONENTS) return { ok: false, details: [`The components may not have more than ${MAX_COMPONENTS} items.`] };
      let componentIds: number[];
      if (named.length > 0) {
        const live = new Set(await repo.liveComponentIds(trx, named));
        const unknown = named.filter((id) => !live.has(id));
        if (unknown.length > 0) return { ok: false, details: [`The selected components are invalid: no component has id ${unknown.join(', ')}.`] };
        componentIds = named;
      } else {
        componentIds = await repo.liveComponentIds(trx);
      }

      const at = toStoredTime(clock.now());
      // A concurrent request may create this email after our lookup: the insert then does nothing and the
      // next statement sees the winner (READ COMMITTED on PostgreSQL; SQLite serialises writers). Should the
      // winner be deleted in between as well, the email is free again, so the insert is simply retried.
      for (let attempt = 0; attempt < 3; attempt++) {
        const inserted = await repo.insertIfAbsent(trx, {
          email,
          verify_code: randomBytes(32).toString('base64url'),
          phone_number: null,
          slack_webhook_url: null,
          global: named.length === 0 ? 1 : 0,
          verified_at: input.verify === true ? at : null,
          created_at: at,
          updated_at: at,
        });
        if (inserted) {
          await repo.subscribe(trx, inserted.id, componentIds, at);
          created(trx, 'subscribers', { ...inserted, components: componentIds });
          return { ok: true, created: true, subscriber: inserted };
        }
        const winner = await repo.findByEmail(trx, email);
        if (winner) return { ok: true, created: false, subscriber: winner };
      }
      throw new Error('subscriber email kept conflicting with rows that then disappeared');
    },

    /** Deletes a subscriber and its subscriptions; null when missing. */
    async remove(trx: Executor, id: number): Promise<SubscriberRow | null> {
      const row = await repo.find(trx, id);
      if (!row) return null;
      await repo.remove(trx, id);
      return removed(trx, 'subscribers', row);
    },

    /** Deletes one subscription; null when missing. */
    async removeSubscription(trx: Executor, id: number): Promise<SubscriptionRow | null> {
      const row = await repo.findSubscription(trx, id);
      if (!row) return null;
      await repo.removeSubscription(trx, id);
      recordChange(trx, { resource: 'subscriptions', id, action: 'subscribers.update', before: row, after: null });
      return row;
    },
  };
}

export type SubscribersService = ReturnType<typeof createSubscribersService>;
