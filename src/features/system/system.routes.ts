/** `/api/v1/ping`, `/version`, `/status` (Cachet 2.4 rows 1–3) and the OpenAPI document. */
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { callerHolds } from '../../http/auth.js';
import { withErrors } from '../../http/responses.js';
import type { ShortCache } from '../../infra/short-cache.js';
import type { SystemService, SystemStatus } from './system.service.js';

/** The Cachet release whose API v1 this server speaks; clients compare against it. */
export const CACHET_API_VERSION = '2.4.1';

export interface SystemRoutesDeps {
  db: Kysely<DB>;
  system: SystemService;
  /** This server's own version. */
  version: string;
  /** The computed status per visibility, shared by a burst of callers; the app empties it after each write. */
  statusCache: ShortCache<SystemStatus>;
}

/** How long `/api/v1/status` reuses its answer when no write through this server changed anything (writes elsewhere: other instances, the CLI). */
export const STATUS_CACHE_TTL_MS = 1000;

const tags = ['System'];

export function systemRoutes(app: ApiApp, { db, system, version, statusCache }: SystemRoutesDeps): void {
  app.get(
    '/api/v1/ping',
    {
      schema: { tags, summary: 'Liveness check', response: withErrors(200, Type.Object({ data: Type.Literal('Pong!') })) },
      config: { access: { scope: 'public', action: 'system.ping' } },
    },
    async () => ({ data: 'Pong!' as const }),
  );

  app.get(
    '/api/v1/version',
    {
      schema: {
        tags,
        summary: 'Cachet API version',
        response: withErrors(
          200,
          Type.Object({
            meta: Type.Object({
              on_latest: Type.Boolean(),
              latest: Type.Object({ tag_name: Type.String(), prelease: Type.Boolean(), draft: Type.Boolean() }),
              server: Type.Object({ name: Type.String(), version: Type.String() }),
            }),
            data: Type.String(),
          }),
        ),
      },
      config: { access: { scope: 'public', action: 'system.version' } },
    },
    // No call to GitHub: the server never reaches out to learn about releases.
    async () => ({
      meta: {
        on_latest: true,
        latest: { tag_name: `v${CACHET_API_VERSION}`, prelease: false, draft: false },
        server: { name: 'cachet-ts', version },
      },
      data: CACHET_API_VERSION,
    }),
  );

  app.get(
    '/api/v1/status',
    {
      schema: {
        tags,
        summary: 'Overall system status',
        response: withErrors(200, Type.Object({ data: Type.Object({ status: Type.String(), message: Type.String() }) })),
      },
      config: { access: { scope: 'public', action: 'system.status' } },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-cache');
      const sees = { hiddenGroups: callerHolds(request, 'component-groups.read'), hiddenIncidents: callerHolds(request, 'incidents.read') };
      return { data: await statusCache.get(`${sees.hiddenGroups}/${sees.hiddenIncidents}`, () => system.status(db, sees)) };
    },
  );

  app.get(
    '/api/v1/openapi.json',
    { schema: { hide: true }, config: { access: { scope: 'public', action: 'system.openapi' } } },
    async () => app.swagger(),
  );
}
