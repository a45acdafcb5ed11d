/**
 * The dashboard's incidents (list, create — optionally from a template with its variables —,
 * edit, delete), their updates (listed on the incident's page, added, deleted) and incident
 * templates (list, create, edit, delete). Every change goes through the incidents,
 * incident-updates and incident-templates services, checked against the API's body schemas.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { COMPONENT_STATUS_NAMES } from '../components/components.schema.js';
import type { ComponentsService } from '../components/components.service.js';
import { CreateIncidentTemplateBody, UpdateIncidentTemplateBody } from '../incident-templates/incident-templates.schema.js';
import type { IncidentTemplatesService } from '../incident-templates/incident-templates.service.js';
import { CreateIncidentUpdateBody } from '../incidents/incident-updates.schema.js';
import type { IncidentUpdatesService, IncidentView } from '../incidents/incident-updates.service.js';
import { CreateIncidentBody, INCIDENT_STATUS_NAMES, UpdateIncidentBody, type Incident } from '../incidents/incidents.schema.js';
import type { IncidentsService, IncidentWriteContext } from '../incidents/incidents.service.js';
import {
  DASHBOARD_ZONE,
  bodyChecker,
  everything,
  form,
  localInput,
  notFound,
  pageOf,
  pagerOf,
  sentValues,
  submit,
  type Checked,
  type FormValues,
  type Input,
} from './dashboard.content-forms.js';
import { field, idParam, type Kit } from './dashboard.kit.js';

export interface IncidentPagesDeps {
  incidents: IncidentsService;
  incidentUpdates: IncidentUpdatesService;
  incidentTemplates: IncidentTemplatesService;
  /** For the component picker. */
  components: ComponentsService;
}

const checkIncident = bodyChecker(CreateIncidentBody);
const checkIncidentChange = bodyChecker(UpdateIncidentBody);
const checkUpdate = bodyChecker(CreateIncidentUpdateBody);
const checkTemplate = bodyChecker(CreateIncidentTemplateBody);
const checkTemplateChange = bodyChecker(UpdateIncidentTemplateBody);

const INCIDENT_FIELDS = ['name', 'status', 'message', 'component_id', 'component_status', 'occurred_at', 'visible', 'stickied', 'template', 'vars'] as const;
const UPDATE_FIELDS = ['status', 'message'] as const;
const TEMPLATE_FIELDS = ['name', 'slug', 'template'] as const;

/** Dashboard users see every component, hidden ones included, and write times in UTC. */
const WRITE_CONTEXT: IncidentWriteContext = { zone: DASHBOARD_ZONE, seesHiddenComponents: true };

const VARIABLE_LINE = /^([A-Za-z_][A-Za-z0-9_]{0,63})\s*=\s*(.*)$/;
const MAX_VARIABLES = 100;

/** Template variables typed one `name = value` per line, as the `vars` object of the API. */
export function parseVariables(text: string): Checked<Record<string, string>> {
  const entries: Array<[string, string]> = [];
  const errors: string[] = [];
  text.split(/\r\n?|\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const match = VARIABLE_LINE.exec(line);
    if (!match) errors.push(`Line ${index + 1} of the template variables is not name = value (a name is letters, digits and _).`);
    else entries.push([match[1]!, match[2]!]);
  });
  if (entries.length > MAX_VARIABLES) errors.push(`The template variables may not be more than ${MAX_VARIABLES}.`);
  // fromEntries defines own properties, so a name such as __proto__ is only a name.
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: Object.fromEntries(entries) };
}

function incidentValues(i: Incident): FormValues {
  return {
    name: i.name,
    status: String(i.status),
    message: i.message,
    component_id: String(i.component_id),
    component_status: '',
    occurred_at: localInput(i.occurred_at),
    visible: i.visible === 1 ? '1' : '',
    stickied: i.stickied ? '1' : '',
    template: '',
    vars: '',
  };
}

