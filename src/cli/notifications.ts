/** `cachet notifications held|release|drop`: the batches the amplification guard held, on the database directly. */
import type { Command } from 'commander';
import { auditWriterFor, openMigratedDatabase } from '../compose.js';
import { loadConfig } from '../config.js';
import { createAudited } from '../features/audit/audited.js';
import { systemContext } from '../features/audit/audit.types.js';
import { heldNotifications, type HeldBatch } from '../features/notifications/notifications.held.js';
import { createQueue } from '../infra/queue.js';
import { systemClock } from '../infra/clock.js';
import { action, CliError, printJson } from './run.js';

function line(batch: HeldBatch): string {
  return `${String(batch.id).padEnd(7)} key ${String(batch.key_id ?? '-').padEnd(6)} ${batch.event_type.padEnd(26)} ${batch.held_at}  ${batch.subject}`;
}

async function withHeld<T>(work: (held: ReturnType<typeof heldNotifications>, audited: ReturnType<typeof createAudited>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openMigratedDatabase(config);
  try {
    const queue = createQueue({ db: database.db, dialect: database.dialect, clock: systemClock });
    return await work(heldNotifications(queue), createAudited(database.db, auditWriterFor(config)));
  } finally {
    await database.close();
  }
}

export function notificationsCommand(program: Command): void {
  const group = program.command('notifications').description('notifications held by the amplification guard: list, release, drop');

  group
    .command('held')
    .description('list held notification batches (a key made more notifying writes in an hour than CACHET_NOTIFY_BUDGET)')
    .option('--json', 'print JSON')
    .action(
      action(async (options: { json?: boolean }) => {
        const list = await withHeld((held) => held.list());
        if (options.json) printJson(list);
        else process.stdout.write(list.length === 0 ? 'no held notifications\n' : list.map(line).join('\n') + '\n');
      }),
    );

  for (const decision of ['release', 'drop'] as const) {
    group
      .command(`${decision} <ids...>`)
      .description(decision === 'release' ? 'send held batches (each id as `held` lists it)' : 'discard held batches: their notifications are never sent')
      .option('--json', 'print JSON')
      .action(
        action(async (ids: string[], options: { json?: boolean }) => {
          const numbers = ids.map((id) => {
            if (!/^\d{1,10}$/.test(id)) throw new CliError(`"${id}" is not a batch id`);
            return Number(id);
          });
          const done = await withHeld((held, audited) =>
            audited(systemContext(`cachet notifications ${decision}`), async (trx) => {
              const results: HeldBatch[] = [];
              for (const id of numbers) {
                const batch = await held.decide(trx, id, decision);
                // All or nothing: one unknown id changes none.
                if (!batch) throw new CliError(`no held batch with id ${id}`);
                results.push(batch);
              }
              return results;
            }),
          );
          if (options.json) printJson(done);
          else process.stdout.write(`${decision === 'release' ? 'released' : 'dropped'} ${done.map((b) => b.id).join(', ')}\n`);
        }),
      );
  }
}
