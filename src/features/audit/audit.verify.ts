/**
 * Proves the audit trail: walks the chain from the prune anchor in seq order, a batch at a time
 * (memory stays bounded whatever the length), recomputing each event's hash and its link to the
 * one before, and checks every signed checkpoint against the events. Reports the first problem:
 * its kind and the `seq` and `id` of the event it concerns.
 */
import type { KeyObject } from 'node:crypto';
import type { Database, Executor } from '../../db/database.js';
import { eventHash, eventOfRow, hashedContent } from './audit.chain.js';
import { createAuditRepo, type AuditEventRow } from './audit.repo.js';
import { checkpointSignatureValid, type SignedCheckpoint } from './audit.signing.js';

/**
 * What went wrong: `altered` (an event's content no longer gives its hash, or a checkpoint signed
 * another hash for it), `removed` (a gap in seq), `inserted` (an event that was not in the chain
 * it sits in), `reordered` (an event that links to one elsewhere in the chain), `truncated` (the
 * chain ends before the head or a checkpoint says it reaches), `forged` (a checkpoint whose
 * signature does not verify).
 */
export type ProblemKind = 'altered' | 'removed' | 'inserted' | 'reordered' | 'truncated' | 'forged';

/** The first problem found. `id` is the event's, or null when the event is gone (removed, truncated). */
export interface ChainProblem {
  kind: ProblemKind;
  seq: number;
  id: string | null;
  message: string;
}

export interface VerifyOk {
  ok: true;
  /** Events checked (those after the anchor). */
  count: number;
  anchor: { seq: number; hash: string };
  head: { seq: number; hash: string };
  /** Stored checkpoints checked. */
  checkpoints: number;
  /** The outcome for `options.checkpoint`: matched, or no longer checkable because its events were pruned. */
  external: 'matched' | 'pruned' | null;
}

export type VerifyResult = VerifyOk | { ok: false; problem: ChainProblem; count: number };

export interface VerifyOptions {
  /** Key that checks stored checkpoints; with none, stored checkpoints make the verification fail (they cannot be checked). */
  publicKey: KeyObject | null;
  /** A checkpoint kept outside the database, with the key to check it by. */
  checkpoint?: { checkpoint: SignedCheckpoint; publicKey: KeyObject };
  /** Events read per query (default 1000). */
  batchSize?: number;
  /** Told the number of events in each batch as it is checked (progress for long chains). */
  onBatch?: (events: number) => void;
}

const repo = createAuditRepo();

interface Checked {
  seq: number;
  id: string | null;
  hash: string;
}

/** Where in the chain the event with `hash` sits (the anchor counts), or null. No index: only asked once, about the first bad event. */
async function seqOfHash(db: Executor, hash: string, anchor: Checked): Promise<number | null> {
  if (anchor.seq > 0 && hash === anchor.hash) return anchor.seq;
  const row = await db.selectFrom('audit_events').select('seq').where('hash', '=', hash).limit(1).executeTakeFirst();
  return row ? Number(row.seq) : null;
}

/** Names what is wrong with `row`, the first event that does not verify, given the last good one before it. */
async function classify(db: Executor, row: AuditEventRow, contentOk: boolean, prev: Checked, anchor: Checked): Promise<ChainProblem> {
  const seq = Number(row.seq);
  const at = (s: number, id: string | null) => `seq ${s}${id ? ` (id ${id})` : ''}`;
  if (row.prev_hash === prev.hash) {
    return { kind: 'altered', seq, id: row.id, message: `event ${at(seq, row.id)} was altered: its content does not give its hash` };
  }
  const origin = await seqOfHash(db, row.prev_hash, anchor);
  if (origin !== null && origin === seq - 2 && prev.id !== null) {
    return { kind: 'inserted', seq: prev.seq, id: prev.id, message: `event ${at(prev.seq, prev.id)} was inserted: the event after it links to seq ${origin}` };
  }
  if (origin !== null) {
    return { kind: 'reordered', seq, id: row.id, message: `event ${at(seq, row.id)} was moved: it links to the event at seq ${origin}, not to seq ${prev.seq}` };
  }
  if (contentOk && prev.id !== null) {
    return {
      kind: 'altered',
      seq: prev.seq,
      id: prev.id,
      message: `event ${at(prev.seq, prev.id)} was altered and its hash recomputed: the event after it still links to its old hash`,
    };
  }
  return { kind: 'altered', seq, id: row.id, message: `event ${at(seq, row.id)} was altered: its prev_hash links to no event` };
}

