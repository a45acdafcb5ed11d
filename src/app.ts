/**
 * buildApp(deps): the HTTP application. Plugins, the pipeline stages (DESIGN.md §3), the error
 * handler, and every feature's routes, listed by hand so a reader sees the whole surface here.
 */
import { uuidv7 } from './infra/uuid.js';
import cors from '@fastify/cors';
import formbody from '@fastify/formbody';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Database } from './db/database.js';
import { isStoreUnavailable } from './db/errors.js';
import { componentGroupsRoutes } from './features/component-groups/component-groups.routes.js';
import type { ComponentGroupsService } from './features/component-groups/component-groups.service.js';
import { componentsRoutes } from './features/components/components.routes.js';
import type { ComponentsService } from './features/components/components.service.js';
import { incidentTemplatesRoutes } from './features/incident-templates/incident-templates.routes.js';
import type { IncidentTemplatesService } from './features/incident-templates/incident-templates.service.js';
import { incidentUpdatesRoutes } from './features/incidents/incident-updates.routes.js';
import type { IncidentUpdatesService } from './features/incidents/incident-updates.service.js';
import { incidentsRoutes } from './features/incidents/incidents.routes.js';
import type { IncidentsService } from './features/incidents/incidents.service.js';
import { metricPointsRoutes } from './features/metrics/metric-points.routes.js';
import type { MetricPointsService } from './features/metrics/metric-points.service.js';
import { metricsRoutes } from './features/metrics/metrics.routes.js';
import type { MetricsService } from './features/metrics/metrics.service.js';
import { schedulesRoutes } from './features/schedules/schedules.routes.js';
import type { SchedulesService } from './features/schedules/schedules.service.js';
import { subscribersRoutes } from './features/subscribers/subscribers.routes.js';
import { createVerificationSender } from './features/notifications/notifications.verify.js';
import type { SubscribersService } from './features/subscribers/subscribers.service.js';
import { STATUS_CACHE_TTL_MS, systemRoutes } from './features/system/system.routes.js';
import type { SystemService, SystemStatus } from './features/system/system.service.js';
import { createShortCache } from './infra/short-cache.js';
import { acceptsJson } from './http/accept.js';
import type { RouteAccess, VerifyKey } from './http/access.js';
import type { ApiApp } from './http/app-types.js';
import { authoriseFields, clientAddress, createAuthStages } from './http/auth.js';
import { createRateLimitStage } from './http/rate-limit-stage.js';
import type { RateLimiter } from './infra/rate-limit.js';
import { AppError, errorEnvelope } from './http/errors.js';
import { rejectNonFiniteNumbers } from './http/finite.js';
import { createInputHook } from './http/input.js';
import { checkFieldLimits, enforceListFiltered, limitableResourceOf } from './http/limits.js';
import { registerOpenApi } from './http/openapi.js';
import { requestTimeZone } from './http/request-context.js';
import { createTransact, type TransactionJoiner } from './http/transact.js';
import { createAuditStage } from './http/audit-stage.js';
import { createAuditRepo } from './features/audit/audit.repo.js';
import { auditRoutes } from './features/audit/audit.routes.js';
import { keysRoutes } from './features/keys/keys.routes.js';
import { keyReviewRoutes } from './features/keys/keys.review.routes.js';
import { createNarrower } from './features/keys/keys.narrow.js';
import { createKeysRepo } from './features/keys/keys.repo.js';
import { webhooksRoutes } from './features/webhooks/webhooks.routes.js';
import { createWebhooksService } from './features/webhooks/webhooks.service.js';
import { healthRoutes } from './features/system/health.routes.js';
import type { KeysService } from './features/keys/keys.service.js';
import type { AuditBatcher } from './features/audit/audit.batcher.js';
import type { AuditWriter } from './features/audit/audit.writer.js';
import { validationMessages } from './http/validation.js';
import type { Clock } from './infra/clock.js';
import { createPageCache, type PageCache } from './features/status-page/status-page.cache.js';
import { statusPagePlugin, type StatusPageHandle } from './features/status-page/status-page.plugin.js';
import { dashboardPlugin } from './features/dashboard/dashboard.plugin.js';
import { notificationPages } from './features/dashboard/dashboard.notifications.js';
import { reviewPages } from './features/dashboard/dashboard.review.js';
import { createQueue, type Queue } from './infra/queue.js';
import { overviewPages } from './features/dashboard/dashboard.overview.js';
import { keysPages } from './features/dashboard/dashboard.keys.js';
import { auditPages } from './features/dashboard/dashboard.audit.js';
import { componentPages } from './features/dashboard/dashboard.components.js';
import { incidentPages } from './features/dashboard/dashboard.incidents.js';
import { schedulePages } from './features/dashboard/dashboard.schedules.js';
import { metricPages } from './features/dashboard/dashboard.metrics.js';
import { subscriberPages } from './features/dashboard/dashboard.subscribers.js';
import { settingsPages } from './features/dashboard/dashboard.settings.js';
import { webhookPages } from './features/dashboard/dashboard.webhooks.js';
import type { UsersService } from './features/users/users.service.js';
import { createSessions, type SessionPolicy } from './features/users/users.sessions.js';
import { createPageSettingsService, type PageSettingsService } from './features/settings/settings.service.js';

