/** Storage of incidents. Deleted incidents are kept (soft delete), as Cachet does. */
import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import { compiledFor, rowsOf } from '../../db/compiled.js';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { IncidentTable } from '../../db/schema.js';

export type IncidentRow = Selectable<IncidentTable>;

/** Exact-match filters an incident list accepts. */
export interface IncidentFilters {
  id?: number;
  component_id?: number;
  name?: string;
  status?: number;
  visible?: boolean;
  stickied?: boolean;
}

/** Builds the incidents repository. */
export function createIncidentsRepo() {
  return {
    async list(db: Executor, filters: IncidentFilters, page: PageRequest) {
      let query = db.selectFrom('incidents').selectAll('incidents').where('incidents.deleted_at', 'is', null);
      if (filters.id !== undefined) query = query.where('incidents.id', '=', filters.id);
      if (filters.component_id !== undefined) query = query.where('incidents.component_id', '=', filters.component_id);
      if (filters.name !== undefined) query = query.where('incidents.name', '=', filters.name);
      if (filters.status !== undefined) query = query.where('incidents.status', '=', filters.status);
      if (filters.visible !== undefined) query = query.where('incidents.visible', '=', filters.visible ? 1 : 0);
      if (filters.stickied !== undefined) query = query.where('incidents.stickied', '=', filters.stickied ? 1 : 0);
      return fetchPage(query, 'incidents', page);
    },

    async find(db: Executor, id: number): Promise<IncidentRow | undefined> {
      return db.selectFrom('incidents').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    },

    async insert(db: Executor, row: Insertable<IncidentTable>): Promise<IncidentRow> {
      return db.insertInto('incidents').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<IncidentTable>): Promise<IncidentRow> {
      return db.updateTable('incidents').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async softDelete(db: Executor, id: number, at: string): Promise<void> {
      await db.updateTable('incidents').set({ deleted_at: at, updated_at: at }).where('id', '=', id).execute();
    },

    /** Live incidents that are not fixed; without `includeHidden`, only those guests can see. */
    async countUnresolved(this: void, db: Executor, includeHidden: boolean): Promise<number> {
      // Asked by every `GET /api/v1/status`: compiled once per database and audience.
      const build = () => {
        const query = db.selectFrom('incidents').select(sql<number>`count(*)`.as('total')).where('deleted_at', 'is', null).where('status', '!=', 4);
        return includeHidden ? query : query.where('visible', '=', 1);
      };
      const [row] = await rowsOf(db, compiledFor(db, `incidents.unresolved\u0000${includeHidden}`, build));
      return Number(row?.total ?? 0);
    },
  };
}

export type IncidentsRepo = ReturnType<typeof createIncidentsRepo>;
