/**
 * The audit stage of the pipeline: the request's audit context, its event inside a mutation's
 * transaction, and for every other audited request (keyed reads, denials, failures) its event
 * through group commit, committed before the response leaves.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import type { AuditBatcher } from '../features/audit/audit.batcher.js';
import { changeAction } from '../features/audit/audit.changes.js';
import type { AuditContext, AuditFact, Change, Outcome } from '../features/audit/audit.types.js';
import type { AuditWriter } from '../features/audit/audit.writer.js';
import { errorEnvelope, type RefusalReason } from './errors.js';
import type { TransactionJoiner } from './transact.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The refusal code of a denied request (set by the error handler). */
    refusal: RefusalReason | null;
  }
}

/** Who, from where, with what: the audit context of an HTTP request. */
export function auditContextOf(request: FastifyRequest): AuditContext {
  const principal = request.principal;
  const userAgent = request.headers['user-agent'];
  return {
    actor:
      principal.type === 'key'
        ? { type: 'key', keyId: principal.key.id, keyPrefix: principal.key.prefix }
        : request.refusedKeyId !== null
          ? { type: 'key', keyId: request.refusedKeyId, keyPrefix: request.presentedPrefix }
          : { type: 'anonymous', keyPrefix: request.presentedPrefix },
    requestId: request.id,
    ip: request.clientIp || null,
    userAgent: typeof userAgent === 'string' ? userAgent : null,
    method: request.method,
    path: request.url.split('?')[0] ?? request.url,
  };
}

/** `components` of `components.update`. */
function resourceOf(action: string): string {
  return action.slice(0, action.lastIndexOf('.'));
}

/** The id a route addresses: its last path parameter (`:id`, `:update`, `:point`), none for list and create. */
function addressedId(request: FastifyRequest, action: string): string | null {
  if (action.endsWith('.list') || action.endsWith('.create')) return null;
  const params = Object.values((request.params ?? {}) as Record<string, string>);
  return params.length > 0 ? params[params.length - 1]! : null;
}

function outcomeOf(status: number): Outcome {
  if (status < 400) return 'allowed';
  return status === 401 || status === 403 || status === 429 ? 'denied' : 'failed';
}

export interface AuditStageDeps {
  writer: AuditWriter;
  batcher: AuditBatcher;
  /** Told when an event could not be written (the response becomes a 503). */
  onError: (err: unknown, request: FastifyRequest) => void;
}

export function createAuditStage({ writer, batcher, onError }: AuditStageDeps) {
  /** Joins a mutation's transaction: the request's event, with the diff of its own change, and one event per other change. */
  const joiner: TransactionJoiner = async (request: FastifyRequest, trx: Transaction<DB>, changes: readonly Change[]) => {
    const access = request.routeOptions.config.access;
    if (!access) return;
    const action = access.action;
    const resource = access.resource ?? resourceOf(action);
    const primary = changes.find((c) => changeAction(c) === action) ?? changes.find((c) => c.resource === resource) ?? null;
    const status = access.status ?? (request.method === 'DELETE' ? 204 : 200);
    const context = auditContextOf(request);
    const own: AuditFact = primary
      ? { ...writer.factOf(primary, status), action, resourceType: resource, resourceId: addressedId(request, action) ?? primary.id, reason: request.shadowDenied }
      : { action, resourceType: resource, resourceId: addressedId(request, action), outcome: 'allowed', status, reason: request.shadowDenied, changes: null };
    const others = changes.filter((c) => c !== primary).map((c) => ({ context, fact: writer.factOf(c) }));
    await writer.append(trx, [{ context, fact: own }, ...others]);
  };

  /** The event of a request that had no mutation to carry it, or null when the request is not audited. */
  function factOf(request: FastifyRequest, status: number): AuditFact | null {
    const access = request.routeOptions.config.access;
    if (!access) return null; // not an API route: no key was looked at
    const action = access.action;
    const outcome = outcomeOf(status);
    // Guests' reads are not events; their refusals are (a missing, malformed or unknown key).
    if (request.principal.type !== 'key' && outcome !== 'denied') return null;
    return {
      action,
      resourceType: access.resource ?? resourceOf(action),
      resourceId: addressedId(request, action),
      outcome,
      status,
      // An allowed request's reason says what a report-only narrowing of its key would have refused.
      reason: outcome === 'allowed' ? request.shadowDenied : request.refusal,
      changes: null,
    };
  }

  /** `onSend`: commits the request's event before the response is written. */
  async function onSend(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    if (request.auditCommitted) return payload;
    const fact = factOf(request, reply.statusCode);
    if (!fact) return payload;
    try {
      await batcher.write({ context: auditContextOf(request), fact });
      return payload;
    } catch (err) {
      // Fail closed: no response without its event.
      onError(err, request);
      reply.code(503).header('retry-after', '5').type('application/json');
      return JSON.stringify(errorEnvelope(503, 'The audit trail cannot be written; retry shortly.'));
    }
  }

  return { joiner, onSend };
}
