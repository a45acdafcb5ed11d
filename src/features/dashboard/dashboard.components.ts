/**
 * The dashboard's components and component groups: the list, create and edit (status included),
 * enable and disable, delete; groups created, edited and deleted. Every change goes through the
 * components and component-groups services, checked against the API's body schemas.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CreateComponentGroupBody, UpdateComponentGroupBody } from '../component-groups/component-groups.schema.js';
import type { ComponentGroupsService } from '../component-groups/component-groups.service.js';
import { COMPONENT_STATUS_NAMES, CreateComponentBody, UpdateComponentBody, type Component } from '../components/components.schema.js';
import type { ComponentsService } from '../components/components.service.js';
import {
  DASHBOARD_ZONE,
  bodyChecker,
  everything,
  form,
  notFound,
  pageOf,
  pagerOf,
  sentValues,
  submit,
  type FormValues,
  type Input,
} from './dashboard.content-forms.js';
import { idParam, type Kit } from './dashboard.kit.js';

export interface ComponentPagesDeps {
  components: ComponentsService;
  componentGroups: ComponentGroupsService;
}

const checkComponent = bodyChecker(CreateComponentBody);
const checkComponentChange = bodyChecker(UpdateComponentBody);
const checkGroup = bodyChecker(CreateComponentGroupBody);
const checkGroupChange = bodyChecker(UpdateComponentGroupBody);

const COMPONENT_FIELDS = ['name', 'status', 'description', 'link', 'group_id', 'order', 'enabled', 'tags'] as const;
const GROUP_FIELDS = ['name', 'order', 'collapsed', 'visible'] as const;

/** How a group is shown collapsed on the status page (the values the form offers). */
export const COLLAPSED_CHOICES = [
  { value: 0, label: 'Never collapsed' },
  { value: 1, label: 'Always collapsed' },
  { value: 2, label: 'Collapsed unless a component is not operational' },
] as const;

/** The whole component as the form sends it: an edit replaces every field it shows (tags too). */
function componentInput(body: unknown): Input {
  return {
    name: form.text(body, 'name'),
    status: form.integer(body, 'status'),
    description: form.multiline(body, 'description'),
    link: form.text(body, 'link'),
    group_id: form.integer(body, 'group_id') ?? 0,
    order: form.integer(body, 'order') ?? 0,
    enabled: form.checked(body, 'enabled'),
    tags: form.text(body, 'tags'),
  };
}

function groupInput(body: unknown): Input {
  return {
    name: form.text(body, 'name'),
    order: form.integer(body, 'order') ?? 0,
    collapsed: form.integer(body, 'collapsed') ?? 0,
    visible: form.checked(body, 'visible'),
  };
}

function componentValues(c: Component): FormValues {
  const tags = Array.isArray(c.tags) ? [] : Object.values(c.tags as Record<string, string>);
  return {
    name: c.name,
    status: String(c.status),
    description: c.description,
    link: c.link,
    group_id: String(c.group_id),
    order: String(c.order),
    enabled: c.enabled ? '1' : '',
    tags: tags.join(', '),
  };
}

