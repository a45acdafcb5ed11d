/** Incident update rules: scoped to their incident, and an update's status becomes the incident's. */
import type { Executor } from '../../db/database.js';
import { created, removed, updated } from '../audit/audit.changes.js';
import type { PageRequest } from '../../db/paging.js';
import type { Clock } from '../../infra/clock.js';
import { formatCachetTime, toStoredTime } from '../../infra/time.js';
import type { IncidentUpdateRow, IncidentUpdatesRepo } from './incident-updates.repo.js';
import type { CreateIncidentUpdateInput, IncidentUpdate, UpdateIncidentUpdateInput } from './incident-updates.schema.js';
import type { IncidentRow, IncidentsRepo } from './incidents.repo.js';
import { INCIDENT_STATUS_NAMES } from './incidents.schema.js';

/** How a response is rendered for one request: its time zone and the site's absolute base URL. */
export interface IncidentView {
  zone: string;
  /** `<protocol>://<host>`, for permalinks. */
  baseUrl: string;
}

/** The status-page URL of an incident. */
export function incidentPermalink(incidentId: number, view: IncidentView): string {
  return `${view.baseUrl}/incidents/${incidentId}`;
}

/** A stored update in Cachet's response shape. */
export function presentIncidentUpdate(row: IncidentUpdateRow, view: IncidentView): IncidentUpdate {
  return {
    id: row.id,
    incident_id: row.incident_id,
    status: row.status,
    message: row.message,
    user_id: row.user_id,
    created_at: formatCachetTime(row.created_at, view.zone)!,
    updated_at: formatCachetTime(row.updated_at, view.zone)!,
    human_status: INCIDENT_STATUS_NAMES[row.status] ?? String(row.status),
    permalink: `${incidentPermalink(row.incident_id, view)}#update-${row.id}`,
  };
}

export interface IncidentUpdatesServiceDeps {
  repo: IncidentUpdatesRepo;
  incidentsRepo: IncidentsRepo;
  clock: Clock;
}

/** Builds the incident-updates service. Every method answers null when the incident or the update is not there. */
export function createIncidentUpdatesService({ repo, incidentsRepo, clock }: IncidentUpdatesServiceDeps) {
  /** The live incident, if the caller may see it (guests see visible incidents only). */
  async function parent(db: Executor, incidentId: number, includeHidden: boolean): Promise<IncidentRow | null> {
    const incident = await incidentsRepo.find(db, incidentId);
    if (!incident || (!includeHidden && incident.visible !== 1)) return null;
    return incident;
  }

  async function takeStatus(trx: Executor, incidentId: number, status: number, at: string): Promise<void> {
    await incidentsRepo.update(trx, incidentId, { status, updated_at: at });
  }

  return {
    /** One page of an incident's updates, newest first. */
    async list(db: Executor, incidentId: number, page: PageRequest, includeHidden: boolean, view: IncidentView) {
      if (!(await parent(db, incidentId, includeHidden))) return null;
      const { total, rows } = await repo.list(db, incidentId, page);
      return { total, items: rows.map((row) => presentIncidentUpdate(row, view)) };
    },

    async show(db: Executor, incidentId: number, id: number, includeHidden: boolean, view: IncidentView): Promise<IncidentUpdate | null> {
      if (!(await parent(db, incidentId, includeHidden))) return null;
      const row = await repo.find(db, incidentId, id);
      return row ? presentIncidentUpdate(row, view) : null;
    },

    /** Adds an update; the incident takes its status. */
    async create(trx: Executor, incidentId: number, input: CreateIncidentUpdateInput): Promise<IncidentUpdateRow | null> {
      if (!(await parent(trx, incidentId, true))) return null;
      const at = toStoredTime(clock.now());
      const row = await repo.insert(trx, { incident_id: incidentId, status: input.status, message: input.message, user_id: null, created_at: at, updated_at: at });
      await takeStatus(trx, incidentId, input.status, at);
      return created(trx, 'incident-updates', row);
    },

    /** Changes only the fields given; a new status becomes the incident's. */
    async update(trx: Executor, incidentId: number, id: number, input: UpdateIncidentUpdateInput): Promise<{ before: IncidentUpdateRow; after: IncidentUpdateRow } | null> {
      if (!(await parent(trx, incidentId, true))) return null;
      const before = await repo.find(trx, incidentId, id);
      if (!before) return null;
      const at = toStoredTime(clock.now());
      const after = await repo.update(trx, id, {
        ...(input.status !== undefined && { status: input.status }),
        ...(input.message !== undefined && { message: input.message }),
        updated_at: at,
      });
      if (input.status !== undefined) await takeStatus(trx, incidentId, input.status, at);
      return updated(trx, 'incident-updates', { before, after });
    },

    /** Deletes an update (hard, as Cachet does); the incident keeps its status. */
    async remove(trx: Executor, incidentId: number, id: number): Promise<IncidentUpdateRow | null> {
      if (!(await parent(trx, incidentId, true))) return null;
      const row = await repo.find(trx, incidentId, id);
      if (!row) return null;
      await repo.delete(trx, id);
      return removed(trx, 'incident-updates', row);
    },
  };
}

export type IncidentUpdatesService = ReturnType<typeof createIncidentUpdatesService>;