/** Largest request body accepted (bigger is a 413). */
export const BODY_LIMIT = 1024 * 1024;

/** Everything the HTTP application is built from; made once in main.ts (or a test helper). */
export interface AppDeps {
  version: string;
  config: {
    timezone: string;
    perPageMax: number;
    trustedProxies: string[];
    publicUrl: string;
    rateLimitDefault: number;
    rateLimitAnonymous: number;
    rateLimitFailedAuth: number;
    /** The status page's settings (CACHET_SITE_NAME, CACHET_ABOUT, CACHET_STYLESHEET_URL, CACHET_LOCALE). */
    siteName: string;
    about: string;
    stylesheetUrl: string | null;
    locale: string;
    /** Key lifetimes (CACHET_KEY_MAX_TTL; null allows `never`) the dashboard's key form offers. */
    keyMaxTtlMs: number | null;
    keyDefaultTtlMs: number;
    /** The key review's age past which a key without a rotation policy is a finding. */
    keyReviewRotationAgeMs: number;
    /** Where the audit checkpoint signing key is: the dashboard checks checkpoints with its public half. */
    auditSigningKey: string | null;
    dataDir: string;
    /** Outbound webhooks may target private, loopback and link-local addresses (CACHET_WEBHOOK_ALLOW_PRIVATE). */
    webhookAllowPrivate: boolean;
  };
  logger: Logger;
  database: Database;
  clock: Clock;
  verifyKey: VerifyKey;
  /** Counts requests per key and per address (memory or Redis, chosen in main.ts). */
  rateLimiter: RateLimiter;
  /** Redis as the health check reports it. */
  redisState?: () => 'up' | 'down' | 'off';
  keys: KeysService;
  /** Drops this instance's cached keys (after a key change made through the API). */
  keysChanged?: () => void;
  recordKeyUse?: (keyId: number, ip: string, at: Date) => void;
  /** The audit trail: every keyed request, denial and change is an event (DESIGN.md §4). */
  audit: { writer: AuditWriter; batcher: AuditBatcher };
  /** More work that joins each mutation's transaction, after the audit writer. */
  transactionJoiners?: TransactionJoiner[];
  components: ComponentsService;
  componentGroups: ComponentGroupsService;
  incidents: IncidentsService;
  incidentUpdates: IncidentUpdatesService;
  incidentTemplates: IncidentTemplatesService;
  metrics: MetricsService;
  metricPoints: MetricPointsService;
  schedules: SchedulesService;
  subscribers: SubscribersService;
  system: SystemService;
  /** The status page's render cache (made here when not given); API writes invalidate it. */
  pageCache?: PageCache;
  /** The background job queue (the dashboard's held notifications); made here over the database when not given. */
  queue?: Queue;
  /** Dashboard users and the pepper their sessions' digests (and cookie signatures) are keyed with. */
  dashboard: { users: UsersService; pepper: Buffer; sessionPolicy: SessionPolicy };
  /** The status page's editable settings (made here from config's values when not given). */
  pageSettings?: PageSettingsService;
}

