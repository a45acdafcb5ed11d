/** Key administration outside a request (CLI, bootstrap key): each change its own audited transaction. */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.js';
import type { AuditContext } from '../audit/audit.types.js';
import type { AuditWriter } from '../audit/audit.writer.js';
import { createAudited } from '../audit/audited.js';
import type { CreateKeyInput, KeysService, UpdateKeyInput } from './keys.service.js';

export function administerKeys(service: KeysService, db: Kysely<DB>, writer: AuditWriter, context: AuditContext) {
  const audited = createAudited(db, writer);
  return {
    service,
    create: (input: CreateKeyInput) => audited(context, (trx) => service.create(trx, input)),
    revoke: (id: number) => audited(context, (trx) => service.revoke(trx, id)),
    update: (id: number, input: UpdateKeyInput) => audited(context, (trx) => service.update(trx, id, input)),
    rotate: (id: number, graceMs: number) => audited(context, (trx) => service.rotate(trx, id, { graceMs, createdBy: 'cli' })),
    revokeAll: (except: readonly number[]) => audited(context, (trx) => service.revokeAll(trx, except)),
    /** Each token's key (matched by digest) and its state; nothing is changed. */
    lookup: (tokens: readonly string[]) => service.lookup(tokens),
    bootstrap: () => audited(context, (trx) => service.bootstrap(trx)),
    list: () => service.list(),
    expiring: (windowMs: number) => service.expiring(windowMs),
    /** Keys newly inside the warning window (each once), and keys newly expired, each audited as `keys.expire`. */
    async sweepExpiry(windowMs: number) {
      const warned = await service.markExpiring(db, windowMs);
      const expired = await audited(context, (trx) => service.recordExpired(trx));
      return { warned, expired };
    },
    show: (id: number) => service.show(id),
  };
}

export type KeysAdmin = ReturnType<typeof administerKeys>;
