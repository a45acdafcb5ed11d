/** Storage of incident updates, always reached through their incident. */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { IncidentUpdateTable } from '../../db/schema.js';

export type IncidentUpdateRow = Selectable<IncidentUpdateTable>;

/** Builds the incident-updates repository. */
export function createIncidentUpdatesRepo() {
  return {
    /** One page of an incident's updates, newest first unless a sort is asked for. */
    async list(db: Executor, incidentId: number, page: PageRequest) {
      const query = db.selectFrom('incident_updates').selectAll('incident_updates').where('incident_updates.incident_id', '=', incidentId);
      return fetchPage(query, 'incident_updates', page, { column: 'created_at', direction: 'desc' });
    },

    /** Update `id` of incident `incidentId`; an update of another incident is not found. */
    async find(db: Executor, incidentId: number, id: number): Promise<IncidentUpdateRow | undefined> {
      return db.selectFrom('incident_updates').selectAll().where('id', '=', id).where('incident_id', '=', incidentId).executeTakeFirst();
    },

    /** Updates of each incident, newest first. */
    async ofIncidents(db: Executor, incidentIds: number[]): Promise<Map<number, IncidentUpdateRow[]>> {
      const out = new Map<number, IncidentUpdateRow[]>();
      if (incidentIds.length === 0) return out;
      const rows = await db
        .selectFrom('incident_updates')
        .selectAll()
        .where('incident_id', 'in', incidentIds)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      for (const row of rows) {
        const list = out.get(row.incident_id) ?? [];
        list.push(row);
        out.set(row.incident_id, list);
      }
      return out;
    },

    async insert(db: Executor, row: Insertable<IncidentUpdateTable>): Promise<IncidentUpdateRow> {
      return db.insertInto('incident_updates').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<IncidentUpdateTable>): Promise<IncidentUpdateRow> {
      return db.updateTable('incident_updates').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async delete(db: Executor, id: number): Promise<void> {
      await db.deleteFrom('incident_updates').where('id', '=', id).execute();
    },
  };
}

export type IncidentUpdatesRepo = ReturnType<typeof createIncidentUpdatesRepo>;
