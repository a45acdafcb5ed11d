/** Reads of the public status page: only what guests may see (visible, live incidents). */
import type { Selectable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { IncidentTable, IncidentUpdateTable, MetricTable, ScheduleTable } from '../../db/schema.js';
import { METRIC_VISIBLE_TO_GUESTS } from '../metrics/metrics.repo.js';

export type PageIncident = Selectable<IncidentTable>;
export type PageUpdate = Selectable<IncidentUpdateTable>;
export type PageSchedule = Selectable<ScheduleTable>;
export type PageMetric = Selectable<MetricTable>;

/** Fixed incident status (Cachet's 4). */
const FIXED = 4;
/** Completed schedule status (Cachet's 2). */
const COMPLETE = 2;

function visibleIncidents(db: Executor) {
  return db.selectFrom('incidents').selectAll().where('visible', '=', 1).where('deleted_at', 'is', null);
}

export function createStatusPageRepo() {
  return {
    /** Visible incidents not yet fixed, stickied first, newest first. */
    current(db: Executor): Promise<PageIncident[]> {
      return visibleIncidents(db).where('status', '<>', FIXED).orderBy('stickied', 'desc').orderBy('occurred_at', 'desc').orderBy('id', 'desc').execute();
    },

    /** One page of visible incidents, newest first, with the total. */
    async history(db: Executor, page: number, perPage: number): Promise<{ total: number; rows: PageIncident[] }> {
      const counted = await db.selectFrom('incidents').select((eb) => eb.fn.countAll<number>().as('total')).where('visible', '=', 1).where('deleted_at', 'is', null).executeTakeFirst();
      const rows = await visibleIncidents(db).orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(perPage).offset((page - 1) * perPage).execute();
      return { total: Number(counted?.total ?? 0), rows };
    },

    /** A visible, live incident. */
    incident(db: Executor, id: number): Promise<PageIncident | undefined> {
      return visibleIncidents(db).where('id', '=', id).executeTakeFirst();
    },

    /** Updates of the given incidents, oldest first. */
    async updatesOf(db: Executor, ids: number[]): Promise<PageUpdate[]> {
      if (ids.length === 0) return [];
      return db.selectFrom('incident_updates').selectAll().where('incident_id', 'in', ids).orderBy('created_at').orderBy('id').execute();
    },

    /** Live schedules not yet complete, soonest first. */
    openSchedules(db: Executor): Promise<PageSchedule[]> {
      return db.selectFrom('schedules').selectAll().where('deleted_at', 'is', null).where('status', '<>', COMPLETE).orderBy('scheduled_at').orderBy('id').execute();
    },

    /** Metrics guests may see that ask for a chart, in display order. */
    chartedMetrics(db: Executor): Promise<PageMetric[]> {
      return db.selectFrom('metrics').selectAll().where('visible', '=', METRIC_VISIBLE_TO_GUESTS).where('display_chart', '=', 1).orderBy('order').orderBy('id').execute();
    },

    /** Points of a metric from `since`, oldest first. */
    points(db: Executor, metricId: number, since: string): Promise<Array<{ value: number; counter: number; created_at: string }>> {
      return db.selectFrom('metric_points').select(['value', 'counter', 'created_at']).where('metric_id', '=', metricId).where('created_at', '>=', since).orderBy('created_at').execute();
    },

    /** A live schedule. */
    schedule(db: Executor, id: number): Promise<PageSchedule | undefined> {
      return db.selectFrom('schedules').selectAll().where('deleted_at', 'is', null).where('id', '=', id).executeTakeFirst();
    },
  };
}

export type StatusPageRepo = ReturnType<typeof createStatusPageRepo>;
