/** Storage of schedules. Deleted schedules are kept (soft delete), as Cachet does. */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { ScheduleTable } from '../../db/schema.js';

export type ScheduleRow = Selectable<ScheduleTable>;

/** Creates the schedules repository. */
export function createSchedulesRepo() {
  return {
    /** One page of live schedules. */
    async list(db: Executor, page: PageRequest) {
      const query = db.selectFrom('schedules').selectAll('schedules').where('schedules.deleted_at', 'is', null);
      return fetchPage(query, 'schedules', page);
    },

    async find(db: Executor, id: number): Promise<ScheduleRow | undefined> {
      return db.selectFrom('schedules').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    },

    async insert(db: Executor, row: Insertable<ScheduleTable>): Promise<ScheduleRow> {
      return db.insertInto('schedules').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<ScheduleTable>): Promise<ScheduleRow> {
      return db.updateTable('schedules').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async softDelete(db: Executor, id: number, at: string): Promise<void> {
      await db.updateTable('schedules').set({ deleted_at: at, updated_at: at }).where('id', '=', id).execute();
    },
  };
}

export type SchedulesRepo = ReturnType<typeof createSchedulesRepo>;
