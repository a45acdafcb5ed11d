/**
 * The composition pieces that need no HTTP app: the database, key administration, scheduled
 * rotation and the audit writer, for `cachet serve` (main.ts, which re-exports them) and the CLI's
 * other commands, which import this module so that they load neither Fastify nor the routes.
 */
import { readFileSync } from 'node:fs';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createCheckpointer, type Checkpointer } from './features/audit/audit.checkpoints.js';
import { createAuditRepo } from './features/audit/audit.repo.js';
import { loadSigner, type CheckpointSigner } from './features/audit/audit.signing.js';
import type { AuditContext } from './features/audit/audit.types.js';
import { createAuditWriter, type AuditWriter } from './features/audit/audit.writer.js';
import { administerKeys, type KeysAdmin } from './features/keys/keys.admin.js';
import { createDeliverer } from './features/keys/keys.delivery.js';
import { createKeysRepo } from './features/keys/keys.repo.js';
import { createKeysService, type KeysService } from './features/keys/keys.service.js';
import { createRotationScheduler, type RotationScheduler } from './features/keys/keys.rotation.js';
import { createUsersService, type UsersService } from './features/users/users.service.js';
import { systemClock, type Clock } from './infra/clock.js';

/** This package's version. */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Opens the configured database and brings its schema up to date. */
export async function openMigratedDatabase(config: Pick<Config, 'databaseUrl'>, onIdleError?: (err: Error) => void): Promise<Database> {
  const database = openDatabase(config.databaseUrl, { onIdleError });
  try {
    await migrateToLatest(database);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}

/** The audit writer over a database (the server's and the CLI's). */
export function auditWriterFor(config: Pick<Config, 'pepper'>, clock: Clock = systemClock): AuditWriter {
  return createAuditWriter({ repo: createAuditRepo(), clock, pepper: config.pepper });
}

/** Checkpoints of the trail, signed with the configured key (generated into the data folder on first use). */
export function checkpointerFor(database: Database, config: Pick<Config, 'auditSigningKey' | 'dataDir'>, clock: Clock = systemClock): Checkpointer {
  let signer: CheckpointSigner | null = null;
  return createCheckpointer({ db: database.db, clock, signer: () => (signer ??= loadSigner(config, { create: true })!) });
}

/**
 * Key administration outside a request (the CLI, the bootstrap key, tests): each change in its
 * own transaction, audited under `context` (for the CLI, the system actor and the command).
 */
export function keysAdminFor(database: Database, config: Config, context: AuditContext, clock: Clock = systemClock): KeysAdmin {
  return administerKeys(keysServiceFor(database, config, clock), database.db, auditWriterFor(config, clock), context);
}

/** The keys service over a database, for the server and the CLI alike. */
export function keysServiceFor(database: Database, config: Config, clock: Clock = systemClock): KeysService {
  return createKeysService({
    db: database.db,
    repo: createKeysRepo(),
    pepper: config.pepper,
    clock,
    keyMaxTtlMs: config.keyMaxTtlMs,
    keyDefaultTtlMs: config.keyDefaultTtlMs,
  });
}

/**
 * Scheduled rotation over a database (the server's timer and `cachet keys rotate --due`), acting
 * as the system actor under `context`.
 */
export function rotationSchedulerFor(
  database: Database,
  config: Config,
  context: AuditContext,
  clock: Clock = systemClock,
  keysChanged?: () => void,
): RotationScheduler {
  return createRotationScheduler({
    db: database.db,
    keys: keysServiceFor(database, config, clock),
    writer: auditWriterFor(config, clock),
    deliverer: createDeliverer({ allowPrivate: config.webhookAllowPrivate, timeoutMs: config.deliveryTimeoutMs }),
    clock,
    context,
    ...(keysChanged ? { keysChanged } : {}),
  });
}


/** Dashboard users over a database: the server's sign-in and the CLI's `cachet users`. */
export function usersServiceFor(database: Database, config: Config, clock: Clock = systemClock): UsersService {
  return createUsersService({ clock, keys: keysServiceFor(database, config, clock) });
}
