/** Composition root: config → logger → db → deps → buildApp → listen, and the bootstrap key. */
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { buildApp, type AppDeps } from './app.js';
import { createSessions } from './features/users/users.sessions.js';
import { createAudited } from './features/audit/audited.js';
import { createNarrower } from './features/keys/keys.narrow.js';
import { createReviewSchedule } from './features/keys/keys.review-schedule.js';
import { createPageSettingsService } from './features/settings/settings.service.js';
import { createNotificationJoiner } from './features/notifications/notifications.joiner.js';
import { createMailer } from './features/notifications/notifications.mailer.js';
import { notificationJobs } from './features/notifications/notifications.worker.js';
import { createQueue, createWorker, type Queue, type Worker } from './infra/queue.js';
import type { Config } from './config.js';
import { sqliteFiles, type Database } from './db/database.js';
import { auditWriterFor, checkpointerFor, keysAdminFor, keysServiceFor, openMigratedDatabase, rotationSchedulerFor, usersServiceFor, VERSION } from './compose.js';
import { createComponentGroupsRepo } from './features/component-groups/component-groups.repo.js';
import { createComponentGroupsService } from './features/component-groups/component-groups.service.js';
import { createComponentsRepo } from './features/components/components.repo.js';
import { createComponentsService } from './features/components/components.service.js';
import { createTemplateEngine } from './features/incident-templates/incident-templates.render.js';
import { createIncidentTemplatesRepo } from './features/incident-templates/incident-templates.repo.js';
import { createIncidentTemplatesService } from './features/incident-templates/incident-templates.service.js';
import { createIncidentUpdatesRepo } from './features/incidents/incident-updates.repo.js';
import { createIncidentUpdatesService } from './features/incidents/incident-updates.service.js';
import { createIncidentsRepo } from './features/incidents/incidents.repo.js';
import { createIncidentsService } from './features/incidents/incidents.service.js';
import { createSubscribersRepo } from './features/subscribers/subscribers.repo.js';
import { createSubscribersService } from './features/subscribers/subscribers.service.js';
import { createKeysRepo } from './features/keys/keys.repo.js';
import { createUsageRecorder } from './features/keys/keys.usage.js';
import { createKeyVerifier, type KeyVerifier } from './features/keys/keys.verify.js';
import { createMetricPointsRepo } from './features/metrics/metric-points.repo.js';
import { createMetricPointsService } from './features/metrics/metric-points.service.js';
import { createMetricsRepo } from './features/metrics/metrics.repo.js';
import { createMetricsService } from './features/metrics/metrics.service.js';
import { createSchedulesRepo } from './features/schedules/schedules.repo.js';
import { createSchedulesService } from './features/schedules/schedules.service.js';
import { createSystemService } from './features/system/system.service.js';
import type { ApiApp } from './http/app-types.js';
import type { TransactionJoiner } from './http/transact.js';
import { createAuditBatcher, type AuditBatcher } from './features/audit/audit.batcher.js';
import { startCheckpointTimer, type Checkpointer } from './features/audit/audit.checkpoints.js';
import { systemContext } from './features/audit/audit.types.js';
import type { AuditWriter } from './features/audit/audit.writer.js';
import type { KeysAdmin } from './features/keys/keys.admin.js';
import type { RotationScheduler } from './features/keys/keys.rotation.js';
import { createAuditRepo } from './features/audit/audit.repo.js';
import { createAuditShipper, type AuditShipper } from './features/audit/audit.shipper.js';
import { createAuditSink } from './features/audit/audit.sinks.js';
import { systemClock, type Clock } from './infra/clock.js';
import { exposedFiles, writeSecretFile } from './infra/secret-file.js';
import type { Redis as RedisClient } from 'ioredis';
import { memoryRateLimiter, redisRateLimiter, type RateLimiter } from './infra/rate-limit.js';
import { pollOnlyBus, redisChangeBus, type ChangeBus } from './infra/change-bus.js';

// The CLI imports these from compose.ts; the server, the tests and the benchmarks from here.
export { auditWriterFor, checkpointerFor, keysAdminFor, keysServiceFor, openMigratedDatabase, rotationSchedulerFor, VERSION };

