/**
 * The OpenAPI 3.1 document, generated from the route schemas and their declared access rules.
 * Client authors generate clients from it, so it passes Redocly's `recommended` lint (redocly.yaml,
 * test/unit/openapi-lint.test.ts): every operation has a stable `operationId`, its `security` and
 * the scope it needs, all derived here from the route's `config.access` rather than written per route.
 */
import swagger from '@fastify/swagger';
import type { RouteOptions } from 'fastify';
import type { RouteAccess } from './access.js';
import type { ApiApp } from './app-types.js';

export interface OpenApiOptions {
  version: string;
  /** CACHET_PUBLIC_URL: the document's one `servers` entry (route paths keep their `/api/v1`). */
  publicUrl: string;
}

/** The tags the routes use, each described; a route with a tag missing here stops start-up. */
export const OPENAPI_TAGS: ReadonlyArray<{ name: string; description: string }> = [
  { name: 'System', description: 'Liveness, version and overall status. No key needed.' },
  { name: 'Components', description: 'Components and their status (Cachet 2.4). Guests see enabled components outside hidden groups.' },
  { name: 'Component groups', description: 'Groups of components (Cachet 2.4). Guests see visible groups only.' },
  { name: 'Incidents', description: 'Incidents (Cachet 2.4). Guests see visible incidents only.' },
  { name: 'Incident updates', description: 'Updates posted on an incident (Cachet 2.4).' },
  { name: 'Incident templates', description: 'Incident message templates (Liquid).' },
  { name: 'Metrics', description: 'Metrics (Cachet 2.4). Guests see metrics with `visible` 1 only.' },
  { name: 'Metric points', description: 'Points of a metric (Cachet 2.4).' },
  { name: 'Schedules', description: 'Scheduled maintenance (Cachet 2.4).' },
  { name: 'Subscribers', description: 'Subscribers and their subscriptions (Cachet 2.4). Never visible to guests.' },
  { name: 'Keys', description: 'Scoped API keys: list, create (token shown once), update, revoke, rotate, and the unauthenticated leak report. A key can never create or manage a key stronger than itself.' },
  { name: 'Webhooks', description: 'Outbound webhooks: signed notification deliveries (Standard Webhooks), secret rotation with a grace, and the delivery log. The signing secret is shown once.' },
  { name: 'Audit', description: 'The tamper-evident audit trail and per-key usage.' },
];

/** Audit verbs whose operationId verb differs (`components.show` → `getComponent`). */
const VERB_NAMES: Readonly<Record<string, string>> = { show: 'get' };

const capitalise = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/**
 * The operationId derived from a route's audit action `<resource>.<verb>`: the verb, then the
 * resource in PascalCase, plural for `list` and singular otherwise (`components.list` →
 * `listComponents`, `component-groups.show` → `getComponentGroup`, `system.ping` → `getPing`).
 * A route whose action does not name it uniquely (several routes share `keys.show`) sets
 * `schema.operationId` itself; a duplicate stops start-up.
 */
export function deriveOperationId(action: string): string {
  const [resource = '', verb = ''] = action.split('.');
  if (resource === 'system') return `get${capitalise(verb)}`;
  const words = resource.split('-');
  if (verb !== 'list') words[words.length - 1] = words[words.length - 1]!.replace(/s$/, '');
  return [VERB_NAMES[verb] ?? verb, ...words.map(capitalise)].join('');
}

const KEYED: Array<Record<string, string[]>> = [{ cachetToken: [] }, { bearer: [] }];

/** Who may call the operation, as OpenAPI `security`: `{}` documents that no key is needed. */
export function securityOf(access: RouteAccess): Array<Record<string, string[]>> {
  const anonymous = access.guest === true || (access.scope === 'public' && access.requiresKey !== true);
  return anonymous ? [{}, ...KEYED] : KEYED;
}