/** The components page group (section `components`). */
export function componentPages({ components, componentGroups }: ComponentPagesDeps) {
  return (app: FastifyInstance, kit: Kit): void => {
    const { db } = kit;
    const allGroups = async () => (await componentGroups.list(db, {}, everything('order'), true, DASHBOARD_ZONE)).items;

    async function componentForm(request: FastifyRequest, reply: FastifyReply, id: number | null, values: FormValues, errors: string[] = [], status = 200) {
      const groups = (await allGroups()).map((g) => ({ id: g.id, name: g.name }));
      return kit.html(request, reply, 'component-form', {
        title: id === null ? 'New component' : 'Edit component',
        section: 'components',
        id,
        values,
        errors,
        statuses: COMPONENT_STATUS_NAMES.map((label, value) => ({ value, label })),
        groups,
      }, status);
    }

    const groupForm = (request: FastifyRequest, reply: FastifyReply, id: number | null, values: FormValues, errors: string[] = [], status = 200) =>
      kit.html(request, reply, 'group-form', { title: id === null ? 'New component group' : 'Edit component group', section: 'components', id, values, errors, collapsedChoices: COLLAPSED_CHOICES }, status);

    app.get('/dashboard/components', { schema: { hide: true } }, async (request, reply) => {
      const page = pageOf(request, 'order', 'asc');
      const [list, groups] = await Promise.all([components.list(db, {}, page, true, DASHBOARD_ZONE), allGroups()]);
      const groupName = new Map(groups.map((g) => [g.id, g.name]));
      return kit.html(request, reply, 'components', {
        title: 'Components',
        section: 'components',
        components: list.items.map((c) => ({ ...c, group: groupName.get(c.group_id) ?? '' })),
        pager: pagerOf(page, list.total, '/dashboard/components'),
        groups: groups.map((g) => ({
          id: g.id,
          name: g.name,
          order: g.order,
          visible: g.visible === 1,
          collapsed: COLLAPSED_CHOICES.find((c) => c.value === g.collapsed)?.label ?? String(g.collapsed),
          count: g.enabled_components.length,
        })),
      });
    });

    app.get('/dashboard/components/new', { schema: { hide: true } }, async (request, reply) =>
      componentForm(request, reply, null, { name: '', status: '1', description: '', link: '', group_id: '0', order: '0', enabled: '1', tags: '' }),
    );

    app.post('/dashboard/components', { schema: { hide: true } }, async (request, reply) => {
      const result = await submit(checkComponent(componentInput(request.body)), (input) => kit.act(request, (trx) => components.create(trx, input)));
      if (!result.ok) return componentForm(request, reply, null, sentValues(request.body, COMPONENT_FIELDS), result.errors, 400);
      return kit.done(reply, '/dashboard/components', { kind: 'ok', text: `Component “${result.value.name}” created.` });
    });

    app.get('/dashboard/components/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const component = id === null ? null : await components.show(db, id, true, DASHBOARD_ZONE);
      if (!component) return notFound(kit, request, reply, 'components.show', 'components', id);
      return componentForm(request, reply, component.id, componentValues(component));
    });

    app.post('/dashboard/components/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      if (id === null) return notFound(kit, request, reply, 'components.update', 'components', null);
      const result = await submit(checkComponentChange(componentInput(request.body)), (input) => kit.act(request, (trx) => components.update(trx, id, input)));
      if (!result.ok) return componentForm(request, reply, id, sentValues(request.body, COMPONENT_FIELDS), result.errors, 400);
      if (!result.value) return notFound(kit, request, reply, 'components.update', 'components', id);
      return kit.done(reply, '/dashboard/components', { kind: 'ok', text: `Component “${result.value.after.name}” saved.` });
    });

    for (const [path, enabled] of [['enable', true], ['disable', false]] as const) {
      app.post(`/dashboard/components/:id/${path}`, { schema: { hide: true } }, async (request, reply) => {
        const id = idParam(request);
        const changed = id === null ? null : await kit.act(request, (trx) => components.update(trx, id, { enabled }));
        if (!changed) return notFound(kit, request, reply, 'components.update', 'components', id);
        return kit.done(reply, '/dashboard/components', { kind: 'ok', text: `Component “${changed.after.name}” ${enabled ? 'enabled' : 'disabled'}.` });
      });
    }

    app.post('/dashboard/components/:id/delete', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const removed = id === null ? null : await kit.act(request, (trx) => components.remove(trx, id));
      if (!removed) return notFound(kit, request, reply, 'components.delete', 'components', id);
      return kit.done(reply, '/dashboard/components', { kind: 'ok', text: `Component “${removed.name}” deleted.` });
    });

    // ---- groups ----
    app.get('/dashboard/components/groups', { schema: { hide: true } }, async (_request, reply) => reply.code(303).header('location', '/dashboard/components#groups').send());

    app.get('/dashboard/components/groups/new', { schema: { hide: true } }, async (request, reply) =>
      groupForm(request, reply, null, { name: '', order: '0', collapsed: '0', visible: '1' }),
    );

    app.post('/dashboard/components/groups', { schema: { hide: true } }, async (request, reply) => {
      const result = await submit(checkGroup(groupInput(request.body)), (input) => kit.act(request, (trx) => componentGroups.create(trx, input)));
      if (!result.ok) return groupForm(request, reply, null, sentValues(request.body, GROUP_FIELDS), result.errors, 400);
      return kit.done(reply, '/dashboard/components#groups', { kind: 'ok', text: `Group “${result.value.name}” created.` });
    });

    app.get('/dashboard/components/groups/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const group = id === null ? null : await componentGroups.show(db, id, true, DASHBOARD_ZONE);
      if (!group) return notFound(kit, request, reply, 'component-groups.show', 'component-groups', id);
      return groupForm(request, reply, group.id, { name: group.name, order: String(group.order), collapsed: String(group.collapsed), visible: group.visible === 1 ? '1' : '' });
    });

    app.post('/dashboard/components/groups/:id', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      if (id === null) return notFound(kit, request, reply, 'component-groups.update', 'component-groups', null);
      const result = await submit(checkGroupChange(groupInput(request.body)), (input) => kit.act(request, (trx) => componentGroups.update(trx, id, input)));
      if (!result.ok) return groupForm(request, reply, id, sentValues(request.body, GROUP_FIELDS), result.errors, 400);
      if (!result.value) return notFound(kit, request, reply, 'component-groups.update', 'component-groups', id);
      return kit.done(reply, '/dashboard/components#groups', { kind: 'ok', text: `Group “${result.value.after.name}” saved.` });
    });

    app.post('/dashboard/components/groups/:id/delete', { schema: { hide: true } }, async (request, reply) => {
      const id = idParam(request);
      const removed = id === null ? null : await kit.act(request, (trx) => componentGroups.remove(trx, id));
      if (!removed) return notFound(kit, request, reply, 'component-groups.delete', 'component-groups', id);
      return kit.done(reply, '/dashboard/components#groups', { kind: 'ok', text: `Group “${removed.name}” deleted. Its components are now ungrouped.` });
    });
  };
}
