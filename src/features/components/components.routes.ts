/** `/api/v1/components` (Cachet 2.4 rows 4–8). */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { callerHolds } from '../../http/auth.js';
import { found } from '../../http/errors.js';
import { allowedIds } from '../../http/limits.js';
import { itemEnvelope, listEnvelope, listParams, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import { slugify } from '../../infra/slug.js';
import type { ComponentFilters } from './components.repo.js';
import {
  COMPONENT_SORTABLE,
  ComponentListQuery,
  ComponentSchema,
  CreateComponentBody,
  UpdateComponentBody,
} from './components.schema.js';
import type { ComponentsService } from './components.service.js';

export interface ComponentsRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  components: ComponentsService;
  perPageMax: number;
}

const tags = ['Components'];

function filtersOf(query: Record<string, unknown>): ComponentFilters {
  const filters: ComponentFilters = {};
  for (const key of ['id', 'status', 'group_id'] as const) if (typeof query[key] === 'number') filters[key] = query[key];
  if (typeof query.order === 'number') filters.order = query.order;
  if (typeof query.name === 'string') filters.name = query.name;
  if (typeof query.enabled === 'boolean') filters.enabled = query.enabled;
  if (query.tags !== undefined) {
    const list = Array.isArray(query.tags) ? query.tags : [query.tags];
    filters.tags = list.map((t) => slugify(String(t))).filter(Boolean);
  }
  return filters;
}

export function componentsRoutes(app: ApiApp, { db, transact, components, perPageMax }: ComponentsRoutesDeps): void {
  app.get(
    '/api/v1/components',
    {
      schema: { tags, summary: 'List components', querystring: ComponentListQuery, response: withErrors(200, listEnvelope(ComponentSchema)) },
      config: { access: { scope: 'components.read', guest: true, action: 'components.list', limit: { resource: 'components', lists: true } } },
    },
    async (request) => {
      const query = request.query as Record<string, unknown>;
      const params = { ...listParams(query, COMPONENT_SORTABLE, perPageMax), onlyIds: allowedIds(request) };
      const seesAll = callerHolds(request, 'components.read');
      const { total, items } = await components.list(db, filtersOf(query), params, seesAll, request.timeZone);
      return paginated(request, params, total, items);
    },
  );

  app.get(
    '/api/v1/components/:id',
    {
      schema: { tags, summary: 'Get a component', params: IdParams, response: withErrors(200, itemEnvelope(ComponentSchema)) },
      config: { access: { scope: 'components.read', guest: true, action: 'components.show', limit: { resource: 'components', param: 'id' } } },
    },
    async (request) => {
      return { data: found(await components.show(db, parseId(request.params.id), callerHolds(request, 'components.read'), request.timeZone)) };
    },
  );

  app.post(
    '/api/v1/components',
    {
      schema: { tags, summary: 'Create a component', body: CreateComponentBody, response: withErrors(200, itemEnvelope(ComponentSchema)) },
      config: { access: { scope: 'components.manage', action: 'components.create', limit: { resource: 'components', creates: true } } },
    },
    async (request) => {
      const row = await transact(request, (trx) => components.create(trx, request.body));
      return { data: (await components.present(db, [row], request.timeZone))[0]! };
    },
  );

  app.put(
    '/api/v1/components/:id',
    {
      schema: { tags, summary: 'Update a component', params: IdParams, body: UpdateComponentBody, response: withErrors(200, itemEnvelope(ComponentSchema)) },
      config: { access: { scope: 'components.manage', action: 'components.update', limit: { resource: 'components', param: 'id' } } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const changed = await transact(request, async (trx) => found(await components.update(trx, id, request.body)));
      return { data: (await components.present(db, [changed.after], request.timeZone))[0]! };
    },
  );

  app.delete(
    '/api/v1/components/:id',
    {
      schema: { tags, summary: 'Delete a component', params: IdParams, response: noContentWithErrors() },
      config: { access: { scope: 'components.delete', action: 'components.delete', limit: { resource: 'components', param: 'id' } } },
    },
    async (request, reply) => {
      const id = parseId(request.params.id);
      await transact(request, async (trx) => found(await components.remove(trx, id)));
      return reply.code(204).send();
    },
  );
}
