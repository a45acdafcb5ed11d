/**
 * Incident rules: defaults, the linked component's status, template-rendered messages, meta merging,
 * guest visibility, and the computed fields of Cachet 2.4's response shape.
 */
import type { Executor } from '../../db/database.js';
import { created, removed, updated } from '../audit/audit.changes.js';
import type { PageRequest } from '../../db/paging.js';
import { AppError } from '../../http/errors.js';
import type { Clock } from '../../infra/clock.js';
import { formatCachetTime, parseCachetTime, toStoredTime } from '../../infra/time.js';
import type { ComponentRow, ComponentsRepo } from '../components/components.repo.js';
import { COMPONENT_STATUS_NAMES } from '../components/components.schema.js';
import type { IncidentTemplatesService } from '../incident-templates/incident-templates.service.js';
import type { IncidentUpdateRow, IncidentUpdatesRepo } from './incident-updates.repo.js';
import { incidentPermalink, presentIncidentUpdate, type IncidentView } from './incident-updates.service.js';
import type { IncidentFilters, IncidentRow, IncidentsRepo } from './incidents.repo.js';
import {
  FIXED,
  INCIDENT_STATUS_ICONS,
  INCIDENT_STATUS_NAMES,
  type CreateIncidentInput,
  type Incident,
  type UpdateIncidentInput,
} from './incidents.schema.js';

type Meta = Record<string, unknown>;

const OCCURRED_AT_INVALID = 'The occurred_at field must be a date: Y-m-d H:i, Y-m-d H:i:s or ISO 8601.';
const MESSAGE_REQUIRED = 'The message field is required.';

/** A 400 listing every problem; the first one is also the error's detail. */
function invalid(problems: string[]): AppError {
  return new AppError(400, problems[0], problems);
}

/** Cachet's meta rule: a key whose value is empty ("" or null) is not kept. */
function isEmptyValue(value: unknown): boolean {
  return value === null || value === '';
}

function parseMeta(text: string | null): Meta {
  if (text === null) return {};
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Meta) : {};
}

/** `current` with `changes` merged by key; empty values remove their key. Null when nothing is left. */
export function mergeMeta(current: Meta, changes: object): string | null {
  const merged: Meta = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (isEmptyValue(value)) delete merged[key];
    else merged[key] = value;
  }
  return Object.keys(merged).length > 0 ? JSON.stringify(merged) : null;
}

/** `component_id` and `component_status` come together (0 unlinks, and then takes no status). */
function componentPairProblems(input: { component_id?: number; component_status?: number }): string[] {
  const { component_id: id, component_status: status } = input;
  if (status !== undefined && id === undefined) return ['The component id field is required when component status is present.'];
  if (id !== undefined && id > 0 && status === undefined) return ['The component status field is required when component id is present.'];
  if (id === 0 && status !== undefined) return ['The component status field needs a component, but component id is 0.'];
  return [];
}

function parseOccurredAt(text: string | undefined, zone: string, problems: string[]): string | undefined {
  if (text === undefined) return undefined;
  const parsed = parseCachetTime(text, zone);
  if (parsed === null) problems.push(OCCURRED_AT_INVALID);
  return parsed ?? undefined;
}

/** The component as a template sees it: only what a guest may see (the rendered message is public). */
function templateComponent(row: ComponentRow | undefined, status: number | undefined) {
  if (!row) return null;
  const effective = status ?? row.status;
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    link: row.link,
    status: effective,
    status_name: COMPONENT_STATUS_NAMES[effective] ?? 'Unknown',
    order: row.order,
    group_id: row.group_id,
    enabled: row.enabled === 1,
  };
}

/** The instant an incident was fixed: its newest update when that is Fixed, else the newest Fixed update (or last change) of a Fixed incident. */
function fixedAt(row: IncidentRow, updates: IncidentUpdateRow[]): string | null {
  const latest = updates[0];
  if (latest?.status === FIXED) return latest.created_at;
  if (row.status !== FIXED) return null;
  return updates.find((u) => u.status === FIXED)?.created_at ?? row.updated_at;
}