/** A `datetime-local` value and a presented time name the same minute (and second, when given). */
function sameTime(local: string, shown: string): boolean {
  const text = local.trim().replace('T', ' ');
  return text.length === 16 ? shown.startsWith(text) && shown.endsWith(':00') : text === shown;
}

/** The incidents page group (sections `incidents` and `templates`). */
export function incidentPages({ incidents, incidentUpdates, incidentTemplates, components }: IncidentPagesDeps) {
  return (app: FastifyInstance, kit: Kit): void => {
    const { db } = kit;
    const view: IncidentView = { zone: DASHBOARD_ZONE, baseUrl: app.publicUrl };

    /** The incident the form creates; a template's variables, when a template is chosen. */
    function newIncidentInput(body: unknown): Checked<Input> {
      const template = form.optional(body, 'template');
      const vars = template === undefined ? { ok: true as const, value: undefined } : parseVariables(field(body, 'vars'));
      if (!vars.ok) return vars;
      const message = form.multiline(body, 'message');
      const componentId = form.integer(body, 'component_id');
      return {
        ok: true,
        value: {
          name: form.text(body, 'name'),
          status: form.integer(body, 'status'),
          message: message.trim() === '' ? undefined : message,
          component_id: componentId === 0 ? undefined : componentId,
          component_status: form.integer(body, 'component_status'),
          occurred_at: form.optional(body, 'occurred_at'),
          visible: form.checked(body, 'visible'),
          stickied: form.checked(body, 'stickied'),
          template,
          vars: vars.value,
        },
      };
    }

    /**
     * The change the edit form asks for. Its component and time are sent only when changed (or, for
     * the component, when a new status for it is chosen), so an edit that leaves them alone does not
     * need a component status or round the time.
     */
    function incidentChange(body: unknown, current: Incident): Input {
      const componentId = form.integer(body, 'component_id') ?? 0;
      const componentStatus = form.integer(body, 'component_status');
      const occurredAt = field(body, 'occurred_at');
      const componentTouched = componentId !== current.component_id || componentStatus !== undefined;
      return {
        name: form.text(body, 'name'),
        status: form.integer(body, 'status'),
        message: form.multiline(body, 'message'),
        visible: form.checked(body, 'visible'),
        stickied: form.checked(body, 'stickied'),
        component_id: componentTouched ? componentId : undefined,
        component_status: componentTouched ? componentStatus : undefined,
        occurred_at: occurredAt.trim() === '' || sameTime(occurredAt, current.occurred_at) ? undefined : occurredAt.trim(),
      };
    }

    async function pickers() {
      const [componentList, templateList] = await Promise.all([
        components.list(db, {}, everything('order'), true, DASHBOARD_ZONE),
        incidentTemplates.list(db, {}, everything('name'), DASHBOARD_ZONE),
      ]);
      return {
        components: componentList.items.map((c) => ({ id: c.id, name: c.name })),
        templates: templateList.items.map((t) => ({ slug: t.slug, name: t.name })),
        statuses: INCIDENT_STATUS_NAMES.map((label, value) => ({ value, label })),
        componentStatuses: COMPONENT_STATUS_NAMES.map((label, value) => ({ value, label })),
      };
    }

    const newIncidentForm = async (request: FastifyRequest, reply: FastifyReply, values: FormValues, errors: string[] = [], status = 200) =>
      kit.html(request, reply, 'incident-form', { title: 'New incident', section: 'incidents', values, errors, ...(await pickers()) }, status);

    /** The incident's page: its edit form, its updates and the form adding one; either form may carry errors. */
    async function incidentPage(
      request: FastifyRequest,
      reply: FastifyReply,
      incident: Incident,
      forms: { values?: FormValues; errors?: string[]; update?: FormValues; updateErrors?: string[] } = {},
      status = 200,
    ) {
      return kit.html(request, reply, 'incident', {
        title: 'Edit incident',
        section: 'incidents',
        incident,
        values: forms.values ?? incidentValues(incident),
        errors: forms.errors ?? [],
        update: forms.update ?? { status: String(incident.latest_status === 0 ? 1 : incident.latest_status), message: '' },
        updateErrors: forms.updateErrors ?? [],
        updateStatuses: INCIDENT_STATUS_NAMES.map((label, value) => ({ value, label })).filter((s) => s.value >= 1),
        ...(await pickers()),
      }, status);
    }

    const templateForm = (request: FastifyRequest, reply: FastifyReply, id: number | null, values: FormValues, errors: string[] = [], status = 200) =>
      kit.html(request, reply, 'template-form', { title: id === null ? 'New incident template' : 'Edit incident template', section: 'templates', id, values, errors }, status);

    // ---- incidents ----
    app.get('/dashboard/incidents', { schema: { hide: true } }, async (request, reply) => {
      const page = pageOf(request, 'occurred_at', 'desc');
      const list = await incidents.list(db, {}, page, true, view);
      return kit.html(request, reply, 'incidents', { title: 'Incidents', section: 'incidents', incidents: list.items, pager: pagerOf(page, list.total, '/dashboard/incidents') });
    });

    app.get('/dashboard/incidents/new', { schema: { hide: true } }, async (request, reply) => {
      const template = (request.query as Record<string, unknown> | undefined)?.template;
      return newIncidentForm(request, reply, {
        name: '',
        status: '1',
        message: '',
        component_id: '0',
        component_status: '',
        occurred_at: '',
        visible: '1',
        stickied: '',
        template: typeof template === 'string' ? template : '',
        vars: '',
      });
    });

    app.post('/dashboard/incidents', { schema: { hide: true } }, async (request, reply) => {
      const input = newIncidentInput(request.body);
      const result = await submit(input.ok ? checkIncident(input.value) : input, (value) => kit.act(request, (trx) => incidents.create(trx, value, WRITE_CONTEXT)));
      if (!result.ok) return newIncidentForm(request, reply, sentValues(request.body, INCIDENT_FIELDS), result.errors, 400);
      return kit.done(reply, `/dashboard/incidents/${result.value.id}`, { kind: 'ok', text: `Incident “${result.value.name}” reported.` });
    });

    app.get('/dashboard/incidents/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const incident = id === null ? null : await incidents.show(db, id, true, view);
      if (!incident) return notFound(kit, request, reply, 'incidents.show', 'incidents', id);
      return incidentPage(request, reply, incident);
    });

    app.post('/dashboard/incidents/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const current = id === null ? null : await incidents.show(db, id, true, view);
      if (id === null || !current) return notFound(kit, request, reply, 'incidents.update', 'incidents', id);
      const result = await submit(checkIncidentChange(incidentChange(request.body, current)), (value) => kit.act(request, (trx) => incidents.update(trx, id, value, WRITE_CONTEXT)));
      if (!result.ok) return incidentPage(request, reply, current, { values: sentValues(request.body, INCIDENT_FIELDS), errors: result.errors }, 400);
      if (!result.value) return notFound(kit, request, reply, 'incidents.update', 'incidents', id);
      return kit.done(reply, `/dashboard/incidents/${id}`, { kind: 'ok', text: `Incident “${result.value.after.name}” saved.` });
    });

    app.post('/dashboard/incidents/:id/delete', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const removed = id === null ? null : await kit.act(request, (trx) => incidents.remove(trx, id));
      if (!removed) return notFound(kit, request, reply, 'incidents.delete', 'incidents', id);
      return kit.done(reply, '/dashboard/incidents', { kind: 'ok', text: `Incident “${removed.name}” deleted.` });
    });

    // ---- incident updates ----
    app.post('/dashboard/incidents/:id/updates', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const current = id === null ? null : await incidents.show(db, id, true, view);
      if (id === null || !current) return notFound(kit, request, reply, 'incident-updates.create', 'incidents', id);
      const input = { status: form.integer(request.body, 'status'), message: form.multiline(request.body, 'message') };
      const result = await submit(checkUpdate(input), (value) => kit.act(request, (trx) => incidentUpdates.create(trx, id, value)));
      if (!result.ok) return incidentPage(request, reply, current, { update: sentValues(request.body, UPDATE_FIELDS), updateErrors: result.errors }, 400);
      if (!result.value) return notFound(kit, request, reply, 'incident-updates.create', 'incidents', id);
      return kit.done(reply, `/dashboard/incidents/${id}#updates`, { kind: 'ok', text: `Update added: the incident is now “${INCIDENT_STATUS_NAMES[result.value.status] ?? result.value.status}”.` });
    });

    app.post('/dashboard/incidents/:id/updates/:update/delete', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const updateId = idParam(request, 'update');
      const removed = id === null || updateId === null ? null : await kit.act(request, (trx) => incidentUpdates.remove(trx, id, updateId));
      if (!removed) return notFound(kit, request, reply, 'incident-updates.delete', 'incident-updates', updateId);
      return kit.done(reply, `/dashboard/incidents/${id}#updates`, { kind: 'ok', text: 'Update deleted.' });
    });

    // ---- incident templates ----
    app.get('/dashboard/templates', { schema: { hide: true } }, async (request, reply) => {
      const page = pageOf(request, 'name', 'asc');
      const list = await incidentTemplates.list(db, {}, page, DASHBOARD_ZONE);
      return kit.html(request, reply, 'templates', { title: 'Incident templates', section: 'templates', templates: list.items, pager: pagerOf(page, list.total, '/dashboard/templates') });
    });

    app.get('/dashboard/templates/new', { schema: { hide: true } }, async (request, reply) => templateForm(request, reply, null, { name: '', slug: '', template: '' }));

    app.post('/dashboard/templates', { schema: { hide: true } }, async (request, reply) => {
      const input = { name: form.text(request.body, 'name'), slug: form.optional(request.body, 'slug'), template: form.multiline(request.body, 'template') };
      const result = await submit(checkTemplate(input), (value) => kit.act(request, (trx) => incidentTemplates.create(trx, value)));
      if (!result.ok) return templateForm(request, reply, null, sentValues(request.body, TEMPLATE_FIELDS), result.errors, 400);
      return kit.done(reply, '/dashboard/templates', { kind: 'ok', text: `Template “${result.value.name}” created.` });
    });

    app.get('/dashboard/templates/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const template = id === null ? null : await incidentTemplates.show(db, id, DASHBOARD_ZONE);
      if (!template) return notFound(kit, request, reply, 'incident-templates.show', 'incident-templates', id);
      return templateForm(request, reply, template.id, { name: template.name, slug: template.slug, template: template.template });
    });

    app.post('/dashboard/templates/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      if (id === null) return notFound(kit, request, reply, 'incident-templates.update', 'incident-templates', null);
      // A blank slug keeps the template's slug.
      const input = { name: form.text(request.body, 'name'), slug: form.optional(request.body, 'slug'), template: form.multiline(request.body, 'template') };
      const result = await submit(checkTemplateChange(input), (value) => kit.act(request, (trx) => incidentTemplates.update(trx, id, value)));
      if (!result.ok) return templateForm(request, reply, id, sentValues(request.body, TEMPLATE_FIELDS), result.errors, 400);
      if (!result.value) return notFound(kit, request, reply, 'incident-templates.update', 'incident-templates', id);
      return kit.done(reply, '/dashboard/templates', { kind: 'ok', text: `Template “${result.value.after.name}” saved.` });
    });

    app.post('/dashboard/templates/:id/delete', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const removed = id === null ? null : await kit.act(request, (trx) => incidentTemplates.remove(trx, id));
      if (!removed) return notFound(kit, request, reply, 'incident-templates.delete', 'incident-templates', id);
      return kit.done(reply, '/dashboard/templates', { kind: 'ok', text: `Template “${removed.name}” deleted.` });
    });
  };
}