/** A running application with the background work it owns. */
export interface Server {
  app: ApiApp;
  /** Key administration as the system actor (`cachet serve`). */
  keys: KeysAdmin;
  audit: { writer: AuditWriter; batcher: AuditBatcher; checkpointer: Checkpointer };
  /** Ships the audit trail to `CACHET_AUDIT_SINK`; null when no sink is configured. */
  auditShipper: AuditShipper | null;
  verifier: KeyVerifier;
  /** The background job queue and this instance's worker (notifications). */
  jobs: { queue: Queue; worker: Worker };
  /** Scheduled key rotation; its timer runs every `keyRotationIntervalMs`. */
  rotation: RotationScheduler;
  /** Logs keys newly inside the expiry warning window and audits keys newly expired (the timer's work, run now). */
  sweepKeyExpiry(): Promise<void>;
  /** Writes pending `last_used_*` updates now (they are otherwise batched). */
  flushKeyUsage(): Promise<void>;
  /** Stops background work, writes pending key usage and audit events, ships what it can, closes HTTP (the database is the caller's). */
  close(): Promise<void>;
}

/** Builds the deps and the app over an open, migrated database. */
export async function createServer(
  config: Config,
  logger: Logger,
  database: Database,
  clock: Clock = systemClock,
  transactionJoiners: TransactionJoiner[] = [],
): Promise<Server> {
  const keysRepo = createKeysRepo();
  const verifier = createKeyVerifier({ db: database.db, repo: keysRepo, pepper: config.pepper });
  const usage = createUsageRecorder({ db: database.db, repo: keysRepo });
  const componentsRepo = createComponentsRepo();
  const components = createComponentsService({ repo: componentsRepo, clock });
  const incidentsRepo = createIncidentsRepo();
  const incidentUpdatesRepo = createIncidentUpdatesRepo();
  const incidentTemplates = createIncidentTemplatesService({ repo: createIncidentTemplatesRepo(), engine: createTemplateEngine(), clock });
  const metricsRepo = createMetricsRepo();
  const metricPointsRepo = createMetricPointsRepo();
  const auditWriter = auditWriterFor(config, clock);
  const audit = {
    writer: auditWriter,
    batcher: createAuditBatcher({ db: database.db, writer: auditWriter }),
    checkpointer: checkpointerFor(database, config, clock),
  };
  const limits = sharedStateFor(config, logger);
  await limits.ready;
  // Notifications: changes enqueue their fan-out in their own transaction (the joiner); this
  // instance's worker (every instance runs one) delivers mails and webhooks from the queue.
  const pageSettings = createPageSettingsService({ defaults: { siteName: config.siteName, about: config.about, stylesheetUrl: config.stylesheetUrl, locale: config.locale } });
  const queue = createQueue({ db: database.db, dialect: database.dialect, clock, leaseMs: config.jobLeaseMs });
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, logger });
  const worker = createWorker({
    queue,
    handlers: notificationJobs({
      db: database.db,
      clock,
      pepper: config.pepper,
      publicUrl: config.publicUrl,
      siteName: async () => (await pageSettings.get(database.db)).siteName,
      mailer,
      webhooks: { db: database.db, clock, allowPrivate: config.webhookAllowPrivate, timeoutMs: config.deliveryTimeoutMs, logger, writer: auditWriter },
      logger,
      complete: (id) => queue.complete(id),
    }),
    concurrency: 8,
    pollMs: config.jobPollMs,
    onError: (err, job) => logger.warn({ err, jobId: job?.id, kind: job?.kind, attempts: job?.attempts }, job ? `background job ${job.id} (${job.kind}) failed` : 'background job queue unavailable'),
  });
  const notificationJoiner = createNotificationJoiner({ clock, publicUrl: config.publicUrl, budgetPerHour: config.notifyBudget, writer: auditWriter, logger, wake: () => worker.wake() });
  const deps: AppDeps = {
    audit,
    rateLimiter: limits.limiter,
    redisState: limits.state,
    version: VERSION,
    config,
    logger,
    database,
    clock,
    verifyKey: verifier.verify,
    keys: keysServiceFor(database, config, clock),
    keysChanged: () => {
      verifier.invalidate();
      limits.bus.publish();
    },
    recordKeyUse: usage.record,
    components,
    componentGroups: createComponentGroupsService({ repo: createComponentGroupsRepo(), componentsRepo, components, clock }),
    metrics: createMetricsService({ repo: metricsRepo, pointsRepo: metricPointsRepo, clock }),
    metricPoints: createMetricPointsService({ repo: metricPointsRepo, metricsRepo, clock }),
    schedules: createSchedulesService({ repo: createSchedulesRepo(), clock }),
    incidents: createIncidentsService({ repo: incidentsRepo, updatesRepo: incidentUpdatesRepo, componentsRepo, templates: incidentTemplates, clock }),
    incidentUpdates: createIncidentUpdatesService({ repo: incidentUpdatesRepo, incidentsRepo, clock }),
    incidentTemplates,
    system: createSystemService({ componentsRepo, unresolvedIncidents: incidentsRepo.countUnresolved }),
    subscribers: createSubscribersService({ repo: createSubscribersRepo(), clock }),
    transactionJoiners: [...transactionJoiners, notificationJoiner],
    pageSettings,
    queue,
    dashboard: { users: usersServiceFor(database, config, clock), pepper: config.pepper, sessionPolicy: { idleMs: config.sessionIdleMs, absoluteMs: config.sessionMaxMs } },
  };
  const app = await buildApp(deps);
  const onError = (err: unknown) => logger.error({ err }, 'background key task failed');
  await verifier.start(config.keyRevisionPollMs, onError);
  await limits.bus.subscribe(() => verifier.invalidate());
  usage.start(10_000, onError);
  worker.start();
  const auditShipper = config.auditSink
    ? createAuditShipper({
        database,
        repo: createAuditRepo(),
        sink: createAuditSink(config.auditSink, { maxBytes: config.auditSinkMaxBytes }),
        logger,
        clock,
        intervalMs: config.auditShipIntervalMs,
      })
    : null;
  auditShipper?.start();
  const checkpoints = startCheckpointTimer({
    db: database.db,
    clock,
    checkpointer: audit.checkpointer,
    everyEvents: config.auditCheckpointEvents,
    intervalMs: config.auditCheckpointIntervalMs,
    onError: (err) => logger.error({ err }, 'audit checkpoint failed'),
  });
  const rotation = rotationSchedulerFor(database, config, systemContext('cachet serve'), clock, () => verifier.invalidate());
  if (config.keyRotationIntervalMs > 0) rotation.start(config.keyRotationIntervalMs, (err) => logger.error({ err }, 'scheduled key rotation failed'));
  const keysAdmin = keysAdminFor(database, config, systemContext('cachet serve'), clock);
  const dashboardSessions = createSessions({ pepper: config.pepper, clock, policy: deps.dashboard.sessionPolicy });
  const narrower = createNarrower({ keys: deps.keys, repo: keysRepo, clock });
  const reviewSchedule = createReviewSchedule({ db: database.db, clock, logger, intervalMs: config.keyReviewIntervalMs, rotationAgeMs: config.keyReviewRotationAgeMs, holder: queue.holder, wake: () => worker.wake() });
  const sweepKeyExpiry = async (): Promise<void> => {
    const { warned, expired } = await keysAdmin.sweepExpiry(config.keyExpiryWarningMs);
    for (const key of warned) {
      logger.warn({ keyId: key.id, keyName: key.name, keyPrefix: key.prefix, expiresAt: key.expires_at }, `API key ${key.id} (${key.name}) expires at ${key.expires_at}: rotate it`);
    }
    for (const key of expired) logger.info({ keyId: key.id, keyName: key.name, keyPrefix: key.prefix, expiresAt: key.expires_at }, `API key ${key.id} (${key.name}) has expired`);
    // Dashboard sessions past their idle or absolute end (one met by a request is dropped then).
    await dashboardSessions.sweep(database.db);
    // Report-only narrowings whose period ended: applied, proposed or cancelled.
    const settled = await createAudited(database.db, auditWriter)(systemContext('cachet serve'), (trx) => narrower.settle(trx));
    for (const s of settled) {
      const text = s.outcome === 'cancelled' ? `its report-only narrowing would have refused ${s.denials} request(s): not applied` : `its report-only narrowing met no refusal: ${s.outcome}`;
      logger[s.outcome === 'cancelled' ? 'warn' : 'info']({ keyId: s.id, outcome: s.outcome, denials: s.denials }, `API key ${s.id}: ${text}`);
    }
    if (settled.length > 0) verifier.invalidate();
    await reviewSchedule.runIfDue();
  };
  let sweeping: Promise<void> | null = null;
  const expiryTimer = setInterval(() => {
    sweeping ??= sweepKeyExpiry()
      .catch((err: unknown) => logger.error({ err }, 'key expiry sweep failed'))
      .finally(() => {
        sweeping = null;
      });
  }, config.keyExpiryCheckMs);
  expiryTimer.unref();
  return {
    app,
    keys: keysAdmin,
    sweepKeyExpiry,
    audit,
    auditShipper,
    verifier,
    rotation,
    flushKeyUsage: () => usage.flush(),
    jobs: { queue, worker },
    async close() {
      clearInterval(expiryTimer);
      await sweeping;
      await worker.stop();
      mailer.close();
      verifier.stop();
      await rotation.stop();
      await checkpoints.stop();
      await app.close();
      await audit.batcher.drain();
      // After the last events are written: a short final attempt to ship them.
      await auditShipper?.stop();
      await usage.stop();
      await limits.close();
    },
  };
}

