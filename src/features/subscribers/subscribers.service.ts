/**
 * Subscriber rules: email normalisation, Cachet's subscribe-or-return-existing, verification, the
 * choice of components, and the response shape.
 */
import { randomBytes } from 'node:crypto';
import type { Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { SubscriberTable } from '../../db/schema.js';
import { created, recordChange, removed, updated } from '../audit/audit.changes.js';
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

/** A fresh `verify_code`: the secret every signed link of a subscriber is bound to. */
function newVerifyCode(): string {
  return randomBytes(32).toString('base64url');
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

  /** Writes `patch` to a subscriber and returns the row as stored. */
  async function updateRow(trx: Executor, id: number, patch: Updateable<SubscriberTable>): Promise<SubscriberRow> {
    return trx.updateTable('subscribers').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  /** Updates a subscriber and records the change (the audit drops `verify_code` and digests the email). */
  async function change(trx: Executor, row: SubscriberRow, patch: Updateable<SubscriberTable>) {
    return updated(trx, 'subscribers', { before: row, after: await updateRow(trx, row.id, patch) });
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
          verify_code: newVerifyCode(),
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

    /** A subscriber by id; undefined when missing. */
    async find(db: Executor, id: number): Promise<SubscriberRow | undefined> {
      return repo.find(db, id);
    },

    /** A subscriber by email (normalised here); undefined when missing or not an address. */
    async findByEmail(db: Executor, email: string): Promise<SubscriberRow | undefined> {
      const normalised = normaliseEmail(email);
      return normalised === null ? undefined : repo.findByEmail(db, normalised);
    },

    /** The component ids a subscriber is subscribed to, in subscription order. */
    async componentsOf(db: Executor, id: number): Promise<number[]> {
      return ((await repo.subscriptionsOf(db, [id])).get(id) ?? []).map((s) => s.component_id);
    },

    /** Marks a subscriber verified (its signed verification link was followed); null when missing. An already verified one is returned unchanged. */
    async verify(trx: Executor, id: number): Promise<SubscriberRow | null> {
      const row = await repo.find(trx, id);
      if (!row) return null;
      if (row.verified_at !== null) return row;
      const at = toStoredTime(clock.now());
      return (await change(trx, row, { verified_at: at, updated_at: at })).after;
    },

    /** Gives a subscriber a new `verify_code`, so that every link made for it before stops working; null when missing. */
    async rotateCode(trx: Executor, id: number): Promise<SubscriberRow | null> {
      const row = await repo.find(trx, id);
      if (!row) return null;
      return (await change(trx, row, { verify_code: newVerifyCode(), updated_at: toStoredTime(clock.now()) })).after;
    },

    /**
     * Sets what a subscriber follows: every component (`'all'`: global, subscribed to each live
     * component, as a new subscriber is by default) or exactly the live components `ids`. Ids that
     * name no live component are refused, changing nothing; null when the subscriber is missing.
     */
    async setComponents(trx: Executor, id: number, ids: 'all' | readonly number[]): Promise<{ ok: true; subscriber: SubscriberRow } | { ok: false; details: string[] } | null> {
      const row = await repo.find(trx, id);
      if (!row) return null;
      if (ids !== 'all' && ids.length > MAX_COMPONENTS) return { ok: false, details: [`The components may not have more than ${MAX_COMPONENTS} items.`] };
      let wanted: number[];
      if (ids === 'all') {
        wanted = await repo.liveComponentIds(trx);
      } else {
        const unique = [...new Set(ids)];
        const live = new Set(await repo.liveComponentIds(trx, unique));
        const unknown = unique.filter((c) => !live.has(c));
        if (unknown.length > 0) return { ok: false, details: [`The selected components are invalid: no component has id ${unknown.join(', ')}.`] };
        wanted = unique;
      }
      const current = (await repo.subscriptionsOf(trx, [id])).get(id) ?? [];
      const before = current.map((s) => s.component_id);
      const keep = new Set(wanted);
      for (const subscription of current) if (!keep.has(subscription.component_id)) await repo.removeSubscription(trx, subscription.id);
      const at = toStoredTime(clock.now());
      await repo.subscribe(trx, id, wanted.filter((c) => !before.includes(c)), at);
      const after = await updateRow(trx, id, { global: ids === 'all' ? 1 : 0, updated_at: at });
      updated(trx, 'subscribers', { before: { ...row, components: before }, after: { ...after, components: wanted } });
      return { ok: true, subscriber: after };
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
