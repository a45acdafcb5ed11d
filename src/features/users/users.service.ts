/**
 * Dashboard users: who may sign in, with which role, and what becomes of their keys and sessions
 * when they go. Every change is recorded for the audit trail in the caller's transaction (the
 * email as a keyed digest, the password hash and TOTP material never).
 */
import type { Selectable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { UserTable } from '../../db/schema.js';
import type { Clock } from '../../infra/clock.js';
import { toStoredTime } from '../../infra/time.js';
import { recordChange } from '../audit/audit.changes.js';
import type { KeysService } from '../keys/keys.service.js';
import { hashPassword, OWASP_SCRYPT, passwordProblem, verifyPassword, type ScryptParams } from './users.password.js';

export type UserRow = Selectable<UserTable>;
export type Role = 'admin' | 'user';
export const ROLES: readonly Role[] = ['admin', 'user'];

/** A user as shown: never the password hash or TOTP material. */
export interface UserView {
  id: number;
  email: string;
  role: Role;
  totp_enabled: boolean;
  created_at: string;
  last_sign_in_at: string | null;
}

export type UserResult = { ok: true; user: UserView } | { ok: false; error: string };

export function userView(row: UserRow): UserView {
  return { id: row.id, email: row.email, role: row.role, totp_enabled: row.totp_enabled_at !== null, created_at: row.created_at, last_sign_in_at: row.last_sign_in_at };
}

/** What the audit trail keeps of a user. */
function audited(row: UserRow) {
  return { email: row.email, role: row.role, totp_enabled: row.totp_enabled_at !== null };
}

/** A plausible address: one `@`, something either side, no spaces; at most 254 characters (RFC 5321). */
export function emailProblem(email: string): string | null {
  if (email.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(email)) return `"${email.slice(0, 60)}" is not an email address`;
  return null;
}

export interface UsersServiceDeps {
  clock: Clock;
  keys: KeysService;
  /** scrypt's cost; OWASP's unless a test says otherwise. */
  hashParams?: ScryptParams;
}

export function createUsersService(deps: UsersServiceDeps) {
  const { clock, keys } = deps;
  const params = deps.hashParams ?? OWASP_SCRYPT;
  // Checked when the email names nobody, so a wrong address costs what a wrong password costs.
  let decoy: Promise<string> | null = null;

  async function byEmail(executor: Executor, email: string): Promise<UserRow | undefined> {
    return executor.selectFrom('users').selectAll().where('email', '=', email.trim().toLowerCase()).executeTakeFirst();
  }

  return {
    byEmail,

    async byId(executor: Executor, id: number): Promise<UserRow | undefined> {
      return executor.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async list(executor: Executor): Promise<UserView[]> {
      return (await executor.selectFrom('users').selectAll().orderBy('id').execute()).map(userView);
    },

    async create(trx: Executor, input: { email: string; password: string; role: Role }): Promise<UserResult> {
      const email = input.email.trim().toLowerCase();
      const problem = emailProblem(email) ?? passwordProblem(input.password);
      if (problem) return { ok: false, error: problem };
      if (!ROLES.includes(input.role)) return { ok: false, error: `role must be admin or user` };
      if (await byEmail(trx, email)) return { ok: false, error: `a user with the email ${email} exists already` };
      const at = toStoredTime(clock.now());
      const row = await trx
        .insertInto('users')
        .values({ email, password_hash: await hashPassword(input.password, params), role: input.role, created_at: at, updated_at: at, password_changed_at: at })
        .returningAll()
        .executeTakeFirstOrThrow();
      recordChange(trx, { resource: 'users', id: row.id, before: null, after: audited(row) });
      return { ok: true, user: userView(row) };
    },

    /**
     * Removes a user: their sessions end and every key they own that still works is revoked, each
     * revocation its own event, all in the caller's transaction.
     */
    async remove(trx: Executor, id: number): Promise<{ ok: true; user: UserView; revokedKeys: number[] } | { ok: false; error: string }> {
      const row = await this.byId(trx, id);
      if (!row) return { ok: false, error: `no user with id ${id}` };
      if (row.role === 'admin') {
        const admins = await trx.selectFrom('users').select((eb) => eb.fn.countAll<number | string>().as('n')).where('role', '=', 'admin').executeTakeFirstOrThrow();
        if (Number(admins.n) <= 1) return { ok: false, error: 'this is the last admin; create another admin first' };
      }
      const owned = await trx.selectFrom('api_keys').select('id').where('owner_user_id', '=', id).where('revoked_at', 'is', null).orderBy('id').execute();
      const revokedKeys: number[] = [];
      for (const { id: keyId } of owned) {
        const result = await keys.revoke(trx, keyId);
        if (result.ok) revokedKeys.push(keyId);
      }
      await trx.deleteFrom('sessions').where('user_id', '=', id).execute();
      await trx.deleteFrom('users').where('id', '=', id).execute();
      recordChange(trx, { resource: 'users', id, before: audited(row), after: null });
      return { ok: true, user: userView(row), revokedKeys };
    },

    /** Sets a new password and ends the user's sessions; `disableTotp` also turns two-factor sign-in off (the operator's way back in). */
    async resetPassword(trx: Executor, id: number, password: string, options: { disableTotp?: boolean } = {}): Promise<UserResult> {
      const problem = passwordProblem(password);
      if (problem) return { ok: false, error: problem };
      const before = await this.byId(trx, id);
      if (!before) return { ok: false, error: `no user with id ${id}` };
      const at = toStoredTime(clock.now());
      const after = await trx
        .updateTable('users')
        .set({
          password_hash: await hashPassword(password, params),
          password_changed_at: at,
          updated_at: at,
          ...(options.disableTotp ? { totp_secret: null, totp_enabled_at: null, totp_last_step: null, recovery_codes: null } : {}),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx.deleteFrom('sessions').where('user_id', '=', id).execute();
      recordChange(trx, { resource: 'users', id, action: 'users.reset_password', before: { ...audited(before), password_changed_at: before.password_changed_at }, after: { ...audited(after), password_changed_at: after.password_changed_at } });
      return { ok: true, user: userView(after) };
    },

    /**
     * The user whose email and password these are, or null. An unknown email costs one scrypt
     * like a known one, so the answer's timing does not say which addresses have accounts.
     */
    async authenticate(executor: Executor, email: string, password: string): Promise<UserRow | null> {
      const row = await byEmail(executor, email);
      if (!row) {
        decoy ??= hashPassword('decoy password, never a real one', params);
        await verifyPassword(password, await decoy);
        return null;
      }
      return (await verifyPassword(password, row.password_hash)) ? row : null;
    },

    /** Stores a new (sealed) TOTP secret awaiting its first code; two-factor sign-in is not on until `enableTotp`. */
    async beginTotp(trx: Executor, id: number, sealedSecret: string): Promise<void> {
      await trx.updateTable('users').set({ totp_secret: sealedSecret, totp_enabled_at: null, totp_last_step: null, recovery_codes: null, updated_at: toStoredTime(clock.now()) }).where('id', '=', id).execute();
    },

    /** Turns two-factor sign-in on once a first code was right; `recoveryDigests` are the digests of the codes shown once. */
    async enableTotp(trx: Executor, id: number, step: number, recoveryDigests: readonly string[]): Promise<UserResult> {
      const before = await this.byId(trx, id);
      if (!before) return { ok: false, error: `no user with id ${id}` };
      const at = toStoredTime(clock.now());
      const after = await trx
        .updateTable('users')
        .set({ totp_enabled_at: at, totp_last_step: step, recovery_codes: JSON.stringify(recoveryDigests), updated_at: at })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      recordChange(trx, { resource: 'users', id, before: audited(before), after: audited(after) });
      return { ok: true, user: userView(after) };
    },

    async disableTotp(trx: Executor, id: number): Promise<UserResult> {
      const before = await this.byId(trx, id);
      if (!before) return { ok: false, error: `no user with id ${id}` };
      const after = await trx
        .updateTable('users')
        .set({ totp_secret: null, totp_enabled_at: null, totp_last_step: null, recovery_codes: null, updated_at: toStoredTime(clock.now()) })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      recordChange(trx, { resource: 'users', id, before: audited(before), after: audited(after) });
      return { ok: true, user: userView(after) };
    },

    /**
     * Records that the code of time step `step` was used: only when no later (or the same) step
     * was, so two instances given one code at once accept it once.
     */
    async claimTotpStep(executor: Executor, id: number, step: number): Promise<boolean> {
      const result = await executor
        .updateTable('users')
        .set({ totp_last_step: step })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Replaces the unused recovery codes, only if they are still `expected` (a code is used once, even by two requests at once). */
    async claimRecoveryCodes(executor: Executor, id: number, expected: string, remaining: readonly string[]): Promise<boolean> {
      const result = await executor.updateTable('users').set({ recovery_codes: JSON.stringify(remaining) }).where('id', '=', id).where('recovery_codes', '=', expected).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async recordSignIn(executor: Executor, id: number): Promise<void> {
      await executor.updateTable('users').set({ last_sign_in_at: toStoredTime(clock.now()) }).where('id', '=', id).execute();
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
