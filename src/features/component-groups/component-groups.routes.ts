/** `/api/v1/components/groups` (Cachet 2.4 rows 9–13). */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { callerHolds } from '../../http/auth.js';
import { found } from '../../http/errors.js';
import { allowedIds, limitedIds } from '../../http/limits.js';
import { itemEnvelope, listEnvelope, listParams, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import type { ComponentGroupFilters } from './component-groups.repo.js';
import {
  ComponentGroupListQuery,
  ComponentGroupSchema,
  CreateComponentGroupBody,
  GROUP_SORTABLE,
  UpdateComponentGroupBody,
} from './component-groups.schema.js';
import type { ComponentGroupsService } from './component-groups.service.js';

export interface ComponentGroupsRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  groups: ComponentGroupsService;
  perPageMax: number;
}

const tags = ['Component groups'];

function filtersOf(query: Record<string, unknown>): ComponentGroupFilters {
  const filters: ComponentGroupFilters = {};
  for (const key of ['id', 'order', 'collapsed'] as const) if (typeof query[key] === 'number') filters[key] = query[key];
  if (typeof query.name === 'string') filters.name = query.name;
  if (typeof query.visible === 'boolean') filters.visible = query.visible;
  return filters;
}

export function componentGroupsRoutes(app: ApiApp, { db, transact, groups, perPageMax }: ComponentGroupsRoutesDeps): void {
  app.get(
    '/api/v1/components/groups',
    {
      schema: { tags, summary: 'List component groups', querystring: ComponentGroupListQuery, response: withErrors(200, listEnvelope(ComponentGroupSchema)) },
      config: { access: { scope: 'component-groups.read', guest: true, action: 'component-groups.list', limit: { resource: 'component-groups', lists: true } } },
    },
    async (request) => {
      const query = request.query as Record<string, unknown>;
      const params = { ...listParams(query, GROUP_SORTABLE, perPageMax), onlyIds: allowedIds(request) };
      const { total, items } = await groups.list(db, filtersOf(query), params, callerHolds(request, 'component-groups.read'), request.timeZone, limitedIds(request, 'components'));
      return paginated(request, params, total, items);
    },
  );

  app.get(
    '/api/v1/components/groups/:id',
    {
      schema: { tags, summary: 'Get a component group', params: IdParams, response: withErrors(200, itemEnvelope(ComponentGroupSchema)) },
      config: { access: { scope: 'component-groups.read', guest: true, action: 'component-groups.show', limit: { resource: 'component-groups', param: 'id' } } },
    },
    async (request) => ({
      data: found(await groups.show(db, parseId(request.params.id), callerHolds(request, 'component-groups.read'), request.timeZone, limitedIds(request, 'components'))),
    }),
  );

  app.post(
    '/api/v1/components/groups',
    {
      schema: { tags, summary: 'Create a component group', body: CreateComponentGroupBody, response: withErrors(200, itemEnvelope(ComponentGroupSchema)) },
      config: { access: { scope: 'component-groups.manage', action: 'component-groups.create', limit: { resource: 'component-groups', creates: true } } },
    },
    async (request) => {
      const row = await transact(request, (trx) => groups.create(trx, request.body));
      return { data: (await groups.present(db, [row], request.timeZone))[0]! };
    },
  );

  app.put(
    '/api/v1/components/groups/:id',
    {
      schema: { tags, summary: 'Update a component group', params: IdParams, body: UpdateComponentGroupBody, response: withErrors(200, itemEnvelope(ComponentGroupSchema)) },
      config: { access: { scope: 'component-groups.manage', action: 'component-groups.update', limit: { resource: 'component-groups', param: 'id' } } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const changed = await transact(request, async (trx) => found(await groups.update(trx, id, request.body)));
      return { data: (await groups.present(db, [changed.after], request.timeZone))[0]! };
    },
  );

  app.delete(
    '/api/v1/components/groups/:id',
    {
      schema: { tags, summary: 'Delete a component group (its components are ungrouped)', params: IdParams, response: noContentWithErrors() },
      config: { access: { scope: 'component-groups.delete', action: 'component-groups.delete', limit: { resource: 'component-groups', param: 'id' } } },
    },
    async (request, reply) => {
      const id = parseId(request.params.id);
      await transact(request, async (trx) => found(await groups.remove(trx, id)));
      return reply.code(204).send();
    },
  );
}