/** A stored incident in Cachet's response shape; `updates` are its updates, newest first. */
export function presentIncident(row: IncidentRow, updates: IncidentUpdateRow[], view: IncidentView, now: Date): Incident {
  const latest = updates[0];
  const latestStatus = latest?.status ?? row.status;
  const meta = parseMeta(row.meta);
  const end = fixedAt(row, updates);
  const endMs = end === null ? now.getTime() : Date.parse(end);
  return {
    id: row.id,
    component_id: row.component_id,
    name: row.name,
    status: row.status,
    visible: row.visible,
    stickied: row.stickied === 1,
    notifications: row.notifications === 1,
    message: row.message,
    user_id: row.user_id,
    occurred_at: formatCachetTime(row.occurred_at, view.zone)!,
    created_at: formatCachetTime(row.created_at, view.zone)!,
    updated_at: formatCachetTime(row.updated_at, view.zone)!,
    deleted_at: formatCachetTime(row.deleted_at, view.zone),
    is_resolved: row.status === FIXED || latest?.status === FIXED,
    updates: updates.map((u) => presentIncidentUpdate(u, view)),
    meta: Object.keys(meta).length > 0 ? meta : [],
    human_status: INCIDENT_STATUS_NAMES[row.status] ?? String(row.status),
    latest_update_id: latest?.id ?? null,
    // As Cachet 2.4: with no updates, the latest_* fields describe the incident itself.
    latest_status: latestStatus,
    latest_human_status: INCIDENT_STATUS_NAMES[latestStatus] ?? String(latestStatus),
    latest_icon: INCIDENT_STATUS_ICONS[latestStatus] ?? '',
    permalink: incidentPermalink(row.id, view),
    duration: Math.max(0, Math.floor((endMs - Date.parse(row.occurred_at)) / 1000)),
  };
}

/** Who writes an incident: the zone wall times are read in, and whether the caller may see hidden components. */
export interface IncidentWriteContext {
  zone: string;
  /** True for a caller holding `components.read`: it may link disabled components and those of hidden groups. */
  seesHiddenComponents: boolean;
}

export interface IncidentsServiceDeps {
  repo: IncidentsRepo;
  updatesRepo: IncidentUpdatesRepo;
  componentsRepo: ComponentsRepo;
  templates: IncidentTemplatesService;
  clock: Clock;
}

