/**
 * Storage of outbound webhooks and their delivery log, and the stored forms of a webhook's event
 * list and signing secrets (JSON text in both dialects).
 */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { WebhookDeliveryTable, WebhookTable } from '../../db/schema.js';

export type WebhookRow = Selectable<WebhookTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;

/** One signing secret as stored: the secret, when it was made, and when it stops signing (null: not before a rotation). */
export interface StoredSecret {
  secret: string;
  /** ISO 8601 UTC. */
  created_at: string;
  /** ISO 8601 UTC; null while it is the newest. */
  expires_at: string | null;
}

/** The secrets of a webhook, newest first. */
export function parseSecrets(text: string): StoredSecret[] {
  const list = JSON.parse(text) as unknown[];
  // A bare `whsec_…` string (the table's first form) is a secret without an expiry.
  return list.map((item) => (typeof item === 'string' ? { secret: item, created_at: '', expires_at: null } : (item as StoredSecret)));
}

/** The secrets that sign at `now`: those whose grace has not run out, newest first. */
export function activeSecrets(secrets: readonly StoredSecret[], now: Date): StoredSecret[] {
  const at = now.getTime();
  return secrets.filter((s) => s.expires_at === null || Date.parse(s.expires_at) > at);
}

/** The event types a webhook wants (`["*"]` for all of them). */
export function parseEvents(text: string): string[] {
  return JSON.parse(text) as string[];
}

/** Creates the webhooks repository; every method takes the executor, so a transaction threads through. */
export function createWebhooksRepo() {
  return {
    /** One page of webhooks, oldest first unless sorted. */
    async list(db: Executor, page: PageRequest) {
      return fetchPage(db.selectFrom('webhooks').selectAll('webhooks'), 'webhooks', page);
    },

    /** Every enabled webhook (a fan-out filters them by event type). */
    async enabled(db: Executor): Promise<WebhookRow[]> {
      return db.selectFrom('webhooks').selectAll().where('enabled', '=', 1).orderBy('id').execute();
    },

    async find(db: Executor, id: number): Promise<WebhookRow | undefined> {
      return db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async insert(db: Executor, row: Insertable<WebhookTable>): Promise<WebhookRow> {
      return db.insertInto('webhooks').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<WebhookTable>): Promise<WebhookRow> {
      return db.updateTable('webhooks').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    /** Deletes a webhook and its delivery log. */
    async delete(db: Executor, id: number): Promise<void> {
      await db.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
      await db.deleteFrom('webhooks').where('id', '=', id).execute();
    },

    /**
     * Counts a delivery's outcome in one statement (concurrent deliveries each count): a success
     * resets `failures`, a failure adds one. The row after, or undefined when the webhook is gone.
     */
    async countOutcome(db: Executor, id: number, ok: boolean): Promise<WebhookRow | undefined> {
      return db
        .updateTable('webhooks')
        .set((eb) => ({ failures: ok ? 0 : eb('failures', '+', 1) }))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    },

    /** Disables a webhook that is still enabled; undefined when it already was not (another delivery got there first). */
    async disable(db: Executor, id: number, at: string, reason: string): Promise<WebhookRow | undefined> {
      return db
        .updateTable('webhooks')
        .set({ enabled: 0, disabled_at: at, disabled_reason: reason, updated_at: at })
        .where('id', '=', id)
        .where('enabled', '=', 1)
        .returningAll()
        .executeTakeFirst();
    },

    async insertDelivery(db: Executor, row: Insertable<WebhookDeliveryTable>): Promise<void> {
      await db.insertInto('webhook_deliveries').values(row).execute();
    },

    /** One page of a webhook's delivery log, newest first. */
    async deliveries(db: Executor, webhookId: number, page: PageRequest) {
      return fetchPage(
        db.selectFrom('webhook_deliveries').selectAll('webhook_deliveries').where('webhook_deliveries.webhook_id', '=', webhookId),
        'webhook_deliveries',
        { ...page, sort: null },
        { column: 'id', direction: 'desc' },
      );
    },
  };
}

export type WebhooksRepo = ReturnType<typeof createWebhooksRepo>;
