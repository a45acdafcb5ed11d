/**
 * The key review in the dashboard (admins): every active key's findings from the audit trail and
 * the narrower key its use asks for, with the narrowing applied at once or tried in report-only
 * mode first, through the same narrower, checks and audit trail as the API and the CLI.
 */
import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../../infra/duration.js';
import type { Narrower } from '../keys/keys.narrow.js';
import { narrowingOf, reviewKeys } from '../keys/keys.review.js';
import { authorityOfUser, field, idParam, type Kit } from './dashboard.kit.js';
import type { PageGroup } from './dashboard.plugin.js';

const WINDOW_DAYS = 30;

export function reviewPages(deps: { narrower: Narrower; rotationAgeMs: number }): PageGroup {
  const { narrower, rotationAgeMs } = deps;
  return (app: FastifyInstance, kit: Kit) => {
    const admin = { config: { adminOnly: true }, schema: { hide: true } };

    app.get('/dashboard/keys/review', admin, async (request, reply) => {
      const reviews = await reviewKeys(kit.db, { now: kit.clock.now(), days: WINDOW_DAYS, rotationAgeMs });
      const last = await kit.db.selectFrom('settings').select('value').where('name', '=', 'review.last_run_at').executeTakeFirst();
      return kit.html(request, reply, 'keys-review', {
        title: 'Key review',
        section: 'keys',
        days: WINDOW_DAYS,
        lastScheduled: last?.value ?? null,
        reviews: reviews.map((r) => ({ ...r, narrowable: narrowingOf(r) !== null })),
      });
    });

    app.post('/dashboard/keys/:id/narrow', admin, async (request, reply) => {
      const id = idParam(request);
      const me = kit.user(request);
      const review = id === null ? null : await narrower.reviewOf(kit.db, id, WINDOW_DAYS, rotationAgeMs);
      if (!review || id === null) return kit.refuse(request, reply, { action: 'keys.narrow', resourceType: 'keys', resourceId: id, reason: 'not_found', status: 404 });
      const narrowing = narrowingOf(review);
      if (!narrowing) return kit.done(reply, '/dashboard/keys/review', { kind: 'error', text: `Key ${id} has nothing to narrow.` });
      const mode = field(request.body, 'mode');
      if (mode === 'shadow') {
        const forMs = parseDuration(field(request.body, 'for') || '14d');
        if (forMs === null) return kit.done(reply, '/dashboard/keys/review', { kind: 'error', text: 'The period must be a duration such as 14d.' });
        const result = await kit.act(request, (trx) => narrower.shadow(trx, id, narrowing, { forMs, onQuiet: 'apply' }, authorityOfUser(me)));
        if (!result.ok) return kit.done(reply, '/dashboard/keys/review', { kind: 'error', text: `Not started: ${result.error}.` });
        return kit.done(reply, '/dashboard/keys/review', { kind: 'ok', text: `Key ${id}: the narrowing runs in report-only mode until ${result.shadow.until}, then is applied if nothing would have been refused.` });
      }
      const result = await kit.act(request, (trx) => narrower.apply(trx, id, narrowing, authorityOfUser(me)));
      if (!result.ok) return kit.done(reply, '/dashboard/keys/review', { kind: 'error', text: `Not narrowed: ${result.error}.` });
      return kit.done(reply, '/dashboard/keys/review', { kind: 'ok', text: `Key ${id} narrowed to ${result.key.scopes.join(', ')}.` });
    });
  };
}