/** Builds the incidents service. */
export function createIncidentsService({ repo, updatesRepo, componentsRepo, templates, clock }: IncidentsServiceDeps) {
  async function present(db: Executor, rows: IncidentRow[], view: IncidentView): Promise<Incident[]> {
    const updates = await updatesRepo.ofIncidents(db, rows.map((r) => r.id));
    const now = clock.now();
    return rows.map((row) => presentIncident(row, updates.get(row.id) ?? [], view, now));
  }

  /**
   * The live component `id` as the caller may see it; one that is missing, or hidden from a caller
   * who may not see hidden components, is the same 400, so the answer reveals nothing.
   */
  async function linkedComponent(db: Executor, id: number | undefined, context: IncidentWriteContext): Promise<ComponentRow | undefined> {
    if (id === undefined || id === 0) return undefined;
    const component = await componentsRepo.find(db, id, { guest: !context.seesHiddenComponents });
    if (!component) throw invalid([`The component id ${id} does not name a known component.`]);
    return component;
  }

  /** The component as guests see it, for a template: a hidden one is not shown at all. */
  async function publicComponent(db: Executor, id: number | undefined): Promise<ComponentRow | undefined> {
    return id === undefined || id === 0 ? undefined : componentsRepo.find(db, id, { guest: true });
  }

  async function setComponentStatus(trx: Executor, component: ComponentRow | undefined, status: number | undefined, at: string): Promise<void> {
    if (!component || status === undefined) return;
    const after = await componentsRepo.update(trx, component.id, { status, updated_at: at });
    // The component's own change, audited as a component update beside the incident's, and kept in its history.
    if (after.status !== component.status) {
      updated(trx, 'components', { before: component, after });
      await componentsRepo.recordStatus(trx, component.id, status, at);
    }
  }

  return {
    present,

    /** One page of live incidents; guests (`includeHidden` false) see visible ones only. */
    async list(db: Executor, filters: IncidentFilters, page: PageRequest, includeHidden: boolean, view: IncidentView) {
      if (!includeHidden && filters.visible === false) return { total: 0, items: [] };
      const effective = includeHidden ? filters : { ...filters, visible: true };
      const { total, rows } = await repo.list(db, effective, page);
      return { total, items: await present(db, rows, view) };
    },

    /** A live incident, or null when it does not exist or the caller may not see it. */
    async show(db: Executor, id: number, includeHidden: boolean, view: IncidentView): Promise<Incident | null> {
      const row = await repo.find(db, id);
      if (!row || (!includeHidden && row.visible !== 1)) return null;
      return (await present(db, [row], view))[0]!;
    },

    /** Creates an incident and, in the same transaction, sets its component's status. Wall times are read in the context's zone. */
    async create(trx: Executor, input: CreateIncidentInput, context: IncidentWriteContext): Promise<IncidentRow> {
      const zone = context.zone;
      const problems = componentPairProblems(input);
      const occurredAt = parseOccurredAt(input.occurred_at, zone, problems);
      if (input.template === undefined && (input.message ?? '').trim() === '') problems.push(MESSAGE_REQUIRED);
      if (problems.length > 0) throw invalid(problems);
      const component = await linkedComponent(trx, input.component_id, context);

      const now = clock.now();
      const at = toStoredTime(now);
      const fields = {
        name: input.name,
        status: input.status,
        visible: input.visible ?? true,
        stickied: input.stickied ?? false,
        notify: input.notify ?? true,
        occurred_at: occurredAt ?? at,
      };
      let message = input.message ?? '';
      if (input.template !== undefined) {
        message = await templates.render(trx, input.template, {
          ...input.vars,
          incident: {
            ...fields,
            message,
            occurred_at: formatCachetTime(fields.occurred_at, zone),
            component: templateComponent(await publicComponent(trx, component?.id), input.component_status),
            component_status: input.component_status ?? null,
          },
        });
        if (message.trim() === '') throw invalid([MESSAGE_REQUIRED]);
      }

      const meta = input.meta === undefined ? null : mergeMeta({}, input.meta);
      const row = await repo.insert(trx, {
        component_id: component?.id ?? 0,
        name: fields.name,
        status: fields.status,
        visible: fields.visible ? 1 : 0,
        stickied: fields.stickied ? 1 : 0,
        notifications: fields.notify ? 1 : 0,
        message,
        user_id: null,
        occurred_at: fields.occurred_at,
        meta,
        created_at: at,
        updated_at: at,
        deleted_at: null,
      });
      await setComponentStatus(trx, component, input.component_status, at);
      return created(trx, 'incidents', row);
    },

    /**
     * Changes only the fields given (unlike Cachet 2.4, an omitted `visible` or `stickied` stays as it
     * was); `meta` merges by key; `template` re-renders the message. Null when missing.
     */
    async update(trx: Executor, id: number, input: UpdateIncidentInput, context: IncidentWriteContext): Promise<{ before: IncidentRow; after: IncidentRow } | null> {
      const zone = context.zone;
      const before = await repo.find(trx, id);
      if (!before) return null;
      // zabbix-cachet sends `component_status` alone on PUT: it means the incident's own component.
      const statusFor = input.component_status !== undefined && input.component_id === undefined && before.component_id > 0 ? before.component_id : input.component_id;
      const problems = componentPairProblems({ component_id: statusFor, component_status: input.component_status });
      const occurredAt = parseOccurredAt(input.occurred_at, zone, problems);
      if (input.template === undefined && input.message !== undefined && input.message.trim() === '') problems.push(MESSAGE_REQUIRED);
      if (problems.length > 0) throw invalid(problems);
      const component = await linkedComponent(trx, statusFor, context);

      const at = toStoredTime(clock.now());
      let message = input.message;
      if (input.template !== undefined) {
        const shown = await publicComponent(trx, input.component_id ?? before.component_id);
        const effectiveOccurredAt = occurredAt ?? before.occurred_at;
        message = await templates.render(trx, input.template, {
          ...input.vars,
          incident: {
            name: input.name ?? before.name,
            status: input.status ?? before.status,
            message: input.message ?? before.message,
            visible: input.visible ?? before.visible === 1,
            notify: input.notify ?? before.notifications === 1,
            stickied: input.stickied ?? before.stickied === 1,
            occurred_at: formatCachetTime(effectiveOccurredAt, zone),
            component: templateComponent(shown, input.component_status),
            component_status: input.component_status ?? shown?.status ?? null,
          },
        });
        if (message.trim() === '') throw invalid([MESSAGE_REQUIRED]);
      }

      const after = await repo.update(trx, id, {
        ...(input.name !== undefined && { name: input.name }),
        ...(input.status !== undefined && { status: input.status }),
        ...(message !== undefined && { message }),
        ...(input.visible !== undefined && { visible: input.visible ? 1 : 0 }),
        ...(input.stickied !== undefined && { stickied: input.stickied ? 1 : 0 }),
        ...(input.notify !== undefined && { notifications: input.notify ? 1 : 0 }),
        ...(input.component_id !== undefined && { component_id: input.component_id }),
        ...(occurredAt !== undefined && { occurred_at: occurredAt }),
        ...(input.meta !== undefined && { meta: mergeMeta(parseMeta(before.meta), input.meta) }),
        updated_at: at,
      });
      await setComponentStatus(trx, component, input.component_status, at);
      return updated(trx, 'incidents', { before, after });
    },

    /** Soft-deletes an incident (its updates stay, unreachable); null when missing. */
    async remove(trx: Executor, id: number): Promise<IncidentRow | null> {
      const row = await repo.find(trx, id);
      if (!row) return null;
      await repo.softDelete(trx, id, toStoredTime(clock.now()));
      return removed(trx, 'incidents', row);
    },

    /** Live incidents not yet fixed, for the system status; guests count visible ones only. */
    unresolvedCount(db: Executor, includeHidden: boolean): Promise<number> {
      return repo.countUnresolved(db, includeHidden);
    },
  };
}

export type IncidentsService = ReturnType<typeof createIncidentsService>;