/**
 * What instances share: the rate limiter and the key-change bus — in this process with one
 * instance, in Redis (shared by every instance) when
 * REDIS_URL is set. The Redis client never queues commands while disconnected, so an outage turns
 * at once into the configured policy (in-memory insurance limits, or 503) instead of a hang.
 */
// ioredis (CommonJS, some 50 modules and ~25 MB of resident memory) is loaded only when REDIS_URL is set.
const requireCjs = createRequire(import.meta.url);
const loadRedis = () => (requireCjs('ioredis') as typeof import('ioredis')).Redis;

function sharedStateFor(
  config: Config,
  logger: Logger,
): { limiter: RateLimiter; bus: ChangeBus; ready: Promise<void>; state: () => 'up' | 'down' | 'off'; close(): Promise<void> } {
  if (!config.redisUrl) {
    return { limiter: memoryRateLimiter(), bus: pollOnlyBus, ready: Promise.resolve(), state: () => 'off', close: async () => undefined };
  }
  const Redis = loadRedis();
  const redis: RedisClient = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: (times) => Math.min(times * 200, 2000) });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.warn({ err: err.message }, `Redis unreachable: rate limits ${config.rateLimitRedisDown === 'open' ? 'count in this process meanwhile' : 'refuse requests (503) meanwhile'}`);
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info('Redis reachable again: rate limits are shared again');
    down = false;
  });
  // Start with shared limits when Redis answers within 2 s; otherwise start under the outage policy.
  const ready = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const subscriber = redis.duplicate({ enableOfflineQueue: true });
  subscriber.on('error', () => undefined); // reported through the main connection's handler
  const bus = redisChangeBus(redis, subscriber, config.redisPrefix);
  return {
    ready,
    bus,
    state: () => (redis.status === 'ready' ? 'up' : 'down'),
    limiter: redisRateLimiter({ redis, prefix: config.redisPrefix, whenDown: config.rateLimitRedisDown }),
    async close() {
      await bus.close();
      redis.disconnect();
    },
  };
}