/**
 * Checks one checkpoint: its signature, and its hash against the event at its seq (already known
 * to be in a sound chain); `event` is null for a pruned event, whose hash is no longer known.
 */
function checkCheckpoint(checkpoint: SignedCheckpoint, publicKey: KeyObject, event: Checked | null, label: string): ChainProblem | null {
  if (!checkpointSignatureValid(checkpoint, publicKey)) {
    return { kind: 'forged', seq: checkpoint.seq, id: event?.id ?? null, message: `${label} at seq ${checkpoint.seq} is forged: its signature does not verify` };
  }
  if (event && checkpoint.hash !== event.hash) {
    return {
      kind: 'altered',
      seq: checkpoint.seq,
      id: event.id,
      message: `event seq ${checkpoint.seq}${event.id ? ` (id ${event.id})` : ''} is not the one the ${label} of ${checkpoint.at} signed: the trail was rewritten at or before it`,
    };
  }
  return null;
}

/** Stored checkpoints with `from <= seq <= to`, by seq, at most `limit`. */
async function storedCheckpoints(db: Executor, from: number, to: number, limit: number): Promise<SignedCheckpoint[]> {
  const rows = await db.selectFrom('audit_checkpoints').selectAll().where('seq', '>=', from).where('seq', '<=', to).orderBy('seq').limit(limit).execute();
  return rows.map((row) => ({ ...row, seq: Number(row.seq) }));
}

