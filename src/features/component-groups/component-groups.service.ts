/** Component group rules: guest visibility, the enabled-components views, ungrouping on delete. */
import type { Executor } from '../../db/database.js';
import { created, removed, updated } from '../audit/audit.changes.js';
import type { PageRequest } from '../../db/paging.js';
import type { Clock } from '../../infra/clock.js';
import { formatCachetTime, toStoredTime } from '../../infra/time.js';
import type { ComponentsRepo } from '../components/components.repo.js';
import { COMPONENT_STATUS_NAMES } from '../components/components.schema.js';
import type { ComponentsService } from '../components/components.service.js';
import type { ComponentGroupFilters, ComponentGroupRow, ComponentGroupsRepo } from './component-groups.repo.js';
import type { ComponentGroup, CreateComponentGroupInput, UpdateComponentGroupInput } from './component-groups.schema.js';

export interface ComponentGroupsServiceDeps {
  repo: ComponentGroupsRepo;
  componentsRepo: ComponentsRepo;
  components: ComponentsService;
  clock: Clock;
}

export function createComponentGroupsService({ repo, componentsRepo, components, clock }: ComponentGroupsServiceDeps) {
  /** Groups in Cachet's shape; `onlyComponents` (a key's components limit) keeps other components out of the embedded lists. */
  async function present(db: Executor, rows: ComponentGroupRow[], zone: string, onlyComponents: readonly number[] | null = null): Promise<ComponentGroup[]> {
    const inGroups = await componentsRepo.enabledInGroups(db, rows.map((r) => r.id));
    const members = await components.present(db, onlyComponents ? inGroups.filter((c) => onlyComponents.includes(c.id)) : inGroups, zone);
    return rows.map((row) => {
      const enabled = members.filter((c) => c.group_id === row.id);
      const lowest = [...enabled].sort((a, b) => b.status - a.status || a.order - b.order);
      return {
        id: row.id,
        name: row.name,
        order: row.order,
        collapsed: row.collapsed,
        visible: row.visible,
        created_at: formatCachetTime(row.created_at, zone)!,
        updated_at: formatCachetTime(row.updated_at, zone)!,
        enabled_components: enabled,
        enabled_components_lowest: lowest,
        lowest_human_status: lowest.length > 0 ? (COMPONENT_STATUS_NAMES[lowest[0]!.status] ?? null) : null,
      };
    });
  }

  return {
    present,

    /** One page of groups; guests (`includeHidden` false) see visible ones only. */
    async list(db: Executor, filters: ComponentGroupFilters, page: PageRequest, includeHidden: boolean, zone: string, onlyComponents: readonly number[] | null = null) {
      if (!includeHidden && filters.visible === false) return { total: 0, items: [] };
      const effective = includeHidden ? filters : { ...filters, visible: true };
      const { total, rows } = await repo.list(db, effective, page);
      return { total, items: await present(db, rows, zone, onlyComponents) };
    },

    async show(db: Executor, id: number, includeHidden: boolean, zone: string, onlyComponents: readonly number[] | null = null): Promise<ComponentGroup | null> {
      const row = await repo.find(db, id);
      if (!row || (!includeHidden && row.visible !== 1)) return null;
      return (await present(db, [row], zone, onlyComponents))[0]!;
    },

    async create(trx: Executor, input: CreateComponentGroupInput): Promise<ComponentGroupRow> {
      const at = toStoredTime(clock.now());
      return created(trx, 'component-groups', await repo.insert(trx, {
        name: input.name,
        order: input.order ?? 0,
        collapsed: input.collapsed ?? 0,
        visible: input.visible ? 1 : 0,
        created_at: at,
        updated_at: at,
      }));
    },

    async update(trx: Executor, id: number, input: UpdateComponentGroupInput): Promise<{ before: ComponentGroupRow; after: ComponentGroupRow } | null> {
      const before = await repo.find(trx, id);
      if (!before) return null;
      const after = await repo.update(trx, id, {
        ...(input.name !== undefined && { name: input.name }),
        ...(input.order !== undefined && { order: input.order }),
        ...(input.collapsed !== undefined && { collapsed: input.collapsed }),
        ...(input.visible !== undefined && { visible: input.visible ? 1 : 0 }),
        updated_at: toStoredTime(clock.now()),
      });
      return updated(trx, 'component-groups', { before, after });
    },

    /** Deletes a group; its components stay, ungrouped (`group_id` 0). */
    async remove(trx: Executor, id: number): Promise<ComponentGroupRow | null> {
      const row = await repo.find(trx, id);
      if (!row) return null;
      await componentsRepo.ungroup(trx, id, toStoredTime(clock.now()));
      await repo.delete(trx, id);
      return removed(trx, 'component-groups', row);
    },
  };
}

export type ComponentGroupsService = ReturnType<typeof createComponentGroupsService>;