/**
 * Warns, naming each file and the fix, when a file holding secrets or key digests can be read by
 * others: files that existed before this server created them keep whatever mode they were given.
 */
function warnAboutExposedFiles(config: Config, logger: Logger): void {
  const files = [...config.secretFiles, path.join(config.dataDir, 'bootstrap-key'), ...sqliteFiles(config.databaseUrl)];
  for (const { file, mode } of exposedFiles(files)) {
    logger.warn({ file, mode }, `${file} is readable by other users (mode ${mode}): run chmod 600 ${file}`);
  }
}

/** How long a stopping server keeps serving (with `Connection: close`, readiness 503) before it closes. */
const SHUTDOWN_DRAIN_MS = 1000;

/**
 * `cachet serve`: migrate, create the bootstrap key on an empty database, listen.
 * The token goes to `<data>/bootstrap-key` and, only on a terminal, to stdout; logs name the file.
 */
export async function serve(config: Config, logger: Logger): Promise<{ close(): Promise<void>; address: string }> {
  const database = await openMigratedDatabase(config, (err) => logger.warn({ err: err.message }, 'a pooled database connection failed; it is replaced when needed'));
  const server = await createServer(config, logger, database);
  const bootstrap = await server.keys.bootstrap();
  if (bootstrap) {
    const file = path.join(config.dataDir, 'bootstrap-key');
    writeSecretFile(file, bootstrap.token + '\n');
    logger.info({ file, keyId: bootstrap.key.id, expiresAt: bootstrap.key.expires_at }, 'created a bootstrap API key (scope *, 24 h); its token is in the file');
    if (process.stdout.isTTY) {
      process.stdout.write(`\nBootstrap API key (shown once, also in ${file}):\n\n  ${bootstrap.token}\n\n`);
    }
  }
  warnAboutExposedFiles(config, logger);
  // Report keys already close to (or past) their expiry now rather than a minute after start.
  await server.sweepKeyExpiry().catch((err: unknown) => logger.error({ err }, 'key expiry sweep failed'));
  const address = await server.app.listen({ port: config.port, host: config.host });
  let closing: Promise<void> | null = null;
  return {
    address,
    close() {
      closing ??= (async () => {
        server.app.startDraining();
        await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_DRAIN_MS));
        await server.close();
      })().finally(() => database.close());
      return closing;
    },
  };
}
