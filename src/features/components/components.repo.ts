/** Storage of components and their tags. Deleted components are kept (soft delete), as Cachet does. */
import type { Insertable, Selectable, SelectQueryBuilder, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { compiledFor, rowsOf } from '../../db/compiled.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { ComponentTable, DB } from '../../db/schema.js';

export type ComponentRow = Selectable<ComponentTable>;

/** Exact-match filters a component list accepts. */
export interface ComponentFilters {
  id?: number;
  name?: string;
  status?: number;
  order?: number;
  group_id?: number;
  enabled?: boolean;
  /** Any of these tag slugs. */
  tags?: string[];
}

/** Who a component read is for: guests see only enabled components outside hidden groups. */
export interface ComponentAudience {
  guest: boolean;
}

/**
 * Limits a component query to what guests may see: enabled, and not in a hidden group (a component
 * whose group is gone counts as ungrouped, as `/status` counts it). The one place this rule lives.
 */
function visibleTo<O>(query: SelectQueryBuilder<DB, 'components', O>, audience: ComponentAudience): SelectQueryBuilder<DB, 'components', O> {
  if (!audience.guest) return query;
  return query
    .where('components.enabled', '=', 1)
    .where((eb) =>
      eb.not(eb.exists(eb.selectFrom('component_groups').select('component_groups.id').whereRef('component_groups.id', '=', 'components.group_id').where('component_groups.visible', '<>', 1))),
    );
}

export function createComponentsRepo() {
  return {
    /** One page; the hottest read there is, so its compiled queries are kept per audience and filters. */
    async list(db: Executor, filters: ComponentFilters, page: PageRequest, audience: ComponentAudience) {
      const build = () => {
        let query = visibleTo(db.selectFrom('components').selectAll('components').where('components.deleted_at', 'is', null), audience);
        if (filters.id !== undefined) query = query.where('components.id', '=', filters.id);
        if (filters.name !== undefined) query = query.where('components.name', '=', filters.name);
        if (filters.status !== undefined) query = query.where('components.status', '=', filters.status);
        if (filters.order !== undefined) query = query.where('components.order', '=', filters.order);
        if (filters.group_id !== undefined) query = query.where('components.group_id', '=', filters.group_id);
        if (filters.enabled !== undefined) query = query.where('components.enabled', '=', filters.enabled ? 1 : 0);
        if (filters.tags !== undefined) {
          const slugs = filters.tags;
          query = query.where('components.id', 'in', (eb) => eb.selectFrom('component_tags').select('component_id').where('slug', 'in', slugs.length > 0 ? slugs : ['']));
        }
        return query;
      };
      return fetchPage(build, 'components', page, undefined, { db, key: JSON.stringify(['components', audience.guest, filters]) });
    },

    /** A live component; for a guest audience, only one guests may see. */
    async find(db: Executor, id: number, audience: ComponentAudience): Promise<ComponentRow | undefined> {
      return visibleTo(db.selectFrom('components').selectAll('components').where('components.id', '=', id).where('components.deleted_at', 'is', null), audience).executeTakeFirst();
    },

    /** Enabled, live components of the given groups, in display order. */
    async enabledInGroups(db: Executor, groupIds: number[]): Promise<ComponentRow[]> {
      if (groupIds.length === 0) return [];
      return db
        .selectFrom('components')
        .selectAll()
        .where('group_id', 'in', groupIds)
        .where('enabled', '=', 1)
        .where('deleted_at', 'is', null)
        .orderBy('order', 'asc')
        .orderBy('id', 'asc')
        .execute();
    },

    /** Enabled, live components with the visibility of their group (null when ungrouped or the group is gone). */
    async enabledWithGroupVisibility(db: Executor): Promise<Array<{ status: number; group_visible: number | null }>> {
      const build = () =>
        db
          .selectFrom('components')
          .leftJoin('component_groups', 'component_groups.id', 'components.group_id')
          .select(['components.status as status', 'component_groups.visible as group_visible'])
          .where('components.enabled', '=', 1)
          .where('components.deleted_at', 'is', null);
      return rowsOf(db, compiledFor(db, 'components.enabledWithGroupVisibility', build));
    },

    async insert(db: Executor, row: Insertable<ComponentTable>): Promise<ComponentRow> {
      return db.insertInto('components').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<ComponentTable>): Promise<ComponentRow> {
      return db.updateTable('components').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async softDelete(db: Executor, id: number, at: string): Promise<void> {
      await db.deleteFrom('component_tags').where('component_id', '=', id).execute();
      await db.updateTable('components').set({ deleted_at: at, updated_at: at }).where('id', '=', id).execute();
    },

    /** Moves the components of a deleted group out of it. */
    async ungroup(db: Executor, groupId: number, at: string): Promise<void> {
      await db.updateTable('components').set({ group_id: 0, updated_at: at }).where('group_id', '=', groupId).execute();
    },

    /** Records that a component entered `status` at `at` (in the caller's transaction). */
    async recordStatus(db: Executor, componentId: number, status: number, at: string): Promise<void> {
      await db.insertInto('component_status_history').values({ component_id: componentId, status, at }).execute();
    },

    /**
     * Status history of the given components from `since`, oldest first, with for each component the
     * last status it entered before `since` (so a window starts in the right state).
     */
    async statusHistory(db: Executor, ids: number[], since: string): Promise<Array<{ component_id: number; status: number; at: string }>> {
      if (ids.length === 0) return [];
      const before = await db
        .selectFrom('component_status_history as h')
        .select(['h.component_id', 'h.status', 'h.at'])
        .where('h.component_id', 'in', ids)
        .where('h.at', '<', since)
        .where('h.id', '=', (eb) =>
          eb.selectFrom('component_status_history as l').select((e) => e.fn.max('l.id').as('id')).whereRef('l.component_id', '=', 'h.component_id').where('l.at', '<', since),
        )
        .execute();
      const within = await db
        .selectFrom('component_status_history')
        .select(['component_id', 'status', 'at'])
        .where('component_id', 'in', ids)
        .where('at', '>=', since)
        .orderBy('at')
        .orderBy('id')
        .execute();
      return [...before, ...within];
    },

    /** Tags of each component, as `{slug: name}`. */
    async tagsOf(db: Executor, ids: number[]): Promise<Map<number, Record<string, string>>> {
      const out = new Map<number, Record<string, string>>();
      if (ids.length === 0) return out;
      const query = () => db.selectFrom('component_tags').selectAll().where('component_id', 'in', ids).orderBy('slug');
      const rows = await rowsOf(db, compiledFor(db, `component_tags\u0000${ids.join(',')}`, query));
      for (const row of rows) {
        const tags = out.get(row.component_id) ?? {};
        tags[row.slug] = row.name;
        out.set(row.component_id, tags);
      }
      return out;
    },

    async replaceTags(db: Executor, id: number, tags: Array<{ slug: string; name: string }>): Promise<void> {
      await db.deleteFrom('component_tags').where('component_id', '=', id).execute();
      if (tags.length > 0) {
        await db.insertInto('component_tags').values(tags.map((t) => ({ component_id: id, slug: t.slug, name: t.name }))).execute();
      }
    },
  };
}

export type ComponentsRepo = ReturnType<typeof createComponentsRepo>;
