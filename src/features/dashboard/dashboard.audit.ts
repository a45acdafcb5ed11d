/**
 * The audit trail in the dashboard: events newest first, filtered and paged by seq, each with its
 * fields and diff; the latest signed checkpoint; and (admins) a verification of the whole chain,
 * whose last result is kept in memory. An admin sees every event; a user only those they or one of
 * their keys made.
 */
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql, type ExpressionBuilder, type SelectQueryBuilder } from 'kysely';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import type { DB } from '../../db/schema.js';
import { parseCachetTime } from '../../infra/time.js';
import { latestCheckpoint } from '../audit/audit.checkpoints.js';
import { eventOfRow } from '../audit/audit.chain.js';
import type { AuditEventRow } from '../audit/audit.repo.js';
import { checkpointSignatureValid, loadSigner } from '../audit/audit.signing.js';
import { verifyAuditTrail } from '../audit/audit.verify.js';
import type { PageGroup } from './dashboard.plugin.js';
import { idParam, type DashboardUser, type Kit } from './dashboard.kit.js';

export interface AuditPagesDeps {
  /** The database the verifier reads in one snapshot (it needs the dialect for that). */
  database: Pick<Database, 'db' | 'dialect'>;
  /** Where the checkpoint signing key is; its public half checks checkpoints (none: they are shown unchecked). */
  signing: Pick<Config, 'auditSigningKey' | 'dataDir'>;
}

/** Events per page. */
const AUDIT_PAGE_SIZE = 50;

const OUTCOMES = ['allowed', 'denied', 'failed'] as const;

/** The filters a page was asked for, as entered (shown back in the form). */
interface FilterForm {
  key_id: string;
  user_id: string;
  action: string;
  outcome: string;
  reason: string;
  from: string;
  to: string;
}

/** The filters in stored form. */
interface Filters {
  keyId?: number;
  userId?: number;
  action?: string;
  outcome?: (typeof OUTCOMES)[number];
  reason?: string;
  from?: string;
  to?: string;
}

/** The last verification this instance ran. */
interface Verification {
  at: string;
  ok: boolean;
  text: string;
}

const WHOLE_NUMBER = /^[1-9][0-9]{0,9}$/;

function readFilters(query: Record<string, unknown>): { form: FilterForm; filters: Filters; errors: string[] } {
  const text = (name: keyof FilterForm) => (typeof query[name] === 'string' ? query[name].trim().slice(0, 200) : '');
  const form: FilterForm = { key_id: text('key_id'), user_id: text('user_id'), action: text('action'), outcome: text('outcome'), reason: text('reason'), from: text('from'), to: text('to') };
  const filters: Filters = {};
  const errors: string[] = [];
  for (const [name, label, target] of [['key_id', 'key id', 'keyId'], ['user_id', 'user id', 'userId']] as const) {
    if (form[name] === '') continue;
    if (WHOLE_NUMBER.test(form[name])) filters[target] = Number(form[name]);
    else errors.push(`The ${label} must be a whole number.`);
  }
  if (form.action !== '') filters.action = form.action;
  if (form.reason !== '') filters.reason = form.reason;
  if (form.outcome !== '') {
    if ((OUTCOMES as readonly string[]).includes(form.outcome)) filters.outcome = form.outcome as Filters['outcome'];
    else errors.push('The outcome must be allowed, denied or failed.');
  }
  for (const name of ['from', 'to'] as const) {
    if (form[name] === '') continue;
    const at = parseCachetTime(form[name], 'UTC');
    if (at === null) errors.push(`“${name}” is not a time: write it as 2026-11-25 12:00 (UTC) or ISO 8601.`);
    else filters[name] = at;
  }
  return { form, filters, errors };
}

