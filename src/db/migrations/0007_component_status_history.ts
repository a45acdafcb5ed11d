/** Component status history: one row per status a component entered (the status page's uptime bars read it). */
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { withId } from './helpers.js';

export function componentStatusHistory(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await withId(db.schema.createTable('component_status_history'), dialect)
        .addColumn('component_id', 'integer', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('component_status_history_component_at').on('component_status_history').columns(['component_id', 'at']).execute();
    },
  };
}
