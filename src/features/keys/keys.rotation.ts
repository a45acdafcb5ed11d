/**
 * Scheduled rotation: finds keys whose rotation policy is due, makes each a successor, delivers its
 * token, and only then starts the old key's grace. A failed delivery revokes the undelivered
 * successor (its token was only ever in memory), leaves the old key as it was, records the failure
 * on the key and in the audit trail, and is retried with backoff by rotating afresh. One instance
 * runs at a time, under a database lease.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { Clock } from '../../infra/clock.js';
import { databaseLease } from '../../infra/lease.js';
import { trackChanges } from '../audit/audit.changes.js';
import type { AuditContext, AuditFact } from '../audit/audit.types.js';
import type { AuditWriter } from '../audit/audit.writer.js';
import type { Deliverer } from './keys.delivery.js';
import { RotationRaceLost, type KeysService } from './keys.service.js';

export interface RotationSchedulerDeps {
  db: Kysely<DB>;
  keys: KeysService;
  writer: AuditWriter;
  deliverer: Deliverer;
  clock: Clock;
  /** Who acts in the audit trail (the system actor: `cachet serve`, `cachet keys rotate --due`). */
  context: AuditContext;
  /** First wait before a failed delivery is retried; doubles per failure up to 1 h. */
  retryMs?: number;
  /** Told after keys changed, so this instance drops its key cache at once. */
  keysChanged?: () => void;
}

/** What one pass did: per key, the successor delivered or the failure. `busy` when another instance holds the lease. */
export interface RotationReport {
  busy: boolean;
  rotated: { id: number; successor_id: number }[];
  failed: { id: number; error: string }[];
  retired: number[];
}

/** Longest a pass may hold the lease before another instance may take over (renewed per key). */
const LEASE_MS = 5 * 60_000;

/** The scheduler: `runDue()` for one pass (the CLI's `--due`), `start`/`stop` for the server's timer. */
export function createRotationScheduler(deps: RotationSchedulerDeps) {
  const { db, keys, writer, deliverer, clock, context } = deps;
  const lease = databaseLease(db, { name: 'key_rotation', holder: randomBytes(12).toString('hex'), ttlMs: LEASE_MS, clock });
  const retryMs = deps.retryMs ?? 60_000;

  /** One transaction whose recorded changes, then `extra` events, are audited together. */
  async function audited<T>(work: (trx: Transaction<DB>) => Promise<{ result: T; extra?: AuditFact[] }>): Promise<T> {
    const out = await db.transaction().execute(async (trx) => {
      const changes = trackChanges(trx);
      const { result, extra = [] } = await work(trx);
      await writer.append(trx, [...changes.map((change) => ({ context, fact: writer.factOf(change) })), ...extra.map((fact) => ({ context, fact }))]);
      return result;
    });
    deps.keysChanged?.();
    return out;
  }

  function deliverFact(id: number, outcome: 'allowed' | 'failed', details: Record<string, [unknown, unknown]>, reason: string | null): AuditFact {
    return { action: 'keys.deliver', resourceType: 'keys', resourceId: id, outcome, status: null, reason, changes: details };
  }

  async function rotateOne(id: number, report: RotationReport): Promise<void> {
    let prepared: Awaited<ReturnType<KeysService['prepareSuccessor']>>;
    try {
      prepared = await audited(async (trx) => ({ result: await keys.prepareSuccessor(trx, id, 'rotation') }));
    } catch (err) {
      if (err instanceof RotationRaceLost) return;
      throw err;
    }
    if (prepared === null) return;
    if (!prepared.ok) {
      await audited(async (trx) => ({ result: await keys.abandonSuccessor(trx, id, `rotation: ${prepared.error}`, retryMs), extra: [deliverFact(id, 'failed', {}, prepared.error)] }));
      report.failed.push({ id, error: prepared.error });
      return;
    }
    const target = prepared.policy.deliver;
    const where = target.type === 'file' ? target.path : target.type === 'webhook' ? target.url : target.argv[0]!;
    const details = { successor_id: [null, prepared.key.id] as [unknown, unknown], target: [null, `${target.type} ${where}`] as [unknown, unknown] };
    let outcome: Awaited<ReturnType<Deliverer['deliver']>>;
    try {
      outcome = await deliverer.deliver(
        target,
        { key_id: prepared.key.id, prefix: prepared.key.prefix, token: prepared.token, expires_at: prepared.key.expires_at, replaces_id: id },
        prepared.secret,
      );
    } catch {
      outcome = { ok: false, error: `${target.type}: delivery failed unexpectedly` };
    }
    if (outcome.ok) {
      await audited(async (trx) => ({ result: await keys.completeRotation(trx, id), extra: [deliverFact(id, 'allowed', details, null)] }));
      report.rotated.push({ id, successor_id: prepared.key.id });
    } else {
      const error = outcome.error;
      await audited(async (trx) => ({
        result: await keys.abandonSuccessor(trx, id, error, retryMs),
        extra: [deliverFact(id, 'failed', { ...details, error: [null, error] }, 'delivery_failed')],
      }));
      report.failed.push({ id, error });
    }
  }

  /** One pass under the lease: stale pending successors first, then every due key, then retire-after-pickup. */
  async function pass(report: RotationReport): Promise<RotationReport> {
    if (!(await lease.acquire())) return { ...report, busy: true };
    try {
      // A successor left pending (a pass that died between making and delivering it) is abandoned first.
      const stale = await db.selectFrom('api_keys').select('id').where('rotation_pending_id', 'is not', null).execute();
      for (const { id } of stale) {
        await audited(async (trx) => ({ result: await keys.abandonSuccessor(trx, id, 'interrupted before delivery', 0), extra: [deliverFact(id, 'failed', {}, 'delivery_interrupted')] }));
      }
      for (const row of await keys.dueForRotation(db)) {
        if (!(await lease.acquire())) return { ...report, busy: true };
        await rotateOne(row.id, report);
      }
      report.retired = await audited(async (trx) => ({ result: await keys.retirePickedUp(trx) }));
      return report;
    } finally {
      await lease.release();
    }
  }

  let timer: NodeJS.Timeout | null = null;
  let running: Promise<RotationReport> | null = null;
  let inProcess = false;

  return {
    /** One pass: rotates and delivers every due key, retires picked-up predecessors. Does nothing when another instance holds the lease. */
    async runDue(): Promise<RotationReport> {
      const report: RotationReport = { busy: false, rotated: [], failed: [], retired: [] };
      // The lease has one holder id per scheduler: a second pass of this one while a pass runs is refused here.
      if (inProcess) return { ...report, busy: true };
      inProcess = true;
      try {
        return await pass(report);
      } finally {
        inProcess = false;
      }
    },

    /** Runs a pass every `intervalMs` (never two at once in this process). */
    start(intervalMs: number, onError: (err: unknown) => void): void {
      timer = setInterval(() => {
        if (running) return;
        running = this.runDue();
        running.catch(onError).finally(() => (running = null));
      }, intervalMs);
      timer.unref();
    },

    /** Stops the timer and waits for a pass in progress. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}

export type RotationScheduler = ReturnType<typeof createRotationScheduler>;
