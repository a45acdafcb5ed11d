/** Component rules: defaults, tags, visibility and the Cachet 2.4 response shape. */
import type { Executor } from '../../db/database.js';
import { created, removed, updated } from '../audit/audit.changes.js';
import type { PageRequest } from '../../db/paging.js';
import type { Clock } from '../../infra/clock.js';
import { slugify } from '../../infra/slug.js';
import { formatCachetTime, toStoredTime } from '../../infra/time.js';
import type { ComponentFilters, ComponentRow, ComponentsRepo } from './components.repo.js';
import { COMPONENT_STATUS_NAMES, type Component, type CreateComponentInput, type UpdateComponentInput } from './components.schema.js';

/** `"Foo, Bar"`, `["Foo","Bar"]` or `{foo: "Foo"}` → distinct tags by slug. */
export function parseTags(input: string | string[] | object): Array<{ slug: string; name: string }> {
  const names = typeof input === 'string' ? input.split(/\s*,\s*/) : Array.isArray(input) ? (input as string[]) : Object.values(input).map(String);
  const seen = new Map<string, string>();
  for (const raw of names) {
    const name = raw.trim();
    const slug = slugify(name);
    if (slug !== '' && !seen.has(slug)) seen.set(slug, name);
  }
  return [...seen].map(([slug, name]) => ({ slug, name }));
}

/** A stored component in Cachet's response shape, times in `zone`. */
export function presentComponent(row: ComponentRow, tags: Record<string, string> | undefined, zone: string): Component {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    link: row.link,
    status: row.status,
    order: row.order,
    group_id: row.group_id,
    enabled: row.enabled === 1,
    meta: row.meta === null ? null : (JSON.parse(row.meta) as Record<string, unknown>),
    created_at: formatCachetTime(row.created_at, zone)!,
    updated_at: formatCachetTime(row.updated_at, zone)!,
    deleted_at: formatCachetTime(row.deleted_at, zone),
    status_name: COMPONENT_STATUS_NAMES[row.status] ?? 'Unknown',
    tags: tags && Object.keys(tags).length > 0 ? tags : [],
  };
}

export interface ComponentsServiceDeps {
  repo: ComponentsRepo;
  clock: Clock;
}

export function createComponentsService({ repo, clock }: ComponentsServiceDeps) {
  async function present(db: Executor, rows: ComponentRow[], zone: string): Promise<Component[]> {
    const tags = await repo.tagsOf(db, rows.map((r) => r.id));
    return rows.map((row) => presentComponent(row, tags.get(row.id), zone));
  }

  return {
    present,

    /** One page of components; guests (`includeHidden` false) see enabled ones outside hidden groups only. */
    async list(db: Executor, filters: ComponentFilters, page: PageRequest, includeHidden: boolean, zone: string) {
      const { total, rows } = await repo.list(db, filters, page, { guest: !includeHidden });
      return { total, items: await present(db, rows, zone) };
    },

    /** A component, or null when it does not exist or the caller may not see it. */
    async show(db: Executor, id: number, includeHidden: boolean, zone: string): Promise<Component | null> {
      const row = await repo.find(db, id, { guest: !includeHidden });
      return row ? (await present(db, [row], zone))[0]! : null;
    },

    async create(trx: Executor, input: CreateComponentInput): Promise<ComponentRow> {
      const at = toStoredTime(clock.now());
      const row = await repo.insert(trx, {
        name: input.name,
        status: input.status,
        description: input.description ?? '',
        link: input.link ?? '',
        order: input.order ?? 0,
        group_id: input.group_id ?? 0,
        enabled: input.enabled === false ? 0 : 1,
        meta: input.meta === undefined ? null : JSON.stringify(input.meta),
        created_at: at,
        updated_at: at,
        deleted_at: null,
      });
      if (input.tags !== undefined) await repo.replaceTags(trx, row.id, parseTags(input.tags));
      await repo.recordStatus(trx, row.id, row.status, at);
      return created(trx, 'components', row);
    },

    /** Changes only the fields given; `meta` and `tags` replace what was there. Null when missing. */
    async update(trx: Executor, id: number, input: UpdateComponentInput): Promise<{ before: ComponentRow; after: ComponentRow } | null> {
      const before = await repo.find(trx, id, { guest: false });
      if (!before) return null;
      const after = await repo.update(trx, id, {
        ...(input.name !== undefined && { name: input.name }),
        ...(input.status !== undefined && { status: input.status }),
        ...(input.description !== undefined && { description: input.description }),
        ...(input.link !== undefined && { link: input.link }),
        ...(input.order !== undefined && { order: input.order }),
        ...(input.group_id !== undefined && { group_id: input.group_id }),
        ...(input.enabled !== undefined && { enabled: input.enabled ? 1 : 0 }),
        ...(input.meta !== undefined && { meta: JSON.stringify(input.meta) }),
        updated_at: toStoredTime(clock.now()),
      });
      if (input.tags !== undefined) await repo.replaceTags(trx, id, parseTags(input.tags));
      if (after.status !== before.status) await repo.recordStatus(trx, id, after.status, after.updated_at);
      return updated(trx, 'components', { before, after });
    },

    /** Soft-deletes a component and detaches its tags; false when missing. */
    async remove(trx: Executor, id: number): Promise<ComponentRow | null> {
      const row = await repo.find(trx, id, { guest: false });
      if (!row) return null;
      await repo.softDelete(trx, id, toStoredTime(clock.now()));
      return removed(trx, 'components', row);
    },
  };
}

export type ComponentsService = ReturnType<typeof createComponentsService>;
