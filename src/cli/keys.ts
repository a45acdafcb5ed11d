/** `cachet keys create|list|show|revoke`: key administration on the database directly (no server needed). */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import type { KeyView } from '../features/keys/keys.service.js';
import { systemContext } from '../features/audit/audit.types.js';
import type { KeysAdmin } from '../features/keys/keys.admin.js';
import { keysAdminFor, openMigratedDatabase, rotationSchedulerFor } from '../compose.js';
import type { RotationPolicyInput } from '../features/keys/keys.delivery.js';
import { action, CliError, printJson } from './run.js';
import { scanForTokens } from '../features/keys/keys.scan.js';
import { keyReviewCommands } from './keys-review.js';
import { formatResourceList, parseResourceList } from '../features/keys/keys.resources.js';
import { parseDuration } from '../infra/duration.js';

function keyId(text: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new CliError(`"${text}" is not a key id`);
  return Number(text);
}

/**
 * `--resources components:7,9;incidents:3` → `{components: [7, 9], incidents: [3]}` (see
 * parseResourceList); a malformed value is a CliError naming the option.
 */
export function parseResourcesOption(text: string): Record<string, Array<number | string>> {
  const parsed = parseResourceList(text);
  if (!parsed.ok) throw new CliError(`--resources: ${parsed.error}`);
  return parsed.limits;
}

function describe(key: KeyView): string {
  return [
    `id          ${key.id}`,
    `name        ${key.name}`,
    `prefix      ${key.prefix}`,
    `scopes      ${key.scopes.join(', ')}`,
    `status      ${key.status}`,
    `expires_at  ${key.expires_at ?? 'never'}`,
    ...(key.not_before ? [`not_before  ${key.not_before}`] : []),
    ...(key.resources ? [`resources   ${formatResourceList(key.resources)}`] : []),
    ...(key.allowed_ips ? [`allowed_ips ${key.allowed_ips.join(', ')}`] : []),
    ...(key.rate_limit ? [`rate_limit  ${key.rate_limit}/min`] : []),
    ...(key.purpose ? [`purpose     ${key.purpose}`] : []),
    `last_used   ${key.last_used_at ?? 'never'}${key.last_used_ip ? ` from ${key.last_used_ip}` : ''}`,
    ...(key.rotation ? [`rotation    every ${key.rotation.every}, grace ${key.rotation.grace}${key.rotation.retire_after_pickup ? `, retire ${key.rotation.retire_after_pickup} after pickup` : ''}, deliver to ${targetText(key.rotation.deliver)}`] : []),
    ...(key.delivery
      ? [
          `delivery    next ${key.delivery.next_attempt_at ?? '-'}; last attempt ${key.delivery.last_attempt_at ?? 'never'}${key.delivery.last_error ? ` FAILED (${key.delivery.failures}x): ${key.delivery.last_error}` : ''}`,
        ]
      : []),
  ].join('\n');
}

function targetText(target: NonNullable<KeyView['rotation']>['deliver']): string {
  return target.type === 'file' ? `file:${target.path}` : target.type === 'webhook' ? target.url : `command ${JSON.stringify(target.argv)}`;
}

interface RotationOptions {
  rotateEvery?: string;
  rotateGrace?: string;
  deliver?: string;
  deliverCommand?: string;
  retireAfterPickup?: string;
}

/** The policy the rotation options describe, or undefined when none is given. */
function rotationFromOptions(options: RotationOptions): RotationPolicyInput | undefined {
  const given = options.rotateEvery !== undefined || options.deliver !== undefined || options.deliverCommand !== undefined || options.retireAfterPickup !== undefined;
  if (!given) return undefined;
  if (options.rotateEvery === undefined) throw new CliError('--rotate-every is required with --deliver or --deliver-command');
  if ((options.deliver === undefined) === (options.deliverCommand === undefined)) throw new CliError('give one delivery target: --deliver file:PATH|URL or --deliver-command JSON');
  let deliver: RotationPolicyInput['deliver'];
  if (options.deliverCommand !== undefined) {
    let argv: unknown;
    try {
      argv = JSON.parse(options.deliverCommand);
    } catch {
      throw new CliError(`--deliver-command must be a JSON list such as '["/usr/local/bin/install-key","--service","api"]'`);
    }
    deliver = { type: 'command', argv: argv as string[] };
  } else if (options.deliver!.startsWith('file:')) {
    deliver = { type: 'file', path: options.deliver!.slice('file:'.length) };
  } else if (/^https?:\/\//i.test(options.deliver!)) {
    deliver = { type: 'webhook', url: options.deliver! };
  } else {
    throw new CliError(`--deliver must be file:/absolute/path or an http(s) URL; got "${options.deliver}"`);
  }
  return { every: options.rotateEvery, grace: options.rotateGrace ?? '24h', deliver, retire_after_pickup: options.retireAfterPickup ?? null };
}

