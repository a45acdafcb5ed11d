/**
 * Dashboard sessions, kept in the database so that every instance sees them and removing a user
 * signs them out everywhere. The session id is 256 random bits that live only in the browser's
 * cookie; the table holds its keyed digest, so a copy of the database opens no session.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Executor } from '../../db/database.js';
import type { SessionTable } from '../../db/schema.js';
import type { Clock } from '../../infra/clock.js';
import { toStoredTime } from '../../infra/time.js';
import type { UserRow } from './users.service.js';

export interface SessionPolicy {
  /** A session unused this long ends (ms). */
  idleMs: number;
  /** A session ends this long after sign-in, used or not (ms). */
  absoluteMs: number;
}

/** OWASP's session guidance for an administrative interface: short idle, bounded absolute. */
export const DEFAULT_SESSION_POLICY: SessionPolicy = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 };
/** `last_seen_at` is written at most this often per session: a page view is not a write each time. */
const TOUCH_EVERY_MS = 60_000;

export interface SessionsDeps {
  pepper: Buffer;
  clock: Clock;
  policy?: SessionPolicy;
}

export interface ActiveSession {
  digest: string;
  stage: SessionTable['stage'];
  createdAt: string;
  user: UserRow;
}

export function createSessions(deps: SessionsDeps) {
  const { pepper, clock } = deps;
  const policy = deps.policy ?? DEFAULT_SESSION_POLICY;
  const digestOf = (id: string) => createHmac('sha256', pepper).update('session\0', 'utf8').update(id, 'utf8').digest('hex');

  return {
    policy,
    digestOf,

    /** Starts a session; returns its id (for the cookie, and nowhere else) and digest. */
    async start(executor: Executor, userId: number, stage: SessionTable['stage'], from: { ip: string | null; userAgent: string | null }): Promise<{ id: string; digest: string }> {
      const id = randomBytes(32).toString('base64url');
      const now = clock.now();
      const digest = digestOf(id);
      await executor
        .insertInto('sessions')
        .values({
          digest,
          user_id: userId,
          stage,
          created_at: toStoredTime(now),
          last_seen_at: toStoredTime(now),
          expires_at: toStoredTime(new Date(now.getTime() + policy.absoluteMs)),
          ip: from.ip,
          user_agent: from.userAgent?.slice(0, 512) ?? null,
        })
        .execute();
      return { id, digest };
    },

    /** The live session with this id and its user, or null (unknown, idle too long, past its end, user gone). */
    async find(executor: Executor, id: string): Promise<ActiveSession | null> {
      if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
      const digest = digestOf(id);
      const row = await executor.selectFrom('sessions').selectAll().where('digest', '=', digest).executeTakeFirst();
      if (!row) return null;
      const now = clock.now().getTime();
      if (Date.parse(row.expires_at) <= now || Date.parse(row.last_seen_at) + policy.idleMs <= now) {
        await executor.deleteFrom('sessions').where('digest', '=', digest).execute();
        return null;
      }
      const user = await executor.selectFrom('users').selectAll().where('id', '=', row.user_id).executeTakeFirst();
      if (!user) return null;
      if (Date.parse(row.last_seen_at) + TOUCH_EVERY_MS <= now) {
        await executor.updateTable('sessions').set({ last_seen_at: toStoredTime(new Date(now)) }).where('digest', '=', digest).execute();
      }
      return { digest, stage: row.stage, createdAt: row.created_at, user };
    },

    async end(executor: Executor, digest: string): Promise<void> {
      await executor.deleteFrom('sessions').where('digest', '=', digest).execute();
    },

    /** Ends every session of a user (password changed, two-factor changed, user removed). */
    async endAllOf(executor: Executor, userId: number, except?: string): Promise<void> {
      let query = executor.deleteFrom('sessions').where('user_id', '=', userId);
      if (except !== undefined) query = query.where('digest', '!=', except);
      await query.execute();
    },

    /** Removes ended sessions (a periodic sweep; `find` also drops one it meets). */
    async sweep(executor: Executor): Promise<number> {
      const now = clock.now().getTime();
      const result = await executor
        .deleteFrom('sessions')
        .where((eb) => eb.or([eb('expires_at', '<=', toStoredTime(new Date(now))), eb('last_seen_at', '<=', toStoredTime(new Date(now - policy.idleMs)))]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
