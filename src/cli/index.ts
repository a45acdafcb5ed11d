/**
 * The `cachet` command. A command loads only what it uses: `serve` imports the HTTP app when it
 * runs, and only the command group named on the command line is loaded (every group for help or
 * an unknown command), so `cachet keys list` starts without Fastify, the routes or Redis.
 */
import { Command } from 'commander';
import { VERSION } from '../compose.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { action, printJson } from './run.js';

const program = new Command();
program.name('cachet').description('Cachet TS: a Cachet API v1 status-page server with scoped, expiring, checksummed API keys').version(VERSION);

program
  .command('serve')
  .description('migrate the database and serve the API (HOST:PORT, default 127.0.0.1:8000)')
  .action(
    action(async () => {
      const config = loadConfig();
      const [{ createLogger }, { serve }] = await Promise.all([import('../logger.js'), import('../main.js')]);
      const logger = createLogger(config.logLevel);
      const server = await serve(config, logger);
      const stop = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        server.close().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // Only once the handlers are in place: a supervisor that stops us as soon as we say we
      // listen must get a graceful shutdown, not the default kill.
      logger.info({ address: server.address }, 'listening');
    }),
  );

program
  .command('migrate')
  .description('bring the database schema up to date (also done by serve)')
  .option('--json', 'print JSON')
  .action(
    action(async (options: { json?: boolean }) => {
      const config = loadConfig();
      const database = openDatabase(config.databaseUrl);
      try {
        const applied = await migrateToLatest(database);
        if (options.json) printJson({ applied });
        else process.stdout.write(applied.length === 0 ? 'schema is up to date\n' : `applied ${applied.join(', ')}\n`);
      } finally {
        await database.close();
      }
    }),
  );

const groups: Record<string, () => Promise<(program: Command) => void>> = {
  keys: async () => (await import('./keys.js')).keysCommand,
  audit: async () => (await import('./audit.js')).auditCommand,
  users: async () => (await import('./users.js')).usersCommand,
  notifications: async () => (await import('./notifications.js')).notificationsCommand,
};
const named = process.argv[2];
for (const [name, load] of Object.entries(groups)) {
  if (named === undefined || !Object.hasOwn(groups, named) || named === name) (await load())(program);
}

await program.parseAsync(process.argv);
