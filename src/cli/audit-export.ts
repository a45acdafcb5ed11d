/** `cachet audit export [--since DATE] [--until DATE]`: the audit trail as NDJSON on stdout, in chain order. */
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { loadConfig } from '../config.js';
import type { Executor } from '../db/database.js';
import { eventOfRow } from '../features/audit/audit.chain.js';
import { createAuditRepo } from '../features/audit/audit.repo.js';
import { eventLine } from '../features/audit/audit.sinks.js';
import { toStoredTime } from '../infra/time.js';
import { openMigratedDatabase } from '../compose.js';
import { action, CliError } from './run.js';

/** Events read per query: memory stays bounded whatever the trail's length. */
const BATCH = 1000;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** An option's ISO 8601 date (midnight UTC) or date and time with `Z` or an offset, in the stored form. */
function isoOption(option: string, text: string): string {
  const parsed = ISO_DATE.test(text) ? DateTime.fromISO(text, { zone: 'utc' }) : null;
  const stored = parsed?.isValid ? toStoredTime(parsed.toJSDate()) : null;
  if (stored === null || !/^\d{4}-/.test(stored)) {
    throw new CliError(`${option} must be an ISO 8601 date (2026-11-25, midnight UTC) or a time with Z or an offset (2026-11-25T12:00:00Z), got "${text}"`);
  }
  return stored;
}

/** Writes `text` to stdout once it has room; false when the reader went away (`| head`). */
function write(text: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => {
      if (!err) resolve(true);
      else if ((err as NodeJS.ErrnoException).code === 'EPIPE') resolve(false);
      else reject(err);
    });
  });
}

/** Writes every event in [since, until) as one line, reading `BATCH` at a time in chain order. */
async function exportEvents(db: Executor, window: { since?: string; until?: string }): Promise<void> {
  const repo = createAuditRepo();
  let cursor = 0;
  for (;;) {
    const rows = await repo.after(db, cursor, BATCH, window);
    if (rows.length === 0) return;
    if (!(await write(rows.map((row) => eventLine(eventOfRow(row)) + '\n').join('')))) return;
    cursor = Number(rows[rows.length - 1]!.seq);
  }
}

/** Adds `export` to the `audit` command group. */
export function auditExportCommand(audit: Command): void {
  audit
    .command('export')
    .description('print events as NDJSON in chain order, each with its hash (anyone can recompute the chain)')
    .option('--since <date>', 'only events at or after this ISO 8601 date or time, e.g. 2026-11-01 or 2026-11-01T08:00:00Z')
    .option('--until <date>', 'only events before this ISO 8601 date or time')
    .action(
      action(async (options: { since?: string; until?: string }) => {
        const since = options.since === undefined ? undefined : isoOption('--since', options.since);
        const until = options.until === undefined ? undefined : isoOption('--until', options.until);
        if (since !== undefined && until !== undefined && since >= until) throw new CliError('--since must be before --until');
        const config = loadConfig();
        const database = await openMigratedDatabase(config);
        try {
          await exportEvents(database.db, { since, until });
        } finally {
          await database.close();
        }
      }),
    );
}