async function walk(db: Executor, options: VerifyOptions): Promise<VerifyResult> {
  const batchSize = options.batchSize ?? 1000;
  const head = await repo.head(db);
  const headSeq = Number(head.seq);
  const anchor: Checked = { seq: Number(head.anchor_seq), id: null, hash: head.anchor_hash };
  const external = options.checkpoint ?? null;
  let count = 0;
  let checkpoints = 0;
  const fail = (problem: ChainProblem): VerifyResult => ({ ok: false, problem, count });

  const storedCount = await db.selectFrom('audit_checkpoints').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  if (Number(storedCount.n) > 0 && options.publicKey === null) {
    throw new Error('the trail has signed checkpoints but no signing key is configured to check them (CACHET_AUDIT_SIGNING_KEY_FILE)');
  }
  const storedKey = options.publicKey;

  // Checkpoints of pruned events: only their signature (and, at the anchor, its hash) can be checked.
  for (let from = 0; ; ) {
    const batch = await storedCheckpoints(db, from, anchor.seq, batchSize);
    for (const checkpoint of batch) {
      const problem = checkCheckpoint(checkpoint, storedKey!, checkpoint.seq === anchor.seq ? anchor : null, 'checkpoint');
      if (problem) return fail(problem);
      checkpoints += 1;
    }
    if (batch.length < batchSize) break;
    from = batch[batch.length - 1]!.seq + 1;
  }
  let externalResult: VerifyOk['external'] = null;
  if (external && external.checkpoint.seq <= anchor.seq) {
    const { checkpoint, publicKey } = external;
    const problem = checkCheckpoint(checkpoint, publicKey, checkpoint.seq === anchor.seq ? anchor : null, 'given checkpoint');
    if (problem) return fail(problem);
    externalResult = checkpoint.seq === anchor.seq ? 'matched' : 'pruned';
  }

  let prev: Checked = anchor;
  for (;;) {
    const rows = await repo.after(db, prev.seq, batchSize);
    if (rows.length === 0) break;
    options.onBatch?.(rows.length);
    const last = Number(rows[rows.length - 1]!.seq);
    // At most one checkpoint per event: a batch's checkpoints fit in one page of the same size.
    const stored = new Map((await storedCheckpoints(db, Number(rows[0]!.seq), last, batchSize)).map((c) => [c.seq, c]));
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq > prev.seq + 1) {
        const gap = seq - 1 > prev.seq + 1 ? `events seq ${prev.seq + 1}–${seq - 1} were removed` : `event seq ${prev.seq + 1} was removed`;
        return fail({ kind: 'removed', seq: prev.seq + 1, id: null, message: `${gap}: the chain goes from seq ${prev.seq} to seq ${seq} (id ${row.id})` });
      }
      if (seq > headSeq) {
        return fail({ kind: 'inserted', seq, id: row.id, message: `event seq ${seq} (id ${row.id}) was inserted: it lies beyond the head the trail records (seq ${headSeq})` });
      }
      const contentOk = eventHash(row.prev_hash, hashedContent(eventOfRow(row))) === row.hash;
      if (!contentOk || row.prev_hash !== prev.hash) return fail(await classify(db, row, contentOk, prev, anchor));
      prev = { seq, id: row.id, hash: row.hash };
      count += 1;
      const checkpoint = stored.get(seq);
      if (checkpoint) {
        const problem = checkCheckpoint(checkpoint, storedKey!, prev, 'checkpoint');
        if (problem) return fail(problem);
        checkpoints += 1;
      }
      if (external && external.checkpoint.seq === seq) {
        const problem = checkCheckpoint(external.checkpoint, external.publicKey, prev, 'given checkpoint');
        if (problem) return fail(problem);
        externalResult = 'matched';
      }
    }
  }

  // The chain has ended: it must reach the head, and every checkpoint.
  const end = prev;
  const beyond = (await storedCheckpoints(db, end.seq + 1, Number.MAX_SAFE_INTEGER, 1))[0];
  const claims: Array<{ seq: number; by: string; checkpoint?: SignedCheckpoint; key?: KeyObject }> = [{ seq: headSeq, by: 'the head' }];
  if (beyond) claims.push({ seq: beyond.seq, by: `a checkpoint of ${beyond.at}`, checkpoint: beyond, key: storedKey! });
  if (external && external.checkpoint.seq > end.seq) {
    claims.push({ seq: external.checkpoint.seq, by: `the given checkpoint of ${external.checkpoint.at}`, checkpoint: external.checkpoint, key: external.publicKey });
  }
  for (const claim of claims.sort((a, b) => a.seq - b.seq)) {
    if (claim.seq <= end.seq) continue;
    if (claim.checkpoint && !checkpointSignatureValid(claim.checkpoint, claim.key!)) {
      return fail({ kind: 'forged', seq: claim.seq, id: null, message: `checkpoint at seq ${claim.seq} is forged: its signature does not verify` });
    }
    return fail({
      kind: 'truncated',
      seq: end.seq + 1,
      id: null,
      message: `the trail was truncated: it ends at seq ${end.seq}${end.id ? ` (id ${end.id})` : ''} but ${claim.by} reaches seq ${claim.seq}`,
    });
  }
  if (head.hash !== end.hash) {
    return fail({
      kind: 'altered',
      seq: end.seq,
      id: end.id,
      message: `event seq ${end.seq}${end.id ? ` (id ${end.id})` : ''} is not the one the head records: the trail's end was rewritten`,
    });
  }
  return { ok: true, count, anchor: { seq: anchor.seq, hash: anchor.hash }, head: { seq: headSeq, hash: head.hash }, checkpoints, external: externalResult };
}

/**
 * Verifies the whole trail in one consistent snapshot (PostgreSQL: a repeatable-read transaction;
 * SQLite: one read transaction), so appends made meanwhile by a running server are not mistaken
 * for tampering.
 *
 * @example
 * const result = await verifyAuditTrail(database, { publicKey: signer.publicKey });
 * if (!result.ok) console.log(result.problem.kind, result.problem.seq, result.problem.id);
 */
export async function verifyAuditTrail(database: Pick<Database, 'db' | 'dialect'>, options: VerifyOptions): Promise<VerifyResult> {
  const transaction = database.db.transaction();
  return (database.dialect === 'postgres' ? transaction.setIsolationLevel('repeatable read') : transaction).execute((trx) => walk(trx, options));
}