/** Restricts a query to what `user` may see: every event for an admin; for a user, their own and their keys' (any key they own, revoked ones too). */
function visibleTo<O>(query: SelectQueryBuilder<DB, 'audit_events', O>, user: DashboardUser): SelectQueryBuilder<DB, 'audit_events', O> {
  if (user.role === 'admin') return query;
  return query.where((eb: ExpressionBuilder<DB, 'audit_events'>) =>
    eb.or([
      eb.and([eb('actor_type', '=', 'user'), eb('user_id', '=', user.id)]),
      eb('key_id', 'in', eb.selectFrom('api_keys').select('api_keys.id').where('api_keys.owner_user_id', '=', user.id)),
      // Changes to their keys made by others (an admin's revocation, scheduled rotation).
      eb.and([
        eb('resource_type', '=', 'keys'),
        eb('resource_id', 'in', eb.selectFrom('api_keys').select(sql<string>`cast(api_keys.id as text)`.as('id')).where('api_keys.owner_user_id', '=', user.id)),
      ]),
    ]),
  );
}

/** Who acted, in words: the user's email, the key's prefix, the system or anonymous. */
function actorOf(row: AuditEventRow, emails: Map<number, string>): { text: string; keyId: number | null } {
  if (row.actor_type === 'user' && row.user_id !== null) return { text: emails.get(row.user_id) ?? `user ${row.user_id}`, keyId: null };
  if (row.actor_type === 'key') return { text: `key ${row.key_prefix ?? row.key_id ?? ''}`, keyId: row.key_id };
  return { text: row.actor_type, keyId: null };
}

