/** The OpenAPI 3.1 document, generated from the route schemas and their declared scopes. */
import swagger from '@fastify/swagger';
import type { ApiApp } from './app-types.js';

/** Registers @fastify/swagger; `GET /api/v1/openapi.json` is added by the system routes. */
export async function registerOpenApi(app: ApiApp, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Cachet TS API',
        version,
        description: 'Cachet API v1, wire-compatible with Cachet 2.4, with scoped API keys. Each operation names the scope it needs in `x-cachet-scope`.',
      },
      components: {
        securitySchemes: {
          cachetToken: { type: 'apiKey', in: 'header', name: 'X-Cachet-Token' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const access = route.config?.access;
      if (!access || !schema) return { schema, url };
      const described = { ...schema } as Record<string, unknown>;
      described['x-cachet-scope'] = access.scope;
      described['x-cachet-action'] = access.action;
      if (access.fieldScopes) described['x-cachet-field-scopes'] = access.fieldScopes;
      if (access.scope !== 'public') {
        described.security = access.guest ? [{}, { cachetToken: [] }, { bearer: [] }] : [{ cachetToken: [] }, { bearer: [] }];
      }
      return { schema: described, url };
    },
  });
}
