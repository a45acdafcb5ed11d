/** `cachet audit verify|checkpoint|public-key|prune|search`: proving the audit trail and keeping it in bounds. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { loadConfig, type Config } from '../config.js';
import type { Database } from '../db/database.js';
import { eventOfRow } from '../features/audit/audit.chain.js';
import { pruneAuditTrail } from '../features/audit/audit.prune.js';
import { keyEvents, keyOfToken, matchOf } from '../features/audit/audit.search.js';
import { loadSigner, type SignedCheckpoint } from '../features/audit/audit.signing.js';
import { systemContext } from '../features/audit/audit.types.js';
import { verifyAuditTrail } from '../features/audit/audit.verify.js';
import { isWellFormedToken } from '../infra/token.js';
import { toStoredTime } from '../infra/time.js';
import { auditWriterFor, checkpointerFor, openMigratedDatabase } from '../compose.js';
import { action, CliError, printJson } from './run.js';

/** Exit code of a verification that found tampering (1 is any other failure). */
const TAMPERED = 2;

async function withDatabase<T>(work: (database: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openMigratedDatabase(config);
  try {
    return await work(database, config);
  } finally {
    await database.close();
  }
}

/** A checkpoint file as `cachet audit checkpoint` prints it. */
function readCheckpointFile(file: string): { checkpoint: SignedCheckpoint; publicKey: KeyObject | null } {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`--checkpoint: cannot read ${file} as JSON (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const c = (value ?? {}) as Record<string, unknown>;
  if (!Number.isSafeInteger(c.seq) || (c.seq as number) < 1 || typeof c.hash !== 'string' || !/^[0-9a-f]{64}$/.test(c.hash) || typeof c.at !== 'string' || typeof c.signature !== 'string') {
    throw new CliError(`--checkpoint: ${file} is not a checkpoint (seq, hash, at, signature) as printed by cachet audit checkpoint`);
  }
  let publicKey: KeyObject | null = null;
  if (c.public_key !== undefined) {
    try {
      if (typeof c.public_key !== 'string') throw new TypeError('not a string');
      publicKey = createPublicKey(c.public_key);
    } catch {
      throw new CliError(`--checkpoint: the public_key in ${file} is not a PEM public key`);
    }
  }
  return { checkpoint: { seq: c.seq as number, hash: c.hash, at: c.at, signature: c.signature }, publicKey };
}

/** The token in `file` (`-`: standard input); never echoed, even when it is not a token. */
function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`--token-file: cannot read ${file === '-' ? 'standard input' : file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const token = text.trim();
  if (!isWellFormedToken(token)) throw new CliError(`--token-file: ${file === '-' ? 'standard input' : file} does not hold a Cachet API token`);
  return token;
}

/** ISO 8601 date or date-time → stored form; a date alone is midnight UTC. */
function parseBefore(text: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim()) ? Date.parse(text.trim()) : NaN;
  if (Number.isNaN(ms)) throw new CliError(`--before must be an ISO 8601 date or time such as 2026-01-31 or 2026-01-31T12:00:00Z, got "${text}"`);
  if (ms > Date.now()) throw new CliError('--before must not be in the future');
  return toStoredTime(new Date(ms));
}

/** Column widths of the search table: fixed, so rows print as they are read. */
const COLUMNS: Array<[string, number]> = [['SEQ', 8], ['AT', 24], ['ACTION', 26], ['OUTCOME', 7], ['STATUS', 6], ['REASON', 16], ['IP', 15], ['MATCH', 0]];

function tableRow(cells: string[]): string {
  return cells.map((cell, i) => cell.padEnd(COLUMNS[i]![1])).join('  ').trimEnd() + '\n';
}

/** Adds the proving subcommands to the `audit` command group. */
export function auditVerifyCommands(audit: Command): void {
  audit
    .command('verify')
    .description(`recompute the hash chain and check every signed checkpoint; exit ${TAMPERED} naming the first bad event`)
    .option('--checkpoint <file>', 'also check against a checkpoint kept outside the database (JSON from cachet audit checkpoint)')
    .option('--json', 'print JSON')
    .action(
      action(async (options: { checkpoint?: string; json?: boolean }) => {
        const given = options.checkpoint === undefined ? null : readCheckpointFile(options.checkpoint);
        const result = await withDatabase(async (database, config) => {
          const signer = loadSigner(config, { create: false });
          const externalKey = signer?.publicKey ?? given?.publicKey ?? null;
          if (given && !externalKey) throw new CliError('--checkpoint: no key to check it by: the file has no public_key and no signing key is configured');
          return verifyAuditTrail(database, {
            publicKey: signer?.publicKey ?? null,
            ...(given ? { checkpoint: { checkpoint: given.checkpoint, publicKey: externalKey! } } : {}),
          });
        });
        if (options.json) printJson(result);
        if (!result.ok) {
          const { kind, seq, id, message } = result.problem;
          process.stderr.write(`cachet: audit trail ${kind} at seq ${seq}${id ? ` (id ${id})` : ''}: ${message}\n`);
          process.exitCode = TAMPERED;
          return;
        }
        if (result.external === 'pruned') {
          throw new CliError(`cannot check the checkpoint: seq ${given!.checkpoint.seq} was pruned (the trail now starts after seq ${result.anchor.seq})`);
        }
        if (!options.json) {
          const range = result.count === 0 ? 'no events' : `${result.count} events, seq ${result.anchor.seq + 1}–${result.head.seq}`;
          const matched = result.external === 'matched' ? `; checkpoint seq ${given!.checkpoint.seq} matches` : '';
          process.stdout.write(`audit trail intact: ${range}, head ${result.head.hash.slice(0, 16)}…, ${result.checkpoints} signed checkpoints${matched}\n`);
        }
      }),
    );

  audit
    .command('checkpoint')
    .description('sign the current head (seq, hash, at), store it and print it as JSON: keep a copy outside the database')
    .action(
      action(async () => {
        const printed = await withDatabase(async (database, config) => {
          const checkpoint = await checkpointerFor(database, config).checkpoint();
          if (!checkpoint) throw new CliError('the audit trail is empty: there is nothing to sign');
          return { ...checkpoint, public_key: loadSigner(config, { create: true })!.publicKeyPem };
        });
        printJson(printed);
      }),
    );

  audit
    .command('public-key')
    .description('print the key that verifies checkpoints (PEM, SPKI); generates the signing key if there is none yet')
    .action(
      action(async () => {
        const signer = loadSigner(loadConfig(), { create: true })!;
        process.stdout.write(signer.publicKeyPem);
      }),
    );

  audit
    .command('prune')
    .description('remove the events before a date in one transaction; the rest still verifies from the recorded anchor')
    .requiredOption('--before <date>', 'ISO 8601 date or time (UTC unless it says otherwise), e.g. 2026-01-01')
    .option('--json', 'print JSON')
    .action(
      action(async (options: { before: string; json?: boolean }) => {
        const before = parseBefore(options.before);
        const result = await withDatabase((database, config) => pruneAuditTrail(database.db, auditWriterFor(config), before, systemContext('cachet audit prune')));
        if (options.json) return printJson({ before, ...result });
        if (!result.pruned) return void process.stdout.write(`nothing to prune: no events before ${before} start the trail\n`);
        process.stdout.write(
          `pruned ${result.removed} events (through seq ${result.anchor.seq}); the trail now verifies from anchor ${result.anchor.hash.slice(0, 16)}…; recorded as event seq ${result.event.seq} (audit.prune)\n`,
        );
      }),
    );

  audit
    .command('search')
    .description("list one key's events, found by its token (revoked and expired keys too), and refused presentations of its prefix")
    .requiredOption('--token-file <file>', 'file holding the token, or - for standard input (never pass a token as an argument)')
    .option('--json', 'print NDJSON, one event a line')
    .action(
      action(async (options: { tokenFile: string; json?: boolean }) => {
        const token = readToken(options.tokenFile);
        await withDatabase(async (database, config) => {
          const key = await keyOfToken(database.db, config.pepper, token);
          if (!key) throw new CliError('no key has this token (or it was made with another pepper)');
          if (!options.json) {
            const status = key.revoked_at ? `revoked ${key.revoked_at}` : key.expires_at && key.expires_at <= toStoredTime(new Date()) ? `expired ${key.expires_at}` : 'active';
            process.stdout.write(`key ${key.id} "${key.name}" (prefix ${key.prefix}, ${status})\n\n`);
          }
          let found = 0;
          for (let after = 0; ; ) {
            const batch = await keyEvents(database.db, key, after, 1000);
            if (!options.json && found === 0 && batch.length > 0) process.stdout.write(tableRow(COLUMNS.map(([name]) => name)));
            for (const row of batch) {
              const match = matchOf(row, key);
              if (options.json) process.stdout.write(JSON.stringify({ ...eventOfRow(row), match }) + '\n');
              else process.stdout.write(tableRow([String(row.seq), row.at, row.action, row.outcome, row.status === null ? '' : String(row.status), row.reason ?? '', row.ip ?? '', match]));
            }
            found += batch.length;
            if (batch.length < 1000) break;
            after = Number(batch[batch.length - 1]!.seq);
          }
          if (!options.json && found === 0) process.stdout.write('no events\n');
        });
      }),
    );
}