/**
 * Whether a URL belongs to the API (its pipeline, JSON errors, audit) rather than to the status
 * page: `/api/…` and the health checks. Everything else is the page's.
 */
export function isApiPath(url: string): boolean {
  return /^\/(?:api|health)(?:[/?]|$)/.test(url);
}

/**
 * Whether a request is the API's, decided by the route it matched (its declared pattern), never
 * by the URL as sent: the router decodes `%61pi` to `api`, so the raw URL would let
 * `/%61pi/v1/subscribers` reach an API route with the pipeline skipped. Only an unmatched
 * request (a 404) is told by its URL, which decides nothing but the error's format.
 */
export function isApiRequest(request: FastifyRequest): boolean {
  const pattern = request.routeOptions.url;
  return pattern !== undefined ? isApiPath(pattern) : isApiPath(request.url);
}

/** One registered API route and the access rule it declared. */
export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registered route with its declared access rule (the security tests walk it). */
    routeTable: readonly RouteEntry[];
    /**
     * Shutdown, first step: readiness turns 503 (a load balancer stops sending) and every response
     * says `Connection: close` (clients leave their keep-alive connections), before the server closes.
     */
    startDraining(): void;
    draining: boolean;
  }
}

/** Route patterns by method, for telling a 405 from a 404, and the route table. */
function createRouteIndex() {
  const patterns: Array<{ method: string; regex: RegExp }> = [];
  const table: RouteEntry[] = [];
  return {
    table,
    add(method: string | string[], url: string, access: RouteAccess | undefined) {
      const source = url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\/:[^/]+/g, '/[^/]+');
      for (const m of [method].flat()) {
        patterns.push({ method: m, regex: new RegExp(`^${source}/?$`) });
        table.push({ method: m, url, access });
      }
    },
    allowed(path: string): string[] {
      return [...new Set(patterns.filter((p) => p.regex.test(path)).map((p) => p.method))];
    },
  };
}

function sendError(reply: FastifyReply, status: number, detail?: string, details?: string[]) {
  return reply.code(status).type('application/json').send(errorEnvelope(status, detail, details));
}

