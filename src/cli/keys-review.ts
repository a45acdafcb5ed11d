/** `cachet keys review` and `cachet keys narrow`: least privilege from observed use, on the database directly. */
import type { Command } from 'commander';
import { auditWriterFor, keysServiceFor, openMigratedDatabase } from '../compose.js';
import { loadConfig } from '../config.js';
import { createAudited } from '../features/audit/audited.js';
import { systemContext } from '../features/audit/audit.types.js';
import { createNarrower, type ShadowState } from '../features/keys/keys.narrow.js';
import { createKeysRepo } from '../features/keys/keys.repo.js';
import { narrowingOf, reviewKeys, type KeyReview } from '../features/keys/keys.review.js';
import { systemClock } from '../infra/clock.js';
import { parseDuration } from '../infra/duration.js';
import { action, CliError, printJson } from './run.js';

function days(text: string): number {
  if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > 365) throw new CliError(`--days must be a whole number of days from 1 to 365; got "${text}"`);
  return Number(text);
}

const SEVERITY_ORDER = { high: 0, medium: 1, low: 2 } as const;

/** A review as a person reads it: one block per key with findings. */
export function reviewText(reviews: readonly KeyReview[], window: number): string {
  const lines: string[] = [];
  const flagged = reviews.filter((r) => r.findings.length > 0);
  for (const review of flagged) {
    lines.push(`key ${review.id} ${review.name} (${review.prefix}…)  ${review.purpose ?? '(no purpose)'}`);
    lines.push(`  scopes ${review.scopes.join(', ')}; used ${review.usage.events} time(s) in ${window} days${review.usage.addresses.length ? ` from ${review.usage.addresses.join(', ')}` : ''}`);
    for (const finding of [...review.findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity])) {
      lines.push(`  ${finding.severity.padEnd(6)} ${finding.code}: ${finding.reason}`);
    }
    if (review.suggestion && Object.keys(review.changes).length > 0) {
      const s = review.suggestion;
      lines.push(`  suggest  scopes ${s.scopes.join(', ')}${s.resources ? `; resources ${Object.entries(s.resources).map(([r, ids]) => `${r}:${ids.join(',')}`).join(';')}` : ''}${s.allowed_ips ? `; allowed IPs ${s.allowed_ips.join(', ')}` : ''}  (cachet keys narrow ${review.id} --apply)`);
    } else if (review.suggestion === null) {
      lines.push(`  suggest  revoke it (cachet keys revoke ${review.id})`);
    }
  }
  lines.push(`${reviews.length} active key(s) reviewed over ${window} days; ${flagged.length} with findings`);
  return lines.join('\n') + '\n';
}

export function keyReviewCommands(keys: Command): void {
  keys
    .command('review')
    .description("review every active key against its audit events: unused scopes, suggested limits, unused keys, `*`, missing rotation policies, owners and purposes")
    .option('--days <n>', 'the window of audit events looked at, in days', '30')
    .option('--json', 'print JSON')
    .action(
      action(async (options: { days: string; json?: boolean }) => {
        const window = days(options.days);
        const config = loadConfig();
        const database = await openMigratedDatabase(config);
        try {
          const reviews = await reviewKeys(database.db, { now: systemClock.now(), days: window, rotationAgeMs: config.keyReviewRotationAgeMs });
          if (options.json) printJson({ days: window, keys: reviews });
          else process.stdout.write(reviewText(reviews, window));
        } finally {
          await database.close();
        }
      }),
    );

  keys
    .command('narrow <id>')
    .description('narrow a key to what it was seen to use: prints what would change; --apply changes it; --shadow tries it in report-only mode first')
    .option('--apply', 'make the change now (one audited change)')
    .option('--shadow', 'report-only: the key keeps working, every request the narrower key would refuse is audited (shadow_denied); at the end of a quiet period the narrowing is applied')
    .option('--for <duration>', 'with --shadow: how long (default 14d)', '14d')
    .option('--propose', 'with --shadow: at the end of a quiet period only propose the narrowing (the review shows it), do not apply it')
    .option('--days <n>', 'the window of audit events the suggestion comes from, in days', '30')
    .option('--json', 'print JSON')
    .action(
      action(async (idText: string, options: { apply?: boolean; shadow?: boolean; for: string; propose?: boolean; days: string; json?: boolean }) => {
        if (!/^\d{1,10}$/.test(idText)) throw new CliError(`"${idText}" is not a key id`);
        if (options.apply && options.shadow) throw new CliError('give --apply or --shadow, not both');
        const forMs = parseDuration(options.for);
        if (forMs === null) throw new CliError(`--for must be a duration such as 14d or 24h; got "${options.for}"`);
        const id = Number(idText);
        const config = loadConfig();
        const database = await openMigratedDatabase(config);
        try {
          const narrower = createNarrower({ keys: keysServiceFor(database, config), repo: createKeysRepo(), clock: systemClock });
          const review = await narrower.reviewOf(database.db, id, days(options.days), config.keyReviewRotationAgeMs);
          if (!review) throw new CliError(`no active key with id ${id}`);
          const narrowing = narrowingOf(review);
          const audited = createAudited(database.db, auditWriterFor(config));
          let shadow: ShadowState | null = null;
          if ((options.apply || options.shadow) && narrowing === null) {
            throw new CliError(review.suggestion === null ? `key ${id} was not used in the window: there is nothing to narrow it to; revoke it if nobody needs it` : `key ${id} is as narrow as its use already`);
          }
          if (options.apply) {
            const result = await audited(systemContext('cachet keys narrow'), (trx) => narrower.apply(trx, id, narrowing!));
            if (!result.ok) throw new CliError(result.error);
          } else if (options.shadow) {
            const result = await audited(systemContext('cachet keys narrow'), (trx) => narrower.shadow(trx, id, narrowing!, { forMs, onQuiet: options.propose ? 'propose' : 'apply' }));
            if (!result.ok) throw new CliError(result.error);
            shadow = result.shadow;
          }
          if (options.json) return printJson({ key_id: id, applied: options.apply ?? false, shadow, changes: review.changes, suggestion: review.suggestion, findings: review.findings });
          const changes = Object.entries(review.changes).map(([field, [was, now]]) => `  ${field}: ${JSON.stringify(was)} -> ${JSON.stringify(now)}`);
          const verb = options.apply ? 'narrowed' : options.shadow ? `narrowing in report-only mode until ${shadow?.until ?? ""} (then ${options.propose ? 'proposed' : 'applied'} if nothing would have been refused)` : 'would change (run with --apply, or --shadow to try it first)';
          process.stdout.write(changes.length === 0 ? `key ${id}: nothing to narrow\n` : `key ${id} ${verb}:\n${changes.join('\n')}\n`);
        } finally {
          await database.close();
        }
      }),
    );
}
