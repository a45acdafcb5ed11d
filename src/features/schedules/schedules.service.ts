/** Schedule rules: date parsing in the caller's zone, soft delete and the Cachet 2.4 response shape. */
import type { Executor } from '../../db/database.js';
import { created, removed, updated } from '../audit/audit.changes.js';
import type { PageRequest } from '../../db/paging.js';
import { validationError } from '../../http/errors.js';
import type { Clock } from '../../infra/clock.js';
import { formatCachetTime, parseCachetTime, toStoredTime } from '../../infra/time.js';
import type { ScheduleRow, SchedulesRepo } from './schedules.repo.js';
import { SCHEDULE_STATUS_NAMES, type CreateScheduleInput, type Schedule, type UpdateScheduleInput } from './schedules.schema.js';

/** A stored schedule in Cachet's response shape, times in `zone`; `completed_at` stays null when unset. */
export function presentSchedule(row: ScheduleRow, zone: string): Schedule {
  return {
    id: row.id,
    name: row.name,
    message: row.message,
    status: row.status,
    scheduled_at: formatCachetTime(row.scheduled_at, zone)!,
    completed_at: formatCachetTime(row.completed_at, zone),
    created_at: formatCachetTime(row.created_at, zone)!,
    updated_at: formatCachetTime(row.updated_at, zone)!,
    deleted_at: formatCachetTime(row.deleted_at, zone),
    components: [],
    human_status: SCHEDULE_STATUS_NAMES[row.status] ?? SCHEDULE_STATUS_NAMES[0],
  };
}

/**
 * Parses the date fields a request gave, in `zone`; every unparseable one is reported together.
 * `completed_at: ""` means "clear it" (null).
 */
function parseDates(input: { scheduled_at?: string; completed_at?: string }, zone: string): { scheduled_at?: string; completed_at?: string | null } {
  const out: { scheduled_at?: string; completed_at?: string | null } = {};
  const errors: string[] = [];
  if (input.scheduled_at !== undefined) {
    const parsed = parseCachetTime(input.scheduled_at, zone);
    if (parsed === null) errors.push(invalidDate('scheduled at'));
    else out.scheduled_at = parsed;
  }
  if (input.completed_at !== undefined) {
    if (input.completed_at.trim() === '') out.completed_at = null;
    else {
      const parsed = parseCachetTime(input.completed_at, zone);
      if (parsed === null) errors.push(invalidDate('completed at'));
      else out.completed_at = parsed;
    }
  }
  if (errors.length > 0) throw validationError(errors);
  return out;
}

function invalidDate(attribute: string): string {
  return `The ${attribute} is not a valid date (use Y-m-d H:i, Y-m-d H:i:s or ISO 8601).`;
}

export interface SchedulesServiceDeps {
  repo: SchedulesRepo;
  clock: Clock;
}

/** Creates the schedules service. */
export function createSchedulesService({ repo, clock }: SchedulesServiceDeps) {
  return {
    /** One page of live schedules. */
    async list(db: Executor, page: PageRequest, zone: string) {
      const { total, rows } = await repo.list(db, page);
      return { total, items: rows.map((row) => presentSchedule(row, zone)) };
    },

    /** A live schedule, or null. */
    async show(db: Executor, id: number, zone: string): Promise<Schedule | null> {
      const row = await repo.find(db, id);
      return row ? presentSchedule(row, zone) : null;
    },

    /** Stores a schedule; dates are read in `zone` (the request's Time-Zone). `components` and `notify` are ignored. */
    async create(trx: Executor, input: CreateScheduleInput, zone: string): Promise<ScheduleRow> {
      const dates = parseDates(input, zone);
      const at = toStoredTime(clock.now());
      return created(trx, 'schedules', await repo.insert(trx, {
        name: input.name,
        message: input.message ?? '',
        status: input.status,
        scheduled_at: dates.scheduled_at!,
        completed_at: dates.completed_at ?? null,
        created_at: at,
        updated_at: at,
        deleted_at: null,
      }));
    },

    /** Changes only the fields given. Null when missing or deleted. */
    async update(trx: Executor, id: number, input: UpdateScheduleInput, zone: string): Promise<{ before: ScheduleRow; after: ScheduleRow } | null> {
      const dates = parseDates(input, zone);
      const before = await repo.find(trx, id);
      if (!before) return null;
      const after = await repo.update(trx, id, {
        ...(input.name !== undefined && { name: input.name }),
        ...(input.message !== undefined && { message: input.message }),
        ...(input.status !== undefined && { status: input.status }),
        ...(dates.scheduled_at !== undefined && { scheduled_at: dates.scheduled_at }),
        ...(dates.completed_at !== undefined && { completed_at: dates.completed_at }),
        updated_at: toStoredTime(clock.now()),
      });
      return updated(trx, 'schedules', { before, after });
    },

    /** Soft-deletes a schedule. Null when missing. */
    async remove(trx: Executor, id: number): Promise<ScheduleRow | null> {
      const row = await repo.find(trx, id);
      if (!row) return null;
      await repo.softDelete(trx, id, toStoredTime(clock.now()));
      return removed(trx, 'schedules', row);
    },
  };
}

export type SchedulesService = ReturnType<typeof createSchedulesService>;
