/** Storage of subscribers and their per-component subscriptions. Deletes are hard deletes, as in Cachet. */
import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { SubscriberTable, SubscriptionTable } from '../../db/schema.js';

export type SubscriberRow = Selectable<SubscriberTable>;
export type SubscriptionRow = Selectable<SubscriptionTable>;

/** Creates the subscribers repository. */
export function createSubscribersRepo() {
  return {
    /** One page of subscribers. */
    async list(db: Executor, page: PageRequest) {
      return fetchPage(db.selectFrom('subscribers').selectAll('subscribers'), 'subscribers', page);
    },

    /** A subscriber by id. */
    async find(db: Executor, id: number): Promise<SubscriberRow | undefined> {
      return db.selectFrom('subscribers').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /** A subscriber by its stored (already normalised) email. */
    async findByEmail(db: Executor, email: string): Promise<SubscriberRow | undefined> {
      return db.selectFrom('subscribers').selectAll().where('email', '=', email).executeTakeFirst();
    },

    /**
     * Inserts a subscriber unless its email is taken; undefined when it was. ON CONFLICT rather than a
     * caught error because a failed statement aborts the whole PostgreSQL transaction.
     */
    async insertIfAbsent(db: Executor, row: Insertable<SubscriberTable>): Promise<SubscriberRow | undefined> {
      return db
        .insertInto('subscribers')
        .values(row)
        .onConflict((oc) => oc.column('email').doNothing())
        .returningAll()
        .executeTakeFirst();
    },

    /** Deletes a subscriber's subscriptions, then the subscriber. */
    async remove(db: Executor, id: number): Promise<void> {
      await db.deleteFrom('subscriptions').where('subscriber_id', '=', id).execute();
      await db.deleteFrom('subscribers').where('id', '=', id).execute();
    },

    /** Subscribes a subscriber to each component once. */
    async subscribe(db: Executor, subscriberId: number, componentIds: readonly number[], at: string): Promise<void> {
      if (componentIds.length === 0) return;
      await db
        .insertInto('subscriptions')
        .values(componentIds.map((componentId) => ({ subscriber_id: subscriberId, component_id: componentId, created_at: at, updated_at: at })))
        .onConflict((oc) => oc.columns(['subscriber_id', 'component_id']).doNothing())
        .execute();
    },

    /** Subscriptions of each subscriber, oldest first. */
    async subscriptionsOf(db: Executor, subscriberIds: readonly number[]): Promise<Map<number, SubscriptionRow[]>> {
      const out = new Map<number, SubscriptionRow[]>();
      if (subscriberIds.length === 0) return out;
      const rows = await db.selectFrom('subscriptions').selectAll().where('subscriber_id', 'in', subscriberIds).orderBy('id').execute();
      for (const row of rows) {
        const list = out.get(row.subscriber_id) ?? [];
        list.push(row);
        out.set(row.subscriber_id, list);
      }
      return out;
    },

    /** A subscription by id. */
    async findSubscription(db: Executor, id: number): Promise<SubscriptionRow | undefined> {
      return db.selectFrom('subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /** Deletes one subscription. */
    async removeSubscription(db: Executor, id: number): Promise<void> {
      await db.deleteFrom('subscriptions').where('id', '=', id).execute();
    },

    /**
     * Ids of live (not soft-deleted) components, all of them or those among `ids`. Read here rather than
     * through the components slice because only the ids are needed, not the presented components.
     */
    async liveComponentIds(db: Executor, ids?: readonly number[]): Promise<number[]> {
      if (ids !== undefined && ids.length === 0) return [];
      let query = db.selectFrom('components').select('id').where('deleted_at', 'is', null);
      if (ids !== undefined) query = query.where('id', 'in', ids);
      const rows = await query.orderBy('id').execute();
      return rows.map((r) => r.id);
    },
  };
}

export type SubscribersRepo = ReturnType<typeof createSubscribersRepo>;
