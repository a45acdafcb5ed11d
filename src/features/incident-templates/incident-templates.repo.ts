/** Storage of incident templates. Deleted templates are kept (soft delete), as Cachet does. */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/database.js';
import { fetchPage, type PageRequest } from '../../db/paging.js';
import type { IncidentTemplateTable } from '../../db/schema.js';

export type IncidentTemplateRow = Selectable<IncidentTemplateTable>;

/** Exact-match filters a template list accepts. */
export interface IncidentTemplateFilters {
  id?: number;
  name?: string;
  slug?: string;
}

/** True when `error` is a unique-constraint violation on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Builds the incident-templates repository. */
export function createIncidentTemplatesRepo() {
  return {
    async list(db: Executor, filters: IncidentTemplateFilters, page: PageRequest) {
      let query = db.selectFrom('incident_templates').selectAll('incident_templates').where('incident_templates.deleted_at', 'is', null);
      if (filters.id !== undefined) query = query.where('incident_templates.id', '=', filters.id);
      if (filters.name !== undefined) query = query.where('incident_templates.name', '=', filters.name);
      if (filters.slug !== undefined) query = query.where('incident_templates.slug', '=', filters.slug);
      return fetchPage(query, 'incident_templates', page);
    },

    async find(db: Executor, id: number): Promise<IncidentTemplateRow | undefined> {
      return db.selectFrom('incident_templates').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    },

    /** The live template with `slug`. */
    async findBySlug(db: Executor, slug: string): Promise<IncidentTemplateRow | undefined> {
      return db.selectFrom('incident_templates').selectAll().where('slug', '=', slug).where('deleted_at', 'is', null).executeTakeFirst();
    },

    async insert(db: Executor, row: Insertable<IncidentTemplateTable>): Promise<IncidentTemplateRow> {
      return db.insertInto('incident_templates').values(row).returningAll().executeTakeFirstOrThrow();
    },

    async update(db: Executor, id: number, changes: Updateable<IncidentTemplateTable>): Promise<IncidentTemplateRow> {
      return db.updateTable('incident_templates').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async softDelete(db: Executor, id: number, at: string): Promise<void> {
      await db.updateTable('incident_templates').set({ deleted_at: at, updated_at: at }).where('id', '=', id).execute();
    },
  };
}

export type IncidentTemplatesRepo = ReturnType<typeof createIncidentTemplatesRepo>;