/** Builds the Fastify application; call `ready()` (or `listen`) before use. */
export async function buildApp(deps: AppDeps): Promise<ApiApp> {
  const { config, database, clock } = deps;
  const app = Fastify({
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- widens pino's Logger so Fastify() infers the FastifyBaseLogger that ApiApp expects
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => uuidv7(),
    bodyLimit: BODY_LIMIT,
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    routerOptions: { ignoreTrailingSlash: true },
    // `coerceTypes: true`, not 'array': a scalar field sent as a list (`{"status": [1]}`) is a 400,
    // while list fields keep working (the input stage folds `name[]=` fields into arrays).
    ajv: { customOptions: { allErrors: true, coerceTypes: true, removeAdditional: false, useDefaults: true } },
    // Errors the router raises before any hook runs, in the same envelope as the rest.
    frameworkErrors: (error, _request, reply) => {
      // A path segment too long to be an id names nothing.
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return void sendError(reply, 404);
      return void sendError(reply, 400, error.code === 'FST_ERR_BAD_URL' ? 'The URL is not valid.' : undefined);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Deny by default: an /api route that does not declare its access rule stops start-up.
  const routes = createRouteIndex();
  app.decorate('routeTable', routes.table);
  app.decorate('draining', false);
  app.decorate('startDraining', function (this: typeof app) {
    this.draining = true;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.server.draining) reply.header('connection', 'close');
    return payload;
  });
  app.decorate('publicUrl', config.publicUrl);
  app.addHook('onRoute', (route) => {
    // The status page's routes are not the API's: no access rule, not in the route table.
    if (!isApiPath(route.url)) return;
    if (route.url.startsWith('/api') && !route.config?.access) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no access scope`);
    }
    // A route of a limitable resource that does not say where its id is would ignore resource limits.
    const access = route.config?.access;
    const limited = access && access.scope !== 'public' ? limitableResourceOf(access.scope.split('.')[0]!) : null;
    if (limited !== null && access?.limit?.resource !== limited) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no resource limit for ${limited}`);
    }
    routes.add(route.method, route.url, route.config?.access);
  });

  await app.register(formbody);
  // As Cachet 2.x: browsers on other origins may read the API (status widgets), but cannot write to it.
  await app.register(cors, {
    origin: '*',
    methods: ['GET', 'HEAD'],
    allowedHeaders: ['X-Cachet-Token', 'Authorization', 'Content-Type', 'Time-Zone'],
    credentials: false,
    maxAge: 3600,
  });
  await registerOpenApi(app, { version: deps.version, publicUrl: config.publicUrl });

  // Pipeline, in order: client address → Accept → token → verify → rate limit → IP → scope → resource limit → Time-Zone.
  const auth = createAuthStages({ verifyKey: deps.verifyKey, clock, recordUse: deps.recordKeyUse });
  const rateLimit = createRateLimitStage({
    limiter: deps.rateLimiter,
    policy: { keyDefault: config.rateLimitDefault, anonymous: config.rateLimitAnonymous, failedAuth: config.rateLimitFailedAuth },
  });
  app.decorateRequest('principal', null as never);
  app.decorateRequest('clientIp', '');
  app.decorateRequest('timeZone', '');
  app.decorateRequest('presentedPrefix', null);
  app.decorateRequest('refusal', null);
  app.decorateRequest('refusedKeyId', null);
  app.decorateRequest('shadowDenied', null);
  app.decorateRequest('auditCommitted', false);

  /**
   * The pipeline (DESIGN.md §3), in order; a new stage is one entry here. Each either passes or
   * throws the refusal the error handler turns into the response (and the audit stage records).
   */
  const pipeline: Array<[string, (request: FastifyRequest, reply: FastifyReply) => Promise<void> | void]> = [
    ['client address', (request) => {
      request.principal = { type: 'anonymous' };
      request.timeZone = config.timezone;
      request.clientIp = clientAddress(request.ip, request.socket.remoteAddress);
    }],
    ['accept', (request) => {
      if (request.url.startsWith('/api/') && !acceptsJson(request.headers.accept)) throw new AppError(406);
    }],
    ['failed-key gate', (request, reply) => rateLimit.gate(request, reply)],
    ['identify', async (request) => {
      try {
        await auth.identify(request);
      } catch (err) {
        await rateLimit.countFailure(request, err instanceof AppError ? err.reason : undefined);
        throw err;
      }
    }],
    ['rate limit', (request, reply) => rateLimit.limit(request, reply)],
    ['authorise', auth.authorise],
    ['time zone', (request) => {
      request.timeZone = requestTimeZone(request.headers, config.timezone);
    }],
  ];
  app.decorateRequest('resourceLimitApplied', false);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Names the request in the audit trail and the logs, so a client can quote it.
    reply.header('x-request-id', request.id);
    if (!isApiRequest(request)) {
      // A status page request: no key, no rate limit, no audit.
      request.principal = { type: 'anonymous' };
      request.clientIp = clientAddress(request.ip, request.socket.remoteAddress);
      return;
    }
    for (const [, stage] of pipeline) await stage(request, reply);
  });
  // The API's input stages; the status page's requests skip them.
  const inputHook = createInputHook(BODY_LIMIT);
  app.addHook('preValidation', async (request) => {
    if (!isApiRequest(request)) return;
    await inputHook(request);
    await authoriseFields(request);
    checkFieldLimits(request);
  });
  app.addHook('preHandler', async (request) => {
    if (isApiRequest(request)) await rejectNonFiniteNumbers(request);
  });
  const auditStage = createAuditStage({
    writer: deps.audit.writer,
    batcher: deps.audit.batcher,
    onError: (err, request) => request.log.error({ err }, 'audit event could not be written; answered 503'),
  });
  app.addHook('onSend', async (request, reply, payload) => (isApiRequest(request) ? enforceListFiltered(request, reply, payload) : payload));
  app.addHook('onSend', async (request, reply, payload) => (isApiRequest(request) ? auditStage.onSend(request, reply, payload) : payload));
  const pageCache = deps.pageCache ?? createPageCache();
  const statusCache = createShortCache<SystemStatus>(STATUS_CACHE_TTL_MS, 4);
  // A change made through the API shows on the next page view (other writers' within the cache's TTL):
  // dropped once the change is committed and before the client hears of it, and again after the
  // response, for a render that started before the commit.
  const writeSucceeded = (request: FastifyRequest, reply: FastifyReply) =>
    reply.statusCode < 400 && !['GET', 'HEAD', 'OPTIONS'].includes(request.method) && isApiRequest(request);
  app.addHook('onSend', async (request, reply, payload) => {
    if (writeSucceeded(request, reply)) {
      pageCache.invalidate();
      statusCache.invalidate();
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (writeSucceeded(request, reply)) {
      pageCache.invalidate();
      statusCache.invalidate();
    }
    const principal = request.principal;
    request.log.info(
      {
        method: request.method,
        path: request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ip: request.clientIp,
        key: principal?.type === 'key' ? principal.key.prefix : undefined,
      },
      'request',
    );
  });

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      request.refusal = error.reason ?? null;
      return sendError(reply, error.status, error.message, error.details);
    }
    if (error.validation) {
      return sendError(reply, 400, undefined, validationMessages(error.validation));
    }
    const status = error.statusCode ?? 500;
    if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (status === 400 && error instanceof SyntaxError)) {
      return sendError(reply, 400, 'The request body is not valid JSON.');
    }
    if (status >= 400 && status < 500) return sendError(reply, status, error.message);
    if (isStoreUnavailable(error)) {
      request.log.error({ err: error }, 'database unavailable');
      reply.header('Retry-After', '5');
      return sendError(reply, 503, 'The database is unavailable; retry shortly.');
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, 500);
  });

  const pages: { current: StatusPageHandle | null } = { current: null };
  app.setNotFoundHandler(async (request, reply) => {
    if (!isApiRequest(request) && pages.current) return pages.current.notFound(request, reply);
    const path = request.url.split('?')[0]!;
    const allowed = routes.allowed(path).filter((m) => m !== request.method);
    if (allowed.length > 0 && !routes.allowed(path).includes(request.method)) {
      reply.header('Allow', allowed.join(', '));
      return sendError(reply, 405);
    }
    return sendError(reply, 404);
  });

  const transact = createTransact(database.db, [auditStage.joiner, ...(deps.transactionJoiners ?? [])]);
  const shared = { db: database.db, transact, perPageMax: config.perPageMax };

  systemRoutes(app, { ...shared, system: deps.system, version: deps.version, statusCache });
  componentsRoutes(app, { ...shared, components: deps.components });
  incidentsRoutes(app, { ...shared, incidents: deps.incidents });
  incidentUpdatesRoutes(app, { ...shared, updates: deps.incidentUpdates });
  incidentTemplatesRoutes(app, { ...shared, templates: deps.incidentTemplates });
  metricsRoutes(app, { ...shared, metrics: deps.metrics });
  metricPointsRoutes(app, { ...shared, metricPoints: deps.metricPoints });
  schedulesRoutes(app, { ...shared, schedules: deps.schedules });
  // The site name is read at send time: the status page's settings (app.statusPage, decorated below) may change it.
  const sendVerification = createVerificationSender({ pepper: deps.dashboard.pepper, clock, publicUrl: config.publicUrl, siteName: async (db) => (await app.statusPage.settings.get(db)).siteName });
  subscribersRoutes(app, { ...shared, subscribers: deps.subscribers, sendVerification });
  componentGroupsRoutes(app, { ...shared, groups: deps.componentGroups });
  auditRoutes(app, { ...shared, repo: createAuditRepo(), clock });
  healthRoutes(app, { db: database.db, redisState: deps.redisState ?? (() => 'off') });
  keysRoutes(app, { ...shared, keys: deps.keys, clock, keysChanged: deps.keysChanged ?? (() => undefined) });
  const narrower = createNarrower({ keys: deps.keys, repo: createKeysRepo(), clock });
  keyReviewRoutes(app, { ...shared, clock, narrower, rotationAgeMs: config.keyReviewRotationAgeMs, keysChanged: deps.keysChanged ?? (() => undefined) });
  const webhooks = createWebhooksService({ clock, allowPrivate: config.webhookAllowPrivate });
  webhooksRoutes(app, { ...shared, webhooks, clock });

  // The public status page: its own encapsulated context (headers, views, HTML error pages). Its
  // editable settings (config's values until changed) are read at each render; after a change,
  // `app.statusPage.invalidate()` shows it on the next view.
  const pageSettings =
    deps.pageSettings ?? createPageSettingsService({ defaults: { siteName: config.siteName, about: config.about, stylesheetUrl: config.stylesheetUrl, locale: config.locale } });
  app.decorate('statusPage', { settings: pageSettings, invalidate: () => pageCache.invalidate() });
  await app.register(async (context) =>
    statusPagePlugin(context, {
      db: database.db,
      clock,
      system: deps.system,
      cache: pageCache,
      settings: pageSettings,
      site: { publicUrl: config.publicUrl, timezone: config.timezone },
      subscribers: deps.subscribers,
      sendVerification,
      writer: deps.audit.writer,
      limiter: deps.rateLimiter,
      pepper: deps.dashboard.pepper,
    }, pages),
  );

  // The dashboard: its own encapsulated context (sessions, CSRF, headers, HTML errors). Its changes
  // go through the same services, audit writer and joiners as the API's, with the user as actor.
  await app.register(async (context) =>
    dashboardPlugin(context, {
      db: database.db,
      clock,
      writer: deps.audit.writer,
      batcher: deps.audit.batcher,
      joiners: deps.transactionJoiners ?? [],
      changed: () => {
        pageCache.invalidate();
        statusCache.invalidate();
        deps.keysChanged?.();
      },
      siteName: async () => (await pageSettings.get(database.db)).siteName,
      pepper: deps.dashboard.pepper,
      publicUrl: config.publicUrl,
      users: deps.dashboard.users,
      sessions: createSessions({ pepper: deps.dashboard.pepper, clock, policy: deps.dashboard.sessionPolicy }),
      limiter: deps.rateLimiter,
      groups: [
        overviewPages,
        keysPages({ keys: deps.keys, keyMaxTtlMs: config.keyMaxTtlMs, keyDefaultTtlMs: config.keyDefaultTtlMs }),
        auditPages({ database, signing: config }),
        componentPages(deps),
        incidentPages(deps),
        schedulePages(deps),
        metricPages(deps),
        subscriberPages({ ...deps, sendVerification }),
        webhookPages({ webhooks }),
        settingsPages({ pageSettings }),
        reviewPages({ narrower, rotationAgeMs: config.keyReviewRotationAgeMs }),
        notificationPages(deps.queue ?? createQueue({ db: database.db, dialect: database.dialect, clock })),
      ],
    }),
  );

  return app;
}
