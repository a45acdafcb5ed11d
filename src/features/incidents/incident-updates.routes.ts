/** `/api/v1/incidents/{id}/updates` (Cachet 2.4 rows 21–25), scoped to their incident. */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { callerHolds } from '../../http/auth.js';
import { found } from '../../http/errors.js';
import { itemEnvelope, listEnvelope, listParams, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import {
  CreateIncidentUpdateBody,
  IncidentUpdateListQuery,
  IncidentUpdateParams,
  IncidentUpdateSchema,
  UPDATE_SORTABLE,
  UpdateIncidentUpdateBody,
} from './incident-updates.schema.js';
import { presentIncidentUpdate, type IncidentUpdatesService } from './incident-updates.service.js';
import { incidentViewOf } from './incidents.routes.js';

export interface IncidentUpdatesRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  updates: IncidentUpdatesService;
  perPageMax: number;
}

const tags = ['Incident updates'];

/** Registers the incident-update routes. */
export function incidentUpdatesRoutes(app: ApiApp, { db, transact, updates, perPageMax }: IncidentUpdatesRoutesDeps): void {
  app.get(
    '/api/v1/incidents/:id/updates',
    {
      schema: { tags, summary: "List an incident's updates (newest first)", params: IdParams, querystring: IncidentUpdateListQuery, response: withErrors(200, listEnvelope(IncidentUpdateSchema)) },
      config: { access: { scope: 'incident-updates.read', guest: true, action: 'incident-updates.list', limit: { resource: 'incidents', param: 'id' } } },
    },
    async (request) => {
      const incidentId = parseId(request.params.id);
      const params = listParams(request.query, UPDATE_SORTABLE, perPageMax);
      const page = found(await updates.list(db, incidentId, params, callerHolds(request, 'incident-updates.read'), incidentViewOf(request)));
      return paginated(request, params, page.total, page.items);
    },
  );

  app.get(
    '/api/v1/incidents/:id/updates/:update',
    {
      schema: { tags, summary: 'Get an incident update', params: IncidentUpdateParams, response: withErrors(200, itemEnvelope(IncidentUpdateSchema)) },
      config: { access: { scope: 'incident-updates.read', guest: true, action: 'incident-updates.show', limit: { resource: 'incidents', param: 'id' } } },
    },
    async (request) => {
      const incidentId = parseId(request.params.id);
      const id = parseId(request.params.update);
      return { data: found(await updates.show(db, incidentId, id, callerHolds(request, 'incident-updates.read'), incidentViewOf(request))) };
    },
  );

  app.post(
    '/api/v1/incidents/:id/updates',
    {
      schema: { tags, summary: 'Add an update to an incident (the incident takes its status)', params: IdParams, body: CreateIncidentUpdateBody, response: withErrors(200, itemEnvelope(IncidentUpdateSchema)) },
      config: { access: { scope: 'incident-updates.manage', action: 'incident-updates.create', limit: { resource: 'incidents', param: 'id' } } },
    },
    async (request) => {
      const incidentId = parseId(request.params.id);
      const row = await transact(request, async (trx) => found(await updates.create(trx, incidentId, request.body)));
      return { data: presentIncidentUpdate(row, incidentViewOf(request)) };
    },
  );

  app.put(
    '/api/v1/incidents/:id/updates/:update',
    {
      schema: { tags, summary: 'Change an incident update', params: IncidentUpdateParams, body: UpdateIncidentUpdateBody, response: withErrors(200, itemEnvelope(IncidentUpdateSchema)) },
      config: { access: { scope: 'incident-updates.manage', action: 'incident-updates.update', limit: { resource: 'incidents', param: 'id' } } },
    },
    async (request) => {
      const incidentId = parseId(request.params.id);
      const id = parseId(request.params.update);
      const changed = await transact(request, async (trx) => found(await updates.update(trx, incidentId, id, request.body)));
      return { data: presentIncidentUpdate(changed.after, incidentViewOf(request)) };
    },
  );

  app.delete(
    '/api/v1/incidents/:id/updates/:update',
    {
      schema: { tags, summary: 'Delete an incident update', params: IncidentUpdateParams, response: noContentWithErrors() },
      config: { access: { scope: 'incident-updates.delete', action: 'incident-updates.delete', limit: { resource: 'incidents', param: 'id' } } },
    },
    async (request, reply) => {
      const incidentId = parseId(request.params.id);
      const id = parseId(request.params.update);
      await transact(request, async (trx) => found(await updates.remove(trx, incidentId, id)));
      return reply.code(204).send();
    },
  );
}
