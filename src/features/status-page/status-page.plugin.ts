/**
 * The public status page: server-rendered HTML (Eta, escaping by default) and the incident feeds,
 * as an encapsulated Fastify plugin with its own security headers and error pages. Guests' view only:
 * disabled components, hidden groups and hidden incidents appear nowhere. Pages need no key and are
 * not audited; the subscription pages (subscribe, verify, manage, unsubscribe) change subscribers,
 * and those changes are audited with the visitor as an anonymous actor.
 */
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmetMiddleware from 'helmet';
import type { Kysely } from 'kysely';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DateTime } from 'luxon';
import type { Executor } from '../../db/database.js';
import { isStoreUnavailable } from '../../db/errors.js';
import type { DB } from '../../db/schema.js';
import type { Clock } from '../../infra/clock.js';
import { RateLimitUnavailable, type RateLimiter } from '../../infra/rate-limit.js';
import { toStoredTime } from '../../infra/time.js';
import { createAudited } from '../audit/audited.js';
import type { AuditContext } from '../audit/audit.types.js';
import type { AuditWriter } from '../audit/audit.writer.js';
import { createComponentGroupsRepo } from '../component-groups/component-groups.repo.js';
import { createComponentsRepo } from '../components/components.repo.js';
import { COMPONENT_STATUS_NAMES } from '../components/components.schema.js';
import { INCIDENT_STATUS_NAMES } from '../incidents/incidents.schema.js';
import { SCHEDULE_STATUS_NAMES } from '../schedules/schedules.schema.js';
import { checkManageLink, checkUnsubscribeLink, checkVerifyLink, LINK_PATHS, manageLink, unsubscribeLink } from '../notifications/notifications.links.js';
import type { SendVerification } from '../notifications/notifications.verify.js';
import type { PageSettings, PageSettingsService } from '../settings/settings.service.js';
import { MAX_COMPONENTS } from '../subscribers/subscribers.schema.js';
import { normaliseEmail, type SubscribersService } from '../subscribers/subscribers.service.js';
import type { SystemService } from '../system/system.service.js';
import { renderAtom, renderRss, type Feed } from './feeds.js';
import type { PageCache, RenderedPage } from './status-page.cache.js';
import { createStatusPageRepo, type PageIncident, type PageSchedule, type PageUpdate } from './status-page.repo.js';
import { UPTIME_DAYS, uptimeBar } from './uptime.js';
import { METRIC_VIEWS, metricChart } from './metric-chart.js';

/** Incidents per page of `/history`. */
export const HISTORY_PER_PAGE = 20;
/** Incidents in the feeds. */
const FEED_SIZE = 50;
/** Browsers and proxies may reuse a page this long (seconds) before revalidating with its ETag. */
const MAX_AGE_S = 10;
/** Subscribe requests one client address may send per hour. */
export const SUBSCRIBE_LIMIT_PER_HOUR = 10;

/** The deployment's settings the pages use (from the environment, fixed while the server runs). */
export interface SiteSettings {
  publicUrl: string;
  /** Zone the dates are shown in. */
  timezone: string;
}

/**
 * Where the pages read the operator's editable settings (site name, about, stylesheet, locale)
 * at each render: the page settings service, or any source of the same shape.
 */
export interface PageSettingsSource {
  /** Shown by an error page when the settings cannot be read (the database is down) before any page was rendered. */
  readonly defaults: Readonly<PageSettings>;
  get(db: Executor): Promise<PageSettings>;
}

export interface StatusPageDeps {
  db: Kysely<DB>;
  clock: Clock;
  system: SystemService;
  site: SiteSettings;
  /** Read at every render; a change shows once the cache is invalidated (or within its TTL). */
  settings: PageSettingsSource;
  cache: PageCache;
  /** Subscribers: created, verified, changed and removed from the subscription pages. */
  subscribers: SubscribersService;
  /** Enqueues a new subscriber's verification mail in the caller's transaction. */
  sendVerification: SendVerification;
  /** Writes the audit events of the subscription pages' changes (anonymous actor). */
  writer: AuditWriter;
  /** Throttles the subscribe form per client address. */
  limiter: RateLimiter;
  /** Keys the signed subscriber links (verify, manage, unsubscribe). */
  pepper: Buffer;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The status page's editable settings (`settings.update(trx, input)` in an audited transaction)
     * and `invalidate()`, which drops the rendered pages so that a committed change shows on the next view.
     */
    statusPage: { settings: PageSettingsService; invalidate(): void };
  }
}

