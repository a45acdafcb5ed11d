/** `/api/v1/incidents` (Cachet 2.4 rows 14–18). */
import type { FastifyRequest } from 'fastify';
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
import type { IncidentView } from './incident-updates.service.js';
import type { IncidentFilters } from './incidents.repo.js';
import { CreateIncidentBody, INCIDENT_SORTABLE, IncidentListQuery, IncidentSchema, UpdateIncidentBody } from './incidents.schema.js';
import type { IncidentsService, IncidentWriteContext } from './incidents.service.js';

export interface IncidentsRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  incidents: IncidentsService;
  perPageMax: number;
}

const tags = ['Incidents'];

/** The request's time zone and the absolute base URL its permalinks use (the configured public URL, never the request's Host). */
export function incidentViewOf(request: FastifyRequest): IncidentView {
  return { zone: request.timeZone, baseUrl: request.server.publicUrl };
}

function writeContextOf(request: FastifyRequest): IncidentWriteContext {
  return { zone: request.timeZone, seesHiddenComponents: callerHolds(request, 'components.read') };
}

/** Setting `component_status` changes a component, so it needs that resource's scope too. */
const componentFieldScopes = { component_status: 'components.manage' } as const;

/** The component an incident write names (or changes the status of) must be within a key's `components` limit. */
const componentFieldLimits = [{ field: 'component_id', resource: 'components', with: ['component_status'] }] as const;

function filtersOf(query: Record<string, unknown>): IncidentFilters {
  const filters: IncidentFilters = {};
  for (const key of ['id', 'component_id', 'status'] as const) if (typeof query[key] === 'number') filters[key] = query[key];
  if (typeof query.name === 'string') filters.name = query.name;
  if (typeof query.visible === 'boolean') filters.visible = query.visible;
  if (typeof query.stickied === 'boolean') filters.stickied = query.stickied;
  return filters;
}

/** Registers the incident routes. */
export function incidentsRoutes(app: ApiApp, { db, transact, incidents, perPageMax }: IncidentsRoutesDeps): void {
  app.get(
    '/api/v1/incidents',
    {
      schema: { tags, summary: 'List incidents', querystring: IncidentListQuery, response: withErrors(200, listEnvelope(IncidentSchema)) },
      config: { access: { scope: 'incidents.read', guest: true, action: 'incidents.list', limit: { resource: 'incidents', lists: true } } },
    },
    async (request) => {
      const query = request.query as Record<string, unknown>;
      const params = { ...listParams(query, INCIDENT_SORTABLE, perPageMax), onlyIds: allowedIds(request) };
      const { total, items } = await incidents.list(db, filtersOf(query), params, callerHolds(request, 'incidents.read'), incidentViewOf(request));
      return paginated(request, params, total, items);
    },
  );

  app.get(
    '/api/v1/incidents/:id',
    {
      schema: { tags, summary: 'Get an incident', params: IdParams, response: withErrors(200, itemEnvelope(IncidentSchema)) },
      config: { access: { scope: 'incidents.read', guest: true, action: 'incidents.show', limit: { resource: 'incidents', param: 'id' } } },
    },
    async (request) => ({
      data: found(await incidents.show(db, parseId(request.params.id), callerHolds(request, 'incidents.read'), incidentViewOf(request))),
    }),
  );

  app.post(
    '/api/v1/incidents',
    {
      schema: { tags, summary: 'Create an incident', body: CreateIncidentBody, response: withErrors(200, itemEnvelope(IncidentSchema)) },
      config: { access: { scope: 'incidents.manage', action: 'incidents.create', fieldScopes: componentFieldScopes, fieldLimits: componentFieldLimits, limit: { resource: 'incidents', creates: true } } },
    },
    async (request) => {
      const row = await transact(request, (trx) => incidents.create(trx, request.body, writeContextOf(request)));
      return { data: (await incidents.present(db, [row], incidentViewOf(request)))[0]! };
    },
  );

  app.put(
    '/api/v1/incidents/:id',
    {
      schema: { tags, summary: 'Update an incident', params: IdParams, body: UpdateIncidentBody, response: withErrors(200, itemEnvelope(IncidentSchema)) },
      config: { access: { scope: 'incidents.manage', action: 'incidents.update', fieldScopes: componentFieldScopes, fieldLimits: componentFieldLimits, limit: { resource: 'incidents', param: 'id' } } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const changed = await transact(request, async (trx) => found(await incidents.update(trx, id, request.body, writeContextOf(request))));
      return { data: (await incidents.present(db, [changed.after], incidentViewOf(request)))[0]! };
    },
  );

  app.delete(
    '/api/v1/incidents/:id',
    {
      schema: { tags, summary: 'Delete an incident', params: IdParams, response: noContentWithErrors() },
      config: { access: { scope: 'incidents.delete', action: 'incidents.delete', limit: { resource: 'incidents', param: 'id' } } },
    },
    async (request, reply) => {
      const id = parseId(request.params.id);
      await transact(request, async (trx) => found(await incidents.remove(trx, id)));
      return reply.code(204).send();
    },
  );
}