export function auditPages(deps: AuditPagesDeps): PageGroup {
  const { database } = deps;
  let publicKey: KeyObject | null = null;
  let last: Verification | null = null;

  /** The checkpoint verification key, once the signing key exists (the server generates it on its first checkpoint). */
  function verificationKey(): KeyObject | null {
    if (publicKey) return publicKey;
    try {
      publicKey = loadSigner(deps.signing, { create: false })?.publicKey ?? null;
    } catch {
      publicKey = null;
    }
    return publicKey;
  }

  return (app: FastifyInstance, kit: Kit) => {
    const { db } = kit;

    async function emailsOf(rows: AuditEventRow[]): Promise<Map<number, string>> {
      const ids = [...new Set(rows.map((row) => row.user_id).filter((id): id is number => id !== null))];
      if (ids.length === 0) return new Map();
      const users = await db.selectFrom('users').select(['id', 'email']).where('id', 'in', ids).execute();
      return new Map(users.map((user) => [user.id, user.email]));
    }

    /** The newest signed checkpoint and whether its signature verifies (null: no key to check it by). */
    async function checkpointState() {
      const checkpoint = await latestCheckpoint(db);
      if (!checkpoint) return null;
      const key = verificationKey();
      return { ...checkpoint, signatureValid: key === null ? null : checkpointSignatureValid(checkpoint, key) };
    }

    app.get('/dashboard/audit', { schema: { hide: true } }, async (request: FastifyRequest, reply: FastifyReply) => {
      const me = kit.user(request);
      const query = request.query as Record<string, unknown>;
      const { form, filters, errors } = readFilters(query);
      const before = typeof query.before === 'string' && WHOLE_NUMBER.test(query.before) ? Number(query.before) : null;
      let rows: AuditEventRow[] = [];
      if (errors.length === 0) {
        let q = visibleTo(db.selectFrom('audit_events').selectAll(), me);
        // A key's events: what it did, and what was done to it.
        const keyId = filters.keyId;
        if (keyId !== undefined) q = q.where((eb) => eb.or([eb('key_id', '=', keyId), eb.and([eb('resource_type', '=', 'keys'), eb('resource_id', '=', String(keyId))])]));
        if (filters.userId !== undefined) q = q.where('user_id', '=', filters.userId);
        if (filters.action !== undefined) q = q.where('action', '=', filters.action);
        if (filters.outcome !== undefined) q = q.where('outcome', '=', filters.outcome);
        if (filters.reason !== undefined) q = q.where('reason', '=', filters.reason);
        if (filters.from !== undefined) q = q.where('at', '>=', filters.from);
        if (filters.to !== undefined) q = q.where('at', '<', filters.to);
        if (before !== null) q = q.where('seq', '<', before);
        rows = await q.orderBy('seq', 'desc').limit(AUDIT_PAGE_SIZE + 1).execute();
      }
      const more = rows.length > AUDIT_PAGE_SIZE;
      const page = rows.slice(0, AUDIT_PAGE_SIZE);
      const emails = await emailsOf(page);
      const kept = new URLSearchParams(Object.entries(form).filter(([, value]) => value !== ''));
      const older = new URLSearchParams(kept);
      if (more) older.set('before', String(page[page.length - 1]!.seq));
      return kit.html(
        request,
        reply,
        'audit',
        {
          title: 'Audit trail',
          section: 'audit',
          form,
          errors,
          outcomes: OUTCOMES,
          filtered: kept.toString() !== '' || before !== null,
          events: page.map((row) => ({
            seq: Number(row.seq),
            at: row.at,
            actor: actorOf(row, emails),
            ip: row.ip,
            action: row.action,
            resource: row.resource_type === null ? null : `${row.resource_type}${row.resource_id === null ? '' : ` ${row.resource_id}`}`,
            outcome: row.outcome,
            status: row.status,
            reason: row.reason,
          })),
          olderUrl: more ? `/dashboard/audit?${older.toString()}` : null,
          newestUrl: before !== null ? `/dashboard/audit${kept.toString() !== '' ? `?${kept.toString()}` : ''}` : null,
          checkpoint: await checkpointState(),
          // Which event broke the chain is for admins: it may be another user's.
          verification: last && !last.ok && me.role !== 'admin' ? { ...last, text: 'Not intact: an admin has the details.' } : last,
        },
        errors.length > 0 ? 400 : 200,
      );
    });

    app.get('/dashboard/audit/:seq', { schema: { hide: true } }, async (request, reply) => {
      const me = kit.user(request);
      const seq = idParam(request, 'seq');
      const row = seq === null ? undefined : await visibleTo(db.selectFrom('audit_events').selectAll(), me).where('seq', '=', seq).executeTakeFirst();
      if (!row) {
        const exists = seq !== null && (await db.selectFrom('audit_events').select('seq').where('seq', '=', seq).executeTakeFirst()) !== undefined;
        return kit.refuse(request, reply, { action: 'audit.show', resourceType: 'audit', resourceId: seq, reason: exists ? 'not_owner' : 'not_found', status: 404 });
      }
      const event = eventOfRow(row);
      const emails = await emailsOf([row]);
      return kit.html(request, reply, 'audit-event', {
        title: `Audit event ${row.seq}`,
        section: 'audit',
        event: { ...event, seq: Number(event.seq) },
        actor: actorOf(row, emails),
        diff: Object.entries(event.changes ?? {}).map(([name, [was, now]]) => ({ field: name, before: JSON.stringify(was) ?? '', after: JSON.stringify(now) ?? '' })),
      });
    });

    app.post('/dashboard/audit/verify', { config: { adminOnly: true }, schema: { hide: true } }, async (request, reply) => {
      const at = kit.clock.now().toISOString();
      let result: Verification;
      try {
        const verified = await verifyAuditTrail(database, { publicKey: verificationKey() });
        if (verified.ok) {
          const checkpoints = verified.checkpoints === 0 ? 'no signed checkpoint to check yet' : `checkpoint verified (${verified.checkpoints} signed checkpoint${verified.checkpoints === 1 ? '' : 's'} checked)`;
          result = { at, ok: true, text: `Intact up to seq ${verified.head.seq}; ${checkpoints}.` };
        } else {
          const { kind, seq, id, message } = verified.problem;
          result = { at, ok: false, text: `Not intact: ${kind} at seq ${seq}${id ? ` (id ${id})` : ''}: ${message}.` };
        }
      } catch (err) {
        result = { at, ok: false, text: `The chain could not be verified: ${(err as Error).message}.` };
      }
      last = result;
      await kit.record(request, { action: 'audit.verify', outcome: 'allowed', status: 200, reason: result.ok ? 'intact' : 'not_intact', resourceType: 'audit' });
      // The page shows the result (kept in memory with its time), so no flash repeats it.
      return kit.done(reply, '/dashboard/audit');
    });
  };
}
