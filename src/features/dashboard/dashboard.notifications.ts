/**
 * Notifications in the dashboard (admins): the batches the amplification guard held, to release
 * or drop, and the state of the delivery queue.
 */
import type { FastifyInstance } from 'fastify';
import type { Queue } from '../../infra/queue.js';
import { heldNotifications } from '../notifications/notifications.held.js';
import { idParam, type Kit } from './dashboard.kit.js';
import type { PageGroup } from './dashboard.plugin.js';

export function notificationPages(queue: Queue): PageGroup {
  const held = heldNotifications(queue);
  return (app: FastifyInstance, kit: Kit) => {
    const admin = { config: { adminOnly: true }, schema: { hide: true } };

    app.get('/dashboard/notifications', admin, async (request, reply) => {
      const counts = await kit.db
        .selectFrom('jobs')
        .select(['kind', 'status', (eb) => eb.fn.countAll<number | string>().as('n')])
        .where('status', 'in', ['ready', 'held', 'dead'])
        .groupBy(['kind', 'status'])
        .orderBy('kind')
        .execute();
      return kit.html(request, reply, 'notifications', {
        title: 'Notifications',
        section: 'notifications',
        batches: await held.list(kit.db),
        counts: counts.map((c) => ({ kind: c.kind, status: c.status, n: Number(c.n) })),
      });
    });

    for (const decision of ['release', 'drop'] as const) {
      app.post(`/dashboard/notifications/:id/${decision}`, admin, async (request, reply) => {
        const id = idParam(request);
        const batch = id === null ? null : await kit.act(request, (trx) => held.decide(trx, id, decision));
        if (!batch) return kit.refuse(request, reply, { action: `notifications.${decision}`, resourceType: 'notifications', resourceId: id, reason: 'not_found', status: 404, message: 'No held batch has this id (it may have been released or dropped already).' });
        return kit.done(reply, '/dashboard/notifications', { kind: 'ok', text: `Batch ${batch.id} (${batch.event_type}) ${decision === 'release' ? 'released: its notifications are being sent' : 'dropped: its notifications will not be sent'}.` });
      });
    }
  };
}