async function withKeys<T>(command: string, work: (keys: KeysAdmin) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openMigratedDatabase(config);
  try {
    return await work(keysAdminFor(database, config, systemContext(`cachet keys ${command}`)));
  } finally {
    await database.close();
  }
}

export function keysCommand(program: Command): void {
  const keys = program.command('keys').description('create, list, show and revoke API keys');
  keyReviewCommands(keys);

  keys
    .command('create')
    .description('create an API key and print its token (shown once)')
    .requiredOption('--name <name>', 'what the key is for, e.g. "uptime monitor"')
    .requiredOption('--scopes <list>', "comma-separated scopes, e.g. 'components.manage,incidents.manage' or '*'")
    .option('--expires <duration>', 'lifetime such as 30d, 24h, 90m, 90s, or "never" where allowed (default 90d)')
    .requiredOption('--purpose <text>', 'who uses the key and why (required; the key review reports keys without one)')
    .option('--rate-limit <n>', 'requests per minute for this key')
    .option('--allowed-ips <cidrs>', 'comma-separated CIDRs the key may be used from')
    .option('--rotate-every <duration>', 'rotate on schedule this often (30d); the server or `keys rotate --due` does it')
    .option('--rotate-grace <duration>', 'with --rotate-every: how long the old key works after its successor was delivered (default 24h)')
    .option('--deliver <target>', 'with --rotate-every: file:/absolute/path (written atomically, mode 0600) or an http(s) webhook URL (signed)')
    .option('--deliver-command <json>', 'with --rotate-every: a command as a JSON list, absolute program first; it gets the token on stdin')
    .option('--retire-after-pickup <duration>', "with --rotate-every: retire the old key this long after the successor's first use")
    .option('--resources <limits>', "limit the key to listed ids per resource, e.g. 'components:7,9;incidents:3'")
    .option('--not-before <time>', 'ISO 8601 time (with Z or an offset) before which the key is refused')
    .option('--json', 'print JSON')
    .action(
      action(
        async (
          options: {
            name: string;
            scopes: string;
            expires?: string;
            purpose?: string;
            rateLimit?: string;
            allowedIps?: string;
            resources?: string;
            notBefore?: string;
            json?: boolean;
          } & RotationOptions,
        ) => {
        const rotation = rotationFromOptions(options);
        if (options.rateLimit !== undefined && !/^\d+$/.test(options.rateLimit)) throw new CliError('--rate-limit must be a whole number');
        const result = await withKeys('create', (service) =>
          service.create({
            name: options.name,
            scopes: options.scopes.split(','),
            expires: options.expires,
            purpose: options.purpose,
            requirePurpose: true,
            rateLimit: options.rateLimit === undefined ? undefined : Number(options.rateLimit),
            allowedIps: options.allowedIps?.split(','),
            resources: options.resources === undefined ? undefined : parseResourcesOption(options.resources),
            notBefore: options.notBefore,
            createdBy: 'cli',
            ...(rotation ? { rotation, hostTargets: true } : {}),
          }),
        );
        if (!result.ok) throw new CliError(result.error);
        for (const warning of result.warnings) process.stderr.write(`cachet: warning: ${warning}\n`);
        if (options.json) {
          printJson({ ...result.key, token: result.token, ...(result.webhookSecret ? { webhook_secret: result.webhookSecret } : {}) });
        } else {
          const secret = result.webhookSecret
            ? `\nwebhook_secret ${result.webhookSecret}\n(the signing secret the webhook receiver verifies deliveries with; shown once, it is not an API key)\n`
            : '';
          process.stdout.write(`${describe(result.key)}\n\ntoken       ${result.token}\n${secret}\nStore the token now: it is not shown again.\n`);
        }
      }),
    );

  keys
    .command('policy')
    .description("set or remove a key's rotation policy (the server then rotates it on schedule and delivers the successor)")
    .argument('<id>', 'key id')
    .option('--rotate-every <duration>', 'rotate on schedule this often (30d)')
    .option('--rotate-grace <duration>', 'how long the old key works after its successor was delivered (default 24h)')
    .option('--deliver <target>', 'file:/absolute/path (atomic, mode 0600) or an http(s) webhook URL (signed)')
    .option('--deliver-command <json>', 'a command as a JSON list, absolute program first; it gets the token on stdin')
    .option('--retire-after-pickup <duration>', "retire the old key this long after the successor's first use")
    .option('--clear', 'remove the policy')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, options: RotationOptions & { clear?: boolean; json?: boolean }) => {
        const rotation = rotationFromOptions(options);
        if (options.clear && rotation) throw new CliError('give a policy or --clear, not both');
        if (!options.clear && !rotation) throw new CliError('give a policy (--rotate-every with --deliver or --deliver-command) or --clear');
        const result = await withKeys('policy', (service) => service.update(keyId(id), { rotation: options.clear ? null : rotation!, hostTargets: true }));
        if (!result.ok) throw new CliError(result.error);
        if (options.json) return printJson({ ...result.key, ...(result.webhookSecret ? { webhook_secret: result.webhookSecret } : {}) });
        const secret = result.webhookSecret ? `\nwebhook_secret ${result.webhookSecret}\n(the signing secret the webhook receiver verifies deliveries with; shown once, it is not an API key)\n` : '';
        process.stdout.write(`${describe(result.key)}\n${secret}`);
      }),
    );

  keys
    .command('list')
    .description('list keys (never their tokens); --expiring lists the live keys that expire within a window')
    .option('--expiring [window]', 'only live keys expiring within this duration (default 7d), soonest first')
    .option('--json', 'print JSON')
    .action(
      action(async (options: { expiring?: string | true; json?: boolean }) => {
        let windowMs: number | null = null;
        if (options.expiring !== undefined) {
          const text = options.expiring === true ? '7d' : options.expiring;
          windowMs = parseDuration(text);
          if (windowMs === null) throw new CliError(`--expiring must be a duration such as 7d, 24h or 90m; got "${text}"`);
        }
        const list = await withKeys('list', (service) => (windowMs === null ? service.list() : service.expiring(windowMs)));
        if (options.json) return printJson(list);
        if (list.length === 0) return void process.stdout.write(windowMs === null ? 'no keys\n' : `no keys expire within ${String(options.expiring === true ? '7d' : options.expiring)}\n`);
        const rows = list.map((k) => [String(k.id), k.prefix, k.status, k.expires_at ?? 'never', k.name, k.scopes.join(',')]);
        const header = ['ID', 'PREFIX', 'STATUS', 'EXPIRES', 'NAME', 'SCOPES'];
        const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
        for (const row of [header, ...rows]) process.stdout.write(row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
      }),
    );

  keys
    .command('show')
    .description('show one key (never its token)')
    .argument('<id>', 'key id')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, options: { json?: boolean }) => {
        const key = await withKeys('show', (service) => service.show(keyId(id)));
        if (!key) throw new CliError(`no key with id ${id}`);
        if (options.json) printJson(key);
        else process.stdout.write(describe(key) + '\n');
      }),
    );

  keys
    .command('revoke')
    .description('revoke a key at once (running servers notice within a second); --all is the emergency switch')
    .argument('[id]', 'key id')
    .option('--all', 'revoke every active key (needs --yes-revoke-every-key)')
    .option('--yes-revoke-every-key', 'confirm --all')
    .option('--except <ids>', 'with --all: comma-separated key ids to keep')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string | undefined, options: { all?: boolean; yesRevokeEveryKey?: boolean; except?: string; json?: boolean }) => {
        if (options.all) {
          if (id !== undefined) throw new CliError('give a key id or --all, not both');
          if (!options.yesRevokeEveryKey) throw new CliError('--all revokes every active key: add --yes-revoke-every-key to confirm');
          const except = options.except === undefined ? [] : options.except.split(',').map((text) => keyId(text.trim()));
          const revoked = await withKeys('revoke --all', (service) => service.revokeAll(except));
          if (options.json) return printJson({ revoked });
          return void process.stdout.write(`revoked ${revoked.length} key${revoked.length === 1 ? '' : 's'}${revoked.length ? `: ${revoked.join(', ')}` : ''}\n`);
        }
        if (options.except !== undefined) throw new CliError('--except only goes with --all');
        if (id === undefined) throw new CliError('give the id of the key to revoke (or --all)');
        const result = await withKeys('revoke', (service) => service.revoke(keyId(id)));
        if (!result.ok) throw new CliError(result.error);
        if (options.json) printJson(result.key);
        else process.stdout.write(`revoked key ${result.key.id} (${result.key.prefix}…, ${result.key.name})\n`);
      }),
    );

  keys
    .command('rotate')
    .description("rotate a key: print its successor's token (shown once); the old key works until the grace ends. --due: run scheduled rotation once (for cron)")
    .argument('[id]', 'key id')
    .option('--grace <duration>', 'how long the old key keeps working (default 24h)', '24h')
    .option('--due', 'rotate every key whose rotation policy is due and deliver the successors (as the server does every 30 s)')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string | undefined, options: { grace: string; due?: boolean; json?: boolean }) => {
        if (options.due) {
          if (id !== undefined) throw new CliError('give a key id or --due, not both');
          const config = loadConfig();
          const database = await openMigratedDatabase(config);
          let report;
          try {
            report = await rotationSchedulerFor(database, config, systemContext('cachet keys rotate --due')).runDue();
          } finally {
            await database.close();
          }
          if (report.failed.length > 0) process.exitCode = 1;
          if (options.json) return printJson(report);
          if (report.busy) return void process.stdout.write('another instance is rotating keys right now; nothing done\n');
          for (const r of report.rotated) process.stdout.write(`rotated key ${r.id}: successor ${r.successor_id} delivered\n`);
          for (const f of report.failed) process.stderr.write(`cachet: key ${f.id}: delivery failed: ${f.error} (the old key keeps working; retried later)\n`);
          if (report.rotated.length + report.failed.length === 0) process.stdout.write('no key is due for rotation\n');
          return;
        }
        if (id === undefined) throw new CliError('give the id of the key to rotate (or --due)');
        const graceMs = parseDuration(options.grace);
        if (graceMs === null) throw new CliError(`--grace must be a duration such as 24h, 90m or 30s; got "${options.grace}"`);
        const result = await withKeys('rotate', (service) => service.rotate(keyId(id), graceMs));
        if (!result.ok) throw new CliError(result.error);
        for (const warning of result.warnings) process.stderr.write(`cachet: warning: ${warning}\n`);
        if (options.json) return printJson({ ...result.key, token: result.token, previous: result.previous });
        process.stdout.write(
          `${describe(result.key)}\n\ntoken       ${result.token}\n\nStore the token now: it is not shown again.\n` +
            `Key ${result.previous.id} keeps working until ${result.previous.expires_at ?? 'never'}.\n`,
        );
      }),
    );

  keys
    .command('scan')
    .description('find API tokens in files and folders; report which are keys of this server (by prefix only)')
    .argument('<paths...>', 'files or folders to search')
    .option('--revoke', 'revoke every live key found')
    .option('--json', 'print JSON')
    .action(
      action(async (paths: string[], options: { revoke?: boolean; json?: boolean }) => {
        const scan = scanForTokens(paths);
        const report = await withKeys('scan', async (service) => {
          const keysByToken = await service.lookup(scan.findings.map((f) => f.token));
          const rows = scan.findings.map((f) => {
            const key = keysByToken.get(f.token) ?? null;
            return { file: f.file, line: f.line, prefix: f.token.slice(0, 12), key_id: key?.id ?? null, status: key ? key.status : 'unknown', revoked_now: false };
          });
          if (options.revoke) {
            for (const row of rows) {
              if ((row.status !== 'active' && row.status !== 'pending') || row.key_id === null) continue;
              const result = await service.revoke(row.key_id);
              for (const same of rows) if (same.key_id === row.key_id && result.ok) Object.assign(same, { status: 'revoked', revoked_now: true });
            }
          }
          return rows;
        });
        for (const skipped of scan.skipped) process.stderr.write(`cachet: skipped ${skipped.file}: ${skipped.reason}\n`);
        // A live key left in a file is something to act on: exit 3 lets CI fail on it.
        if (report.some((row) => row.status === 'active' || row.status === 'pending')) process.exitCode = 3;
        if (options.json) return printJson({ files: scan.files, findings: report });
        if (report.length === 0) return void process.stdout.write(`no tokens found in ${scan.files} file${scan.files === 1 ? '' : 's'}\n`);
        for (const row of report) {
          const what = row.key_id === null ? 'not a key of this server' : `key ${row.key_id}, ${row.status}${row.revoked_now ? ' (revoked now)' : ''}`;
          process.stdout.write(`${row.file}:${row.line}  ${row.prefix}…  ${what}\n`);
        }
      }),
    );
}