/** What the root not-found handler needs to answer a page URL that names nothing. */
export interface StatusPageHandle {
  notFound(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

/** A render as the cache keeps it: a page also carries the stylesheet it links (its CSP names that origin). */
type PageRender = Omit<RenderedPage, 'etag'> & { stylesheetUrl?: string | null };

class PageNotFound extends Error {
  readonly statusCode = 404;
}

const STATUS_CLASS = ['unknown', 'operational', 'performance', 'partial', 'major'];

/**
 * The origin of a custom stylesheet as the Content-Security-Policy names it, or null when there is
 * none or it is not one a host-source can name (the URL parser lets `;` and `,` into a host).
 */
export function styleOrigin(stylesheetUrl: string | null): string | null {
  if (!stylesheetUrl) return null;
  let origin: string;
  try {
    origin = new URL(stylesheetUrl).origin;
  } catch {
    return null;
  }
  return /^https?:\/\/(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d+)?$/i.test(origin) ? origin : null;
}

/**
 * The security headers of every page. The custom stylesheet's origin is allowed for styles: the
 * style-src directive asks `styleSources` for each response, as the settings may change at run time.
 */
function helmetOptions(styleSources: (req: IncomingMessage, res: ServerResponse) => string) {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: [styleSources],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        scriptSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' as const },
  };
}

/**
 * Registers the pages on `app` (an encapsulated context) and returns the handle for pages that do
 * not exist. Call from buildApp; the API's pipeline skips these URLs.
 */
export async function statusPagePlugin(app: FastifyInstance, deps: StatusPageDeps, handle: { current: StatusPageHandle | null }): Promise<void> {
  const { db, clock, system, site, cache } = deps;
  const repo = createStatusPageRepo();
  const componentsRepo = createComponentsRepo();
  const groupsRepo = createComponentGroupsRepo();

  /** The settings of the latest render (the defaults before the first): what an error page and a response without a render use. */
  let latest: PageSettings = { ...deps.settings.defaults };
  /** The settings in effect, read for a render. */
  async function current(): Promise<PageSettings> {
    latest = await deps.settings.get(db);
    return latest;
  }

  // markdown-it (with its entities table, ~10 MB resident) is loaded only when there is an about
  // text, and an about text is rendered once: again only when it changes.
  let markdown: { render(text: string): string } | null = null;
  let about = { text: '', html: '' };
  async function aboutHtmlOf(text: string): Promise<string> {
    if (text.trim() === '') return '';
    if (about.text === text) return about.html;
    markdown ??= new (await import('markdown-it')).default({ html: false, linkify: true });
    about = { text, html: markdown.render(text) };
    return about.html;
  }

  // The stylesheet a response's page links: set by send() for the page it sends; the latest
  // settings' for a response sent without a render (assets, errors).
  const pageStylesheets = new WeakMap<object, string | null>();
  const styleSources = (_req: IncomingMessage, res: ServerResponse): string => {
    const origin = styleOrigin(pageStylesheets.has(res) ? pageStylesheets.get(res)! : latest.stylesheetUrl);
    return origin === null ? "'self'" : `'self' ${origin}`;
  };
  const security = helmetOptions(styleSources);
  const applySecurityHeaders = helmetMiddleware(security);
  const applyContentSecurityPolicy = helmetMiddleware.contentSecurityPolicy(security.contentSecurityPolicy);

  await app.register(helmet, security);
  await app.register(view, {
    engine: { eta: new Eta({ autoEscape: true, autoTrim: false }) },
    root: new URL('./views', import.meta.url).pathname,
  });
  await app.register(fastifyStatic, {
    root: new URL('./public', import.meta.url).pathname,
    prefix: '/assets/',
    maxAge: 3600_000,
    index: false,
  });

  /** Date formatting in the configured zone and the current settings' language. */
  function datesIn(locale: string) {
    const local = (iso: string) => DateTime.fromISO(iso, { zone: 'utc' }).setZone(site.timezone).setLocale(locale);
    return {
      when: (iso: string | null): string => (iso ? local(iso).toLocaleString({ ...DateTime.DATETIME_MED, timeZoneName: 'short' }) : ''),
      dayOf: (iso: string): string => local(iso).toLocaleString(DateTime.DATE_HUGE),
    };
  }
  type Dates = ReturnType<typeof datesIn>;
  const feedUrls = { rssUrl: `${site.publicUrl}/rss`, atomUrl: `${site.publicUrl}/atom` };

  function presentIncident({ when }: Dates, row: PageIncident, updates: PageUpdate[]) {
    return {
      id: row.id,
      name: row.name,
      message: row.message,
      status: INCIDENT_STATUS_NAMES[row.status] ?? 'Unknown',
      fixed: row.status === 4,
      occurredAt: when(row.occurred_at),
      occurredIso: row.occurred_at,
      updates: updates
        .filter((u) => u.incident_id === row.id)
        .map((u) => ({ status: INCIDENT_STATUS_NAMES[u.status] ?? 'Unknown', message: u.message, at: when(u.created_at), iso: u.created_at }))
        .reverse(),
    };
  }

  function presentSchedule({ when }: Dates, row: PageSchedule) {
    return { id: row.id, name: row.name, message: row.message, status: SCHEDULE_STATUS_NAMES[row.status] ?? 'Unknown', scheduledAt: when(row.scheduled_at), completedAt: when(row.completed_at) };
  }

  /**
   * A page rendered with the settings `shown`. It carries the stylesheet it links (kept by the cache
   * beside the body), so that its Content-Security-Policy names the same origin when it is sent.
   */
  const page = (shown: PageSettings, template: string, title: string, data: Record<string, unknown>, status = 200): Promise<PageRender> =>
    app
      .view(template, { siteName: shown.siteName, stylesheetUrl: shown.stylesheetUrl, ...feedUrls, title, ...data })
      .then((body) => ({ status, type: 'text/html; charset=utf-8', body: String(body), stylesheetUrl: shown.stylesheetUrl }));

  async function renderIndex() {
    const now = clock.now();
    const settings = await current();
    const dates = datesIn(settings.locale);
    const overall = await system.status(db, { hiddenGroups: false, hiddenIncidents: false });
    const all = { page: 1, perPage: 100_000, sort: 'order', direction: 'asc' as const };
    const { rows: components } = await componentsRepo.list(db, {}, all, { guest: true });
    const { rows: groups } = await groupsRepo.list(db, { visible: true }, all);
    const since = toStoredTime(new Date(now.getTime() - UPTIME_DAYS * 86_400_000));
    const history = await componentsRepo.statusHistory(db, components.map((c) => c.id), since);
    const open = await repo.current(db);
    const updates = await repo.updatesOf(db, open.map((i) => i.id));
    const schedules = await repo.openSchedules(db);
    const metrics = await Promise.all(
      (await repo.chartedMetrics(db)).map(async (m) => {
        const view = METRIC_VIEWS[m.default_view] ?? METRIC_VIEWS[0];
        const points = await repo.points(db, m.id, toStoredTime(new Date(now.getTime() - view.windowMs)));
        return { id: m.id, name: m.name, suffix: m.suffix, description: m.description, chart: metricChart(m, points, now) };
      }),
    );
    const present = (c: (typeof components)[number]) => {
      const bar = uptimeBar(history.filter((h) => h.component_id === c.id), now);
      return {
        id: c.id,
        name: c.name,
        description: c.description,
        link: /^https?:\/\//i.test(c.link) ? c.link : '',
        status: COMPONENT_STATUS_NAMES[c.status] ?? 'Unknown',
        statusClass: STATUS_CLASS[c.status] ?? 'unknown',
        uptime: {
          percent: bar.percent,
          days: bar.days.map((d) => ({ date: d.date, cls: STATUS_CLASS[d.worst] ?? 'unknown', label: d.worst === 0 ? 'no data' : (COMPONENT_STATUS_NAMES[d.worst] ?? 'Unknown') })),
          outageDays: bar.days.filter((d) => d.worst > 1).length,
        },
      };
    };
    const grouped = groups
      .map((g) => {
        const members = components.filter((c) => c.group_id === g.id);
        // Cachet's `collapsed`: 0 never, 1 always, 2 unless one of the group's components is not operational.
        const collapsed = g.collapsed === 1 || (g.collapsed === 2 && members.every((c) => c.status === 1));
        return { id: g.id, name: g.name, collapsed, components: members.map(present) };
      })
      .filter((g) => g.components.length > 0);
    const groupIds = new Set(groups.map((g) => g.id));
    const ungrouped = components.filter((c) => !groupIds.has(c.group_id)).map(present);
    return page(settings, 'index', settings.siteName, {
      overall: { status: overall.status, message: overall.message },
      aboutHtml: await aboutHtmlOf(settings.about),
      groups: grouped,
      ungrouped,
      incidents: open.map((i) => presentIncident(dates, i, updates)),
      schedules: schedules.map((s) => presentSchedule(dates, s)),
      metrics,
      uptimeDays: UPTIME_DAYS,
    });
  }

  async function renderNotFound() {
    // A missing page needs nothing else from the database: with it down, the last settings read do.
    const settings = await current().catch(() => latest);
    return page(settings, 'error', `Not found · ${settings.siteName}`, { status: 404, heading: 'Page not found', text: 'There is nothing at this address.' }, 404);
  }

  /** Sends a rendered page with its ETag; a matching If-None-Match is answered 304 without a body. */
  function send(request: FastifyRequest, reply: FastifyReply, rendered: RenderedPage & { stylesheetUrl?: string | null }) {
    // The policy set when the request arrived named the stylesheet of the latest settings then; this page may link another.
    if (rendered.stylesheetUrl !== undefined) {
      pageStylesheets.set(reply.raw, rendered.stylesheetUrl);
      applyContentSecurityPolicy(request.raw, reply.raw, () => undefined);
    }
    reply.header('cache-control', rendered.status === 200 ? `public, max-age=${MAX_AGE_S}, stale-while-revalidate=30` : 'no-cache');
    reply.header('etag', rendered.etag);
    reply.header('vary', 'Accept-Encoding');
    const match = request.headers['if-none-match'];
    if (rendered.status === 200 && match !== undefined && match.split(/\s*,\s*/).some((tag) => tag === rendered.etag || tag === `W/${rendered.etag}` || tag === '*')) {
      return reply.code(304).send();
    }
    return reply.code(rendered.status).type(rendered.type).send(rendered.body);
  }

  const cached = (key: string, render: () => Promise<PageRender>) => async (request: FastifyRequest, reply: FastifyReply) => send(request, reply, await cache.get(key, render));

  function feedOf(siteName: string, rows: PageIncident[], self: string): Feed {
    return {
      title: siteName,
      site: site.publicUrl,
      self,
      items: rows.map((r) => ({
        id: r.id,
        title: `${r.name} (${INCIDENT_STATUS_NAMES[r.status] ?? 'Unknown'})`,
        summary: r.message,
        updated: r.updated_at,
        link: `${site.publicUrl}/incidents/${r.id}`,
      })),
    };
  }

  const idParams = { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,9}$' } }, required: ['id'] } as const;
  const pageQuery = { type: 'object', properties: { page: { type: 'string', pattern: '^[0-9]{1,6}$' } } } as const;

  app.setErrorHandler(async (error: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (error instanceof PageNotFound || error.validation) return send(request, reply, await cache.get('404', renderNotFound));
    // A request the page cannot take (a body too large or of a type no parser reads) is the client's error.
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      const body = await page(latest, 'error', `Bad request · ${latest.siteName}`, { status: error.statusCode, heading: 'Bad request', text: 'The request could not be understood.' }, error.statusCode);
      return reply.code(error.statusCode).header('cache-control', 'no-store').type(body.type).send(body.body);
    }
    const unavailable = isStoreUnavailable(error) || error instanceof RateLimitUnavailable;
    request.log.error({ err: error }, unavailable ? 'database unavailable' : 'status page failed');
    const status = unavailable ? 503 : 500;
    if (unavailable) reply.header('retry-after', '5');
    const body = await page(latest, 'error', `Error · ${latest.siteName}`, { status, heading: 'Something went wrong', text: 'The page could not be shown. Try again in a moment.' }, status);
    return reply.code(status).header('cache-control', 'no-store').type(body.type).send(body.body);
  });

