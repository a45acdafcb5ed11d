/**
 * Narrowing a key to what it was seen to use: at once (`apply`), or first in report-only mode
 * (`shadow`): the key keeps working as it is, every request the narrower key would refuse is
 * audited (`shadow_denied: …`), and when the period ends with none the narrowing is applied (or
 * proposed, by choice); a single would-be refusal cancels the automatic step, and is reported.
 */
import type { Executor } from '../../db/database.js';
import type { ResourceLimits } from '../../http/limits.js';
import type { Clock } from '../../infra/clock.js';
import { toStoredTime } from '../../infra/time.js';
import { recordChange } from '../audit/audit.changes.js';
import type { KeysRepo } from './keys.repo.js';
import { authorityOf, type KeyAuthority, type KeyRefused, type KeysService, type KeyView } from './keys.service.js';
import { reviewKeys, type KeyReview } from './keys.review.js';

/** What a narrowing sets (fields it leaves out stay as they are). */
export interface Narrowing {
  scopes?: string[];
  resources?: ResourceLimits;
  allowedIps?: string[];
}

export interface ShadowState {
  scopes: string[];
  allowed_ips: string[] | null;
  resources: ResourceLimits | null;
  started_at: string;
  until: string;
  /** At the end of a quiet period: apply the narrowing, or only propose it (the review shows it). */
  on_quiet: 'apply' | 'propose';
}

export interface ShadowOutcome {
  id: number;
  outcome: 'applied' | 'proposed' | 'cancelled';
  denials: number;
}

export interface NarrowDeps {
  keys: KeysService;
  repo: KeysRepo;
  clock: Clock;
}

export function createNarrower({ keys, repo, clock }: NarrowDeps) {
  /** The review of one key over `days`, or null when it is not active. */
  async function reviewOf(db: Executor, id: number, days: number, rotationAgeMs: number): Promise<KeyReview | null> {
    return (await reviewKeys(db, { now: clock.now(), days, rotationAgeMs })).find((r) => r.id === id) ?? null;
  }

  return {
    reviewOf,

    /** Applies a narrowing now, as one audited change (`keys.narrow`). */
    async apply(trx: Executor, id: number, narrowing: Narrowing, caller?: KeyAuthority): Promise<{ ok: true; key: KeyView } | KeyRefused> {
      const result = await keys.update(trx, id, { ...narrowing, auditAction: 'keys.narrow' }, caller);
      return result.ok ? { ok: true, key: result.key } : result;
    },

    /** Starts a report-only narrowing of `id` until `untilMs` from now. */
    async shadow(trx: Executor, id: number, narrowing: Narrowing, options: { forMs: number; onQuiet: 'apply' | 'propose' }, caller?: KeyAuthority): Promise<{ ok: true; shadow: ShadowState } | KeyRefused> {
      const found = await keys.changeableKey(trx, id, caller);
      if (!found.ok) return found;
      const row = found.row;
      const current = authorityOf(row);
      const now = clock.now();
      const shadow: ShadowState = {
        scopes: narrowing.scopes ?? [...current.scopes],
        allowed_ips: narrowing.allowedIps ?? (current.allowedIps ? [...current.allowedIps] : null),
        resources: narrowing.resources ?? current.resources ?? null,
        started_at: toStoredTime(now),
        until: toStoredTime(new Date(now.getTime() + options.forMs)),
        on_quiet: options.onQuiet,
      };
      await repo.update(trx, id, { shadow: JSON.stringify(shadow), shadow_result: null, updated_at: toStoredTime(now) });
      await repo.bumpRevision(trx);
      recordChange(trx, { resource: 'keys', id, action: 'keys.shadow', before: { shadow: row.shadow === null ? null : (JSON.parse(row.shadow) as ShadowState) }, after: { shadow } });
      return { ok: true, shadow };
    },

    /** Ends every report-only narrowing whose period is over: applied or proposed when it met no refusal, cancelled otherwise. */
    async settle(trx: Executor): Promise<ShadowOutcome[]> {
      const now = clock.now();
      const due = (await trx.selectFrom('api_keys').selectAll().where('shadow', 'is not', null).where('revoked_at', 'is', null).execute()).filter(
        (row) => Date.parse((JSON.parse(row.shadow!) as ShadowState).until) <= now.getTime(),
      );
      const outcomes: ShadowOutcome[] = [];
      for (const row of due) {
        const shadow = JSON.parse(row.shadow!) as ShadowState;
        const counted = await trx
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('key_id', '=', row.id)
          .where('at', '>=', shadow.started_at)
          .where('reason', 'like', 'shadow_denied%')
          .executeTakeFirstOrThrow();
        const denials = Number(counted.n);
        const outcome = denials > 0 ? 'cancelled' : shadow.on_quiet === 'apply' ? 'applied' : 'proposed';
        const narrowing = { scopes: shadow.scopes, allowed_ips: shadow.allowed_ips, resources: shadow.resources };
        await repo.update(trx, row.id, { shadow: null, shadow_result: JSON.stringify({ ended_at: toStoredTime(now), outcome, denials, narrowing }), updated_at: toStoredTime(now) });
        recordChange(trx, { resource: 'keys', id: row.id, action: 'keys.shadow', before: { shadow }, after: { shadow: null, outcome, denials } });
        if (outcome === 'applied') {
          const applied = await keys.update(trx, row.id, { scopes: shadow.scopes, allowedIps: shadow.allowed_ips, ...(shadow.resources ? { resources: shadow.resources } : {}), auditAction: 'keys.narrow' });
          if (!applied.ok) throw new Error(`narrowing key ${row.id} failed: ${applied.error}`);
        }
        await repo.bumpRevision(trx);
        outcomes.push({ id: row.id, outcome, denials });
      }
      return outcomes;
    },
  };
}

export type Narrower = ReturnType<typeof createNarrower>;
