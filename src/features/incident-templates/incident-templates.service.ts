/** Incident template rules: slugs, validation on save, and rendering an incident message from a template. */
import type { Executor } from '../../db/database.js';
import { created, removed, updated } from '../audit/audit.changes.js';
import type { PageRequest } from '../../db/paging.js';
import { AppError } from '../../http/errors.js';
import type { Clock } from '../../infra/clock.js';
import { slugify } from '../../infra/slug.js';
import { formatCachetTime, toStoredTime } from '../../infra/time.js';
import { TemplateError, type TemplateEngine } from './incident-templates.render.js';
import { isUniqueViolation, type IncidentTemplateFilters, type IncidentTemplateRow, type IncidentTemplatesRepo } from './incident-templates.repo.js';
import type { CreateIncidentTemplateInput, IncidentTemplate, UpdateIncidentTemplateInput } from './incident-templates.schema.js';

/** A 400 whose message is both the error detail and its one validation message. */
function invalid(message: string): AppError {
  return new AppError(400, message, [message]);
}

function slugTaken(slug: string): AppError {
  return invalid(`The slug "${slug}" is already used by another incident template.`);
}

/** A stored template in Cachet's response shape (the raw model), times in `zone`. */
export function presentIncidentTemplate(row: IncidentTemplateRow, zone: string): IncidentTemplate {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    template: row.template,
    created_at: formatCachetTime(row.created_at, zone)!,
    updated_at: formatCachetTime(row.updated_at, zone)!,
    deleted_at: formatCachetTime(row.deleted_at, zone),
  };
}

export interface IncidentTemplatesServiceDeps {
  repo: IncidentTemplatesRepo;
  engine: TemplateEngine;
  clock: Clock;
}

/** Builds the incident-templates service. */
export function createIncidentTemplatesService({ repo, engine, clock }: IncidentTemplatesServiceDeps) {
  function check(source: string): void {
    try {
      engine.check(source);
    } catch (error) {
      if (error instanceof TemplateError) throw invalid(`The template is not valid: ${error.message}.`);
      throw error;
    }
  }

  async function ensureSlugFree(db: Executor, slug: string, exceptId?: number): Promise<void> {
    const holder = await repo.findBySlug(db, slug);
    if (holder && holder.id !== exceptId) throw slugTaken(slug);
  }

  // The pre-check gives the usual answer; the unique index settles a race between two writers.
  async function guardUnique<T>(slug: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isUniqueViolation(error)) throw slugTaken(slug);
      throw error;
    }
  }

  return {
    /** One page of live templates; templates are public, as in Cachet. */
    async list(db: Executor, filters: IncidentTemplateFilters, page: PageRequest, zone: string) {
      const { total, rows } = await repo.list(db, filters, page);
      return { total, items: rows.map((row) => presentIncidentTemplate(row, zone)) };
    },

    /** A live template, or null. */
    async show(db: Executor, id: number, zone: string): Promise<IncidentTemplate | null> {
      const row = await repo.find(db, id);
      return row ? presentIncidentTemplate(row, zone) : null;
    },

    /** Creates a template; the slug defaults to the name's and must not belong to another live template. */
    async create(trx: Executor, input: CreateIncidentTemplateInput): Promise<IncidentTemplateRow> {
      const slug = input.slug ?? slugify(input.name);
      if (slug === '') throw invalid('The slug cannot be derived from this name; send a slug (lower-case letters, digits and dashes).');
      check(input.template);
      await ensureSlugFree(trx, slug);
      const at = toStoredTime(clock.now());
      return created(trx, 'incident-templates', await guardUnique(slug, () => repo.insert(trx, { name: input.name, slug, template: input.template, created_at: at, updated_at: at, deleted_at: null })));
    },

    /** Changes only the fields given (a new name keeps the slug); null when missing. */
    async update(trx: Executor, id: number, input: UpdateIncidentTemplateInput): Promise<{ before: IncidentTemplateRow; after: IncidentTemplateRow } | null> {
      const before = await repo.find(trx, id);
      if (!before) return null;
      if (input.template !== undefined) check(input.template);
      if (input.slug !== undefined) await ensureSlugFree(trx, input.slug, id);
      const after = await guardUnique(input.slug ?? before.slug, () =>
        repo.update(trx, id, {
          ...(input.name !== undefined && { name: input.name }),
          ...(input.slug !== undefined && { slug: input.slug }),
          ...(input.template !== undefined && { template: input.template }),
          updated_at: toStoredTime(clock.now()),
        }),
      );
      return updated(trx, 'incident-templates', { before, after });
    },

    /** Soft-deletes a template; null when missing. */
    async remove(trx: Executor, id: number): Promise<IncidentTemplateRow | null> {
      const row = await repo.find(trx, id);
      if (!row) return null;
      await repo.softDelete(trx, id, toStoredTime(clock.now()));
      return removed(trx, 'incident-templates', row);
    },

    /**
     * Renders the live template `slug` with `variables`. An unknown slug is a 400 (Cachet 2.4 kept the
     * request's message instead, silently), as is a template that fails to render.
     */
    async render(db: Executor, slug: string, variables: Record<string, unknown>): Promise<string> {
      const row = await repo.findBySlug(db, slug);
      if (!row) throw invalid(`The incident template "${slug.slice(0, 255)}" does not exist.`);
      try {
        return await engine.render(row.template, variables);
      } catch (error) {
        if (error instanceof TemplateError) throw invalid(`The incident template "${slug}" could not be rendered: ${error.message}.`);
        throw error;
      }
    },
  };
}

export type IncidentTemplatesService = ReturnType<typeof createIncidentTemplatesService>;