  // Every page route is hidden from the API's OpenAPI document.
  app.get('/', { schema: { hide: true } }, cached('/', renderIndex));

  app.get('/incidents/:id', { schema: { hide: true, params: idParams } }, async (request, reply) => {
    const id = Number((request.params as { id: string }).id);
    const rendered = await cache.get(`/incidents/${id}`, async () => {
      const row = await repo.incident(db, id);
      if (!row) throw new PageNotFound();
      const updates = await repo.updatesOf(db, [id]);
      const settings = await current();
      return page(settings, 'incident', `${row.name} · ${settings.siteName}`, { incident: presentIncident(datesIn(settings.locale), row, updates) });
    });
    return send(request, reply, rendered);
  });

  app.get('/history', { schema: { hide: true, querystring: pageQuery } }, async (request, reply) => {
    const number = Math.max(1, Number((request.query as { page?: string }).page ?? '1'));
    const rendered = await cache.get(`/history?page=${number}`, async () => {
      const { total, rows } = await repo.history(db, number, HISTORY_PER_PAGE);
      const lastPage = Math.max(1, Math.ceil(total / HISTORY_PER_PAGE));
      if (number > lastPage) throw new PageNotFound();
      const settings = await current();
      const dates = datesIn(settings.locale);
      const days: Array<{ day: string; incidents: ReturnType<typeof presentIncident>[] }> = [];
      for (const row of rows) {
        const day = dates.dayOf(row.occurred_at);
        if (days.at(-1)?.day !== day) days.push({ day, incidents: [] });
        days.at(-1)!.incidents.push(presentIncident(dates, row, []));
      }
      return page(settings, 'history', `History · ${settings.siteName}`, { days, total, page: number, lastPage });
    });
    return send(request, reply, rendered);
  });