/** A sentence on the key the operation needs, appended to its description. */
function accessSentence(access: RouteAccess): string {
  const fields = Object.entries(access.fieldScopes ?? {})
    .map(([field, scope]) => ` Setting \`${field}\` also needs \`${scope}\`.`)
    .join('');
  if (access.scope === 'public') {
    return access.requiresKey ? 'Needs a key, with any scope.' : 'No key needed; a key that is presented must be valid.';
  }
  if (access.guest) return `Without a key: the guest view. A key needs the \`${access.scope}\` scope (in \`x-cachet-scope\`) and sees everything.${fields}`;
  return `Needs a key with the \`${access.scope}\` scope (in \`x-cachet-scope\`); without one a 401, without the scope a 403.${fields}`;
}

function methodsOf(method: string | string[]): string[] {
  return [method].flat().filter((m) => m !== 'HEAD');
}

/** Registers @fastify/swagger; `GET /api/v1/openapi.json` is added by the system routes. */
export async function registerOpenApi(app: ApiApp, { version, publicUrl }: OpenApiOptions): Promise<void> {
  // operationIds, claimed as the routes are registered so that a clash stops start-up.
  const operationIds = new Map<string, string>();
  const claimedBy = new Map<string, string>();
  const tagNames = new Set(OPENAPI_TAGS.map((tag) => tag.name));
  app.addHook('onRoute', (route: RouteOptions) => {
    const access = route.config?.access;
    if (!access || !route.url.startsWith('/api') || route.schema?.hide) return;
    for (const method of methodsOf(route.method)) {
      const where = `${method} ${route.url}`;
      const id = route.schema?.operationId ?? deriveOperationId(access.action);
      const holder = claimedBy.get(id);
      if (holder !== undefined && holder !== where) throw new Error(`routes ${holder} and ${where} both have operationId ${id}; give one a schema.operationId`);
      claimedBy.set(id, where);
      operationIds.set(where, id);
    }
    for (const tag of route.schema?.tags ?? []) {
      if (!tagNames.has(tag)) throw new Error(`route ${route.url} uses tag "${tag}", which OPENAPI_TAGS does not describe`);
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Cachet TS API',
        version,
        description:
          'Cachet API v1, wire-compatible with Cachet 2.4, with scoped API keys. Send a key as `X-Cachet-Token: <token>` ' +
          'or `Authorization: Bearer <token>`. Each operation names the scope it needs in `x-cachet-scope` and in its description; ' +
          'an operation whose `security` lists `{}` also answers without a key (the guest view).',
        license: { name: 'BSD-3-Clause', identifier: 'BSD-3-Clause' },
      },
      servers: [{ url: publicUrl, description: 'This server (CACHET_PUBLIC_URL)' }],
      tags: [...OPENAPI_TAGS],
      components: {
        securitySchemes: {
          cachetToken: { type: 'apiKey', in: 'header', name: 'X-Cachet-Token', description: 'A Cachet TS API key (Cachet 2.x header).' },
          bearer: { type: 'http', scheme: 'bearer', description: 'The same API key as `Authorization: Bearer <token>`.' },
        },
      },
    },
    // The routes already carry `/api/v1`; a CACHET_PUBLIC_URL with a path must not strip it.
    stripBasePath: false,
    transform: ({ schema, url, route }) => {
      const access = route.config?.access;
      if (!access || !schema) return { schema, url };
      const described = { ...schema } as Record<string, unknown>;
      const id = operationIds.get(`${methodsOf(route.method)[0] ?? ''} ${route.url}`);
      if (id !== undefined) described.operationId = id;
      described['x-cachet-scope'] = access.scope;
      described['x-cachet-action'] = access.action;
      if (access.fieldScopes) described['x-cachet-field-scopes'] = access.fieldScopes;
      described.security = securityOf(access);
      const lead = typeof schema.description === 'string' ? `${schema.description}\n\n` : '';
      described.description = `${lead}${accessSentence(access)}`;
      return { schema: described, url };
    },
  });
}
