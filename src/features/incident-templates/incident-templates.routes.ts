/** `/api/v1/incidents/templates` (Cachet 2.4 rows 19–20, plus create, update and delete, which 2.4 lacks). */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { ApiApp } from '../../http/app-types.js';
import { found } from '../../http/errors.js';
import { allowedIds } from '../../http/limits.js';
import { itemEnvelope, listEnvelope, listParams, paginated } from '../../http/list.js';
import { IdParams, parseId } from '../../http/params.js';
import { noContentWithErrors, withErrors } from '../../http/responses.js';
import type { Transact } from '../../http/transact.js';
import type { IncidentTemplateFilters } from './incident-templates.repo.js';
import {
  CreateIncidentTemplateBody,
  IncidentTemplateListQuery,
  IncidentTemplateSchema,
  TEMPLATE_SORTABLE,
  UpdateIncidentTemplateBody,
} from './incident-templates.schema.js';
import { presentIncidentTemplate, type IncidentTemplatesService } from './incident-templates.service.js';

export interface IncidentTemplatesRoutesDeps {
  db: Kysely<DB>;
  transact: Transact;
  templates: IncidentTemplatesService;
  perPageMax: number;
}

const tags = ['Incident templates'];

function filtersOf(query: Record<string, unknown>): IncidentTemplateFilters {
  const filters: IncidentTemplateFilters = {};
  if (typeof query.id === 'number') filters.id = query.id;
  if (typeof query.name === 'string') filters.name = query.name;
  if (typeof query.slug === 'string') filters.slug = query.slug;
  return filters;
}

/** Registers the incident-template routes. */
export function incidentTemplatesRoutes(app: ApiApp, { db, transact, templates, perPageMax }: IncidentTemplatesRoutesDeps): void {
  app.get(
    '/api/v1/incidents/templates',
    {
      schema: { tags, summary: 'List incident templates', querystring: IncidentTemplateListQuery, response: withErrors(200, listEnvelope(IncidentTemplateSchema)) },
      config: { access: { scope: 'incident-templates.read', guest: true, action: 'incident-templates.list', limit: { resource: 'incident-templates', lists: true } } },
    },
    async (request) => {
      const query = request.query as Record<string, unknown>;
      const params = { ...listParams(query, TEMPLATE_SORTABLE, perPageMax), onlyIds: allowedIds(request) };
      const { total, items } = await templates.list(db, filtersOf(query), params, request.timeZone);
      return paginated(request, params, total, items);
    },
  );

  app.get(
    '/api/v1/incidents/templates/:id',
    {
      schema: { tags, summary: 'Get an incident template', params: IdParams, response: withErrors(200, itemEnvelope(IncidentTemplateSchema)) },
      config: { access: { scope: 'incident-templates.read', guest: true, action: 'incident-templates.show', limit: { resource: 'incident-templates', param: 'id' } } },
    },
    async (request) => ({ data: found(await templates.show(db, parseId(request.params.id), request.timeZone)) }),
  );

  app.post(
    '/api/v1/incidents/templates',
    {
      schema: { tags, summary: 'Create an incident template', body: CreateIncidentTemplateBody, response: withErrors(200, itemEnvelope(IncidentTemplateSchema)) },
      config: { access: { scope: 'incident-templates.manage', action: 'incident-templates.create', limit: { resource: 'incident-templates', creates: true } } },
    },
    async (request) => {
      const row = await transact(request, (trx) => templates.create(trx, request.body));
      return { data: presentIncidentTemplate(row, request.timeZone) };
    },
  );

  app.put(
    '/api/v1/incidents/templates/:id',
    {
      schema: { tags, summary: 'Update an incident template', params: IdParams, body: UpdateIncidentTemplateBody, response: withErrors(200, itemEnvelope(IncidentTemplateSchema)) },
      config: { access: { scope: 'incident-templates.manage', action: 'incident-templates.update', limit: { resource: 'incident-templates', param: 'id' } } },
    },
    async (request) => {
      const id = parseId(request.params.id);
      const changed = await transact(request, async (trx) => found(await templates.update(trx, id, request.body)));
      return { data: presentIncidentTemplate(changed.after, request.timeZone) };
    },
  );

  app.delete(
    '/api/v1/incidents/templates/:id',
    {
      schema: { tags, summary: 'Delete an incident template', params: IdParams, response: noContentWithErrors() },
      config: { access: { scope: 'incident-templates.delete', action: 'incident-templates.delete', limit: { resource: 'incident-templates', param: 'id' } } },
    },
    async (request, reply) => {
      const id = parseId(request.params.id);
      await transact(request, async (trx) => found(await templates.remove(trx, id)));
      return reply.code(204).send();
    },
  );
}