  app.get('/schedules/:id', { schema: { hide: true, params: idParams } }, async (request, reply) => {
    const id = Number((request.params as { id: string }).id);
    const rendered = await cache.get(`/schedules/${id}`, async () => {
      const row = await repo.schedule(db, id);
      if (!row) throw new PageNotFound();
      const settings = await current();
      return page(settings, 'schedule', `${row.name} · ${settings.siteName}`, { schedule: presentSchedule(datesIn(settings.locale), row) });
    });
    return send(request, reply, rendered);
  });

  app.get(
    '/rss',
    { schema: { hide: true } },
    cached('/rss', async () => ({ status: 200, type: 'application/rss+xml; charset=utf-8', body: renderRss(feedOf((await current()).siteName, (await repo.history(db, 1, FEED_SIZE)).rows, `${site.publicUrl}/rss`)) })),
  );
  app.get(
    '/atom',
    { schema: { hide: true } },
    cached('/atom', async () => ({ status: 200, type: 'application/atom+xml; charset=utf-8', body: renderAtom(feedOf((await current()).siteName, (await repo.history(db, 1, FEED_SIZE)).rows, `${site.publicUrl}/atom`)) })),
  );

  // Subscriptions. The signed link is the credential of the verify, manage and unsubscribe pages
  // (there is no session here, hence no CSRF token): their forms post back to the same signed URL.
  const { subscribers, pepper } = deps;
  const audited = createAudited(db, deps.writer);
  const findSubscriber = (executor: Executor) => (id: number) => subscribers.find(executor, id);

