/** Incidents, incident updates and templates, metrics and points, schedules, subscribers and subscriptions. */
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { floatType, withId } from './helpers.js';

export function statusContent(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await withId(db.schema.createTable('incidents'), dialect)
        .addColumn('component_id', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('visible', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('stickied', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('notifications', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('user_id', 'integer')
        .addColumn('occurred_at', 'text', (c) => c.notNull())
        .addColumn('meta', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .execute();
      await db.schema.createIndex('incidents_component_id').on('incidents').column('component_id').execute();

      await withId(db.schema.createTable('incident_updates'), dialect)
        .addColumn('incident_id', 'integer', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('user_id', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('incident_updates_incident_id').on('incident_updates').column('incident_id').execute();

      await withId(db.schema.createTable('incident_templates'), dialect)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('slug', 'text', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .execute();
      // One live template per slug (incidents name templates by slug); deleted ones may share it.
      await db.schema.createIndex('incident_templates_slug').on('incident_templates').column('slug').unique().where(sql.ref('deleted_at'), 'is', null).execute();

      await withId(db.schema.createTable('metrics'), dialect)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('suffix', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('default_value', floatType(dialect), (c) => c.notNull().defaultTo(0))
        .addColumn('calc_type', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('display_chart', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('places', 'integer', (c) => c.notNull().defaultTo(2))
        .addColumn('default_view', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('threshold', 'integer', (c) => c.notNull().defaultTo(5))
        .addColumn('order', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('visible', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await withId(db.schema.createTable('metric_points'), dialect)
        .addColumn('metric_id', 'integer', (c) => c.notNull())
        .addColumn('value', floatType(dialect), (c) => c.notNull())
        .addColumn('counter', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('metric_points_metric_created').on('metric_points').columns(['metric_id', 'created_at']).execute();

      await withId(db.schema.createTable('schedules'), dialect)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('scheduled_at', 'text', (c) => c.notNull())
        .addColumn('completed_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .execute();

      await withId(db.schema.createTable('subscribers'), dialect)
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('verify_code', 'text', (c) => c.notNull())
        .addColumn('phone_number', 'text')
        .addColumn('slack_webhook_url', 'text')
        .addColumn('global', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('verified_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await withId(db.schema.createTable('subscriptions'), dialect)
        .addColumn('subscriber_id', 'integer', (c) => c.notNull().references('subscribers.id').onDelete('cascade'))
        .addColumn('component_id', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('subscriptions_subscriber_component', ['subscriber_id', 'component_id'])
        .execute();
    },
  };
}
