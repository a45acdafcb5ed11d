/** The dashboard's first page: counts that link to each area, and the user's keys about to expire. */
import type { FastifyInstance } from 'fastify';
import { toStoredTime } from '../../infra/time.js';
import type { Kit } from './dashboard.kit.js';

const EXPIRY_WINDOW_MS = 7 * 86_400_000;

export function overviewPages(app: FastifyInstance, kit: Kit): void {
  const { db } = kit;
  app.get('/dashboard', { schema: { hide: true } }, async (request, reply) => {
    const me = kit.user(request);
    const now = kit.clock.now();
    const count = async (query: Promise<{ n: number | string | bigint } | undefined>) => Number((await query)?.n ?? 0);
    let keys = db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', toStoredTime(now))]));
    if (me.role !== 'admin') keys = keys.where('owner_user_id', '=', me.id);
    const [components, incidents, schedules, activeKeys] = await Promise.all([
      count(db.selectFrom('components').select((eb) => eb.fn.countAll<number>().as('n')).where('deleted_at', 'is', null).executeTakeFirst()),
      count(db.selectFrom('incidents').select((eb) => eb.fn.countAll<number>().as('n')).where('deleted_at', 'is', null).where('status', '<', 4).executeTakeFirst()),
      count(db.selectFrom('schedules').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '<', 2).executeTakeFirst()),
      count(keys.executeTakeFirst()),
    ]);
    let expiringQuery = db
      .selectFrom('api_keys')
      .select(['id', 'name', 'prefix', 'expires_at'])
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', toStoredTime(now))
      .where('expires_at', '<=', toStoredTime(new Date(now.getTime() + EXPIRY_WINDOW_MS)))
      .orderBy('expires_at')
      .limit(20);
    if (me.role !== 'admin') expiringQuery = expiringQuery.where('owner_user_id', '=', me.id);
    return kit.html(request, reply, 'overview', {
      title: 'Overview',
      section: 'overview',
      tiles: [
        { label: 'unresolved incidents', count: incidents, href: '/dashboard/incidents' },
        { label: 'components', count: components, href: '/dashboard/components' },
        { label: 'upcoming or running maintenance', count: schedules, href: '/dashboard/schedules' },
        { label: me.role === 'admin' ? 'active API keys' : 'your active API keys', count: activeKeys, href: '/dashboard/keys' },
      ],
      expiring: await expiringQuery.execute(),
    });
  });
}