  /** The audit context of a visitor's request: anonymous, the path without its query (a signed link is a credential). */
  function visitor(request: FastifyRequest): AuditContext {
    const agent = request.headers['user-agent'];
    return {
      actor: { type: 'anonymous' },
      requestId: request.id,
      ip: request.clientIp || null,
      userAgent: typeof agent === 'string' ? agent : null,
      method: request.method,
      path: request.url.split('?')[0] ?? request.url,
    };
  }

  /** Sends a page made for one visitor: never stored by a cache, and no Referer carrying a signed link. */
  function sendPrivate(request: FastifyRequest, reply: FastifyReply, rendered: PageRender) {
    pageStylesheets.set(reply.raw, rendered.stylesheetUrl ?? null);
    applyContentSecurityPolicy(request.raw, reply.raw, () => undefined);
    reply.header('cache-control', 'no-store');
    reply.header('referrer-policy', 'no-referrer');
    return reply.code(rendered.status).type(rendered.type).send(rendered.body);
  }

  /** The components a visitor may choose: the ones guests see, named with their group's name. */
  async function choosableComponents(): Promise<Array<{ id: number; name: string }>> {
    const all = { page: 1, perPage: 100_000, sort: 'order', direction: 'asc' as const };
    const { rows: components } = await componentsRepo.list(db, {}, all, { guest: true });
    const groupNames = new Map((await groupsRepo.list(db, { visible: true }, all)).rows.map((g) => [g.id, g.name]));
    return components.map((c) => ({ id: c.id, name: groupNames.has(c.group_id) ? `${groupNames.get(c.group_id)} · ${c.name}` : c.name }));
  }

