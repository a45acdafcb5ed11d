/** Storage of component groups. */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { ComponentGroupTable } from '../../db/schema.js';

export type ComponentGroupRow = Selectable<ComponentGroupTable>;

export interface ComponentGroupFilters {
  id?: number;
  name?: string;
  order?: number;
  collapsed?: number;
  visible?: boolean;
}

export function createComponentGroupsRepo() {
  return {
    async list(db: Executor, filters: ComponentGroupFilters, page: PageRequest) {
      let query = db.selectFrom('component_groups').selectAll('component_groups');
      if (filters.id !== undefined) query = query.where('component_groups.id', '=', filters.id);
      if (filters.name !== undefined) query = query.where('component_groups.name', '=', filters.name);
      if (filters.order !== undefined) query = query.where('component_groups.order', '=', filters.order);
      if (filters.collapsed !== undefined) query = query.where('component_groups.collapsed', '=', filters.collapsed);
      if (filters.visible !== undefined) query = query.where('component_groups.visible', '=', filters.visible ? 1 : 0);
      return fetchPage(query, 'component_groups', page);
    },

    async find(db: Executor, id: number): Promise<ComponentGroupRow | undefined> {
      return db.selectFrom('component_groups').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async insert(db: Executor, row: Insertable<ComponentGroupTable>): Promise<ComponentGroupRow> {
      return db.insertInto('component_groups').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<ComponentGroupTable>): Promise<ComponentGroupRow> {
      return db.updateTable('component_groups').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async delete(db: Executor, id: number): Promise<void> {
      await db.deleteFrom('component_groups').where('id', '=', id).execute();
    },
  };
}

export type ComponentGroupsRepo = ReturnType<typeof createComponentGroupsRepo>;