  /** One form field as text; a repeated field gives its first value. */
  function formField(body: unknown, name: string): string {
    const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
    const first = Array.isArray(value) ? (value as unknown[])[0] : value;
    return typeof first === 'string' ? first : '';
  }

  /**
   * The visitor's choice of components: `'all'`, or the chosen ids when each is one guests see;
   * a message when the choice is not one the form offers.
   */
  function chosenComponents(body: unknown, choosable: ReadonlyArray<{ id: number }>): { ok: true; components: 'all' | number[] } | { ok: false; message: string } {
    const raw = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).components : undefined;
    const list = (Array.isArray(raw) ? (raw as unknown[]) : raw === undefined ? [] : [raw]).filter((v): v is string => typeof v === 'string');
    const scope = formField(body, 'scope');
    if (scope === 'all' || (scope === '' && list.length === 0)) return { ok: true, components: 'all' };
    if (list.length === 0) return { ok: false, message: 'Choose at least one component, or all of them.' };
    if (list.length > MAX_COMPONENTS) return { ok: false, message: 'Choose fewer components.' };
    const known = new Set(choosable.map((c) => c.id));
    const ids = [...new Set(list.map((v) => (/^[0-9]{1,10}$/.test(v) ? Number(v) : NaN)))];
    if (!ids.every((id) => known.has(id))) return { ok: false, message: 'Choose among the components listed.' };
    return { ok: true, components: ids };
  }

  /** The signed link's query as the page's forms post it back (only the link's own fields). */
  function signedQuery(query: unknown): string {
    const q = query as Record<string, string>;
    const params = new URLSearchParams({ id: q.id! });
    if (q.expires !== undefined) params.set('expires', q.expires);
    params.set('sig', q.sig!);
    return params.toString();
  }

  async function renderSubscribe(values: { email: string; scope: string; chosen: number[]; error: string | null }, status = 200) {
    const settings = await current();
    return page(settings, 'subscribe', `Subscribe · ${settings.siteName}`, { components: await choosableComponents(), ...values }, status);
  }

  /** Audits a visitor's refused request (a throttled subscription, a forged or stale link): every denial is an event. */
  async function recordRefusal(request: FastifyRequest, action: string, status: number, reason: string): Promise<void> {
    await db.transaction().execute((trx) =>
      deps.writer.append(trx, [{ context: visitor(request), fact: { action, resourceType: 'subscribers', resourceId: null, outcome: 'denied', status, reason, changes: null } }]),
    );
  }

  /** The refused-link page, the refusal audited under `action`. */
  async function linkRefused(request: FastifyRequest, action: string) {
    await recordRefusal(request, action, 400, 'link_invalid');
    return renderLinkRefused();
  }

  async function renderLinkRefused() {
    const settings = await current();
    return page(settings, 'error', `Link not valid · ${settings.siteName}`, {
      status: 400,
      heading: 'This link is not valid',
      text: 'The link has expired, was already replaced by a newer one, or was changed on the way. Nothing was changed. Subscribe again to get a new link.',
    }, 400);
  }

  app.get('/subscribe', { schema: { hide: true } }, cached('/subscribe', () => renderSubscribe({ email: '', scope: 'all', chosen: [], error: null })));

  app.post('/subscribe', { schema: { hide: true } }, async (request, reply) => {
    const decision = await deps.limiter.consume(`subscribe:${request.clientIp}`, SUBSCRIBE_LIMIT_PER_HOUR, 3600);
    if (!decision.allowed) {
      const settings = await current();
      const minutes = Math.max(1, Math.ceil(decision.resetMs / 60_000));
      reply.header('retry-after', String(Math.ceil(decision.resetMs / 1000)));
      await recordRefusal(request, 'subscribers.create', 429, 'throttled');
      return sendPrivate(request, reply, await page(settings, 'error', `Too many requests · ${settings.siteName}`, { status: 429, heading: 'Too many requests', text: `Too many subscription requests came from your address. Try again in ${minutes} minute(s).` }, 429));
    }
    const body = request.body;
    const email = formField(body, 'email');
    const choosable = await choosableComponents();
    const choice = chosenComponents(body, choosable);
    const shown = { email: email.slice(0, 320), scope: formField(body, 'scope') === 'some' ? 'some' : 'all', chosen: choice.ok && choice.components !== 'all' ? choice.components : [] };
    const normalised = normaliseEmail(email);
    if (normalised === null) return sendPrivate(request, reply, await renderSubscribe({ ...shown, error: 'Enter a valid email address.' }, 400));
    if (!choice.ok) return sendPrivate(request, reply, await renderSubscribe({ ...shown, error: choice.message }, 400));
    const components = choice.components;

    const refused = await audited(visitor(request), async (trx) => {
      const existing = await subscribers.findByEmail(trx, normalised);
      if (existing) {
        // A verified address is left as it is; the answer is the same, so the form never tells whether an address is subscribed.
        if (existing.verified_at !== null) return null;
        // Unverified: the new choice replaces the old, and a new code makes the earlier mail's link stop working.
        const rotated = await subscribers.rotateCode(trx, existing.id);
        const set = rotated && (await subscribers.setComponents(trx, existing.id, components));
        if (!rotated || !set) return null;
        if (!set.ok) return set.details.join(' ');
        await deps.sendVerification(trx, set.subscriber);
        return null;
      }
      const result = await subscribers.subscribe(trx, { email: normalised, ...(components === 'all' ? {} : { components }) });
      if (!result.ok) return result.details.join(' ');
      // Created meanwhile by another request: that request sends the mail.
      if (result.created) await deps.sendVerification(trx, result.subscriber);
      return null;
    });
    if (refused !== null) return sendPrivate(request, reply, await renderSubscribe({ ...shown, error: refused }, 400));
    const settings = await current();
    return sendPrivate(request, reply, await page(settings, 'subscribe-done', `Check your mail · ${settings.siteName}`, { state: 'sent' }));
  });

  app.get(LINK_PATHS.verify, { schema: { hide: true } }, async (request, reply) => {
    const verified = await audited(visitor(request), async (trx) => {
      const id = await checkVerifyLink(pepper, request.query, clock.now(), findSubscriber(trx));
      return id === null ? null : subscribers.verify(trx, id);
    });
    if (!verified) return sendPrivate(request, reply, await linkRefused(request, 'subscribers.update'));
    const settings = await current();
    return sendPrivate(request, reply, await page(settings, 'subscribe-done', `Subscribed · ${settings.siteName}`, { state: 'verified', manageUrl: manageLink(site.publicUrl, pepper, verified) }));
  });

  async function renderManage(request: FastifyRequest, id: number, notice: string | null, error: string | null, status = 200) {
    const subscriber = await subscribers.find(db, id);
    if (!subscriber) return renderLinkRefused();
    const subscribed = await subscribers.componentsOf(db, id);
    const settings = await current();
    return page(settings, 'manage', `Your subscription · ${settings.siteName}`, {
      email: subscriber.email,
      verified: subscriber.verified_at !== null,
      scope: subscriber.global === 1 ? 'all' : 'some',
      chosen: subscriber.global === 1 ? [] : subscribed,
      components: await choosableComponents(),
      action: `${LINK_PATHS.manage}?${signedQuery(request.query)}`,
      unsubscribeUrl: unsubscribeLink(site.publicUrl, pepper, subscriber),
      notice,
      error,
    }, status);
  }

  app.get(LINK_PATHS.manage, { schema: { hide: true } }, async (request, reply) => {
    const id = await checkManageLink(pepper, request.query, findSubscriber(db));
    return sendPrivate(request, reply, id === null ? await linkRefused(request, 'subscribers.show') : await renderManage(request, id, null, null));
  });

  app.post(LINK_PATHS.manage, { schema: { hide: true } }, async (request, reply) => {
    const choosable = await choosableComponents();
    const outcome = await audited(visitor(request), async (trx) => {
      const id = await checkManageLink(pepper, request.query, findSubscriber(trx));
      if (id === null) return { id: null };
      const choice = chosenComponents(request.body, choosable);
      if (!choice.ok) return { id, error: choice.message };
      const set = await subscribers.setComponents(trx, id, choice.components);
      if (!set) return { id: null };
      return set.ok ? { id, error: null } : { id, error: set.details.join(' ') };
    });
    if (outcome.id === null) return sendPrivate(request, reply, await linkRefused(request, 'subscribers.update'));
    const rendered = outcome.error === null ? await renderManage(request, outcome.id, 'Your choice is saved.', null) : await renderManage(request, outcome.id, null, outcome.error, 400);
    return sendPrivate(request, reply, rendered);
  });

  app.get(LINK_PATHS.unsubscribe, { schema: { hide: true } }, async (request, reply) => {
    const id = await checkUnsubscribeLink(pepper, request.query, findSubscriber(db));
    if (id === null) return sendPrivate(request, reply, await linkRefused(request, 'subscribers.show'));
    const settings = await current();
    return sendPrivate(request, reply, await page(settings, 'unsubscribe', `Unsubscribe · ${settings.siteName}`, { state: 'confirm', action: `${LINK_PATHS.unsubscribe}?${signedQuery(request.query)}` }));
  });

  // RFC 8058 one-click: a mail client POSTs `List-Unsubscribe=One-Click` to the link, but any body
  // (or none, of any type) is taken, so this route reads no body at all.
  await app.register(async (oneClick) => {
    oneClick.removeAllContentTypeParsers();
    oneClick.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_request, _body, done) => done(null, undefined));
    oneClick.post(LINK_PATHS.unsubscribe, { schema: { hide: true } }, async (request, reply) => {
      const removed = await audited(visitor(request), async (trx) => {
        const id = await checkUnsubscribeLink(pepper, request.query, findSubscriber(trx));
        return id === null ? null : subscribers.remove(trx, id);
      });
      if (!removed) return sendPrivate(request, reply, await linkRefused(request, 'subscribers.delete'));
      const settings = await current();
      return sendPrivate(request, reply, await page(settings, 'unsubscribe', `Unsubscribed · ${settings.siteName}`, { state: 'done' }));
    });
  });

  handle.current = {
    async notFound(request, reply) {
      // Outside this plugin's context (the root's not-found handler): apply the same headers by hand.
      await new Promise<void>((resolve, reject) => applySecurityHeaders(request.raw, reply.raw, (err?: unknown) => (err ? reject(err instanceof Error ? err : new Error('security headers failed')) : resolve())));
      await send(request, reply, await cache.get('404', renderNotFound));
    },
  };
}
