/** `cachet keys create|list|show|revoke`: key administration on the database directly (no server needed). */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import type { KeyView } from '../features/keys/keys.service.js';
import { systemContext } from '../features/audit/audit.types.js';
import type { KeysAdmin } from '../features/keys/keys.admin.js';
import { keysAdminFor, openMigratedDatabase } from '../main.js';
import { action, CliError, printJson } from './run.js';
import { scanForTokens } from '../features/keys/keys.scan.js';
import { parseDuration } from '../infra/duration.js';

function keyId(text: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new CliError(`"${text}" is not a key id`);
  return Number(text);
}

/**
 * `components:7,9;incidents:3` → `{components: [7, 9], incidents: [3]}`. Ids that are not whole
 * numbers are passed on as text so the service names them in its refusal.
 */
export function parseResourcesOption(text: string): Record<string, Array<number | string>> {
  const limits: Record<string, Array<number | string>> = {};
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    if (colon <= 0) throw new CliError(`--resources: "${part}" must be RESOURCE:ID[,ID…], e.g. components:7,9;incidents:3`);
    const resource = part.slice(0, colon).trim();
    const ids = part.slice(colon + 1).split(',').map((id) => id.trim()).filter(Boolean);
    limits[resource] = [...(limits[resource] ?? []), ...ids.map((id) => (/^\d{1,15}$/.test(id) ? Number(id) : id))];
  }
  if (Object.keys(limits).length === 0) throw new CliError('--resources: give RESOURCE:ID[,ID…], e.g. components:7,9;incidents:3');
  return limits;
}

/** `components:7,9;incidents:3`, the form `--resources` takes. */
function formatResources(resources: Readonly<Record<string, readonly number[]>>): string {
  return Object.entries(resources)
    .map(([resource, ids]) => `${resource}:${ids.join(',')}`)
    .join(';');
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
    ...(key.resources ? [`resources   ${formatResources(key.resources)}`] : []),
    ...(key.allowed_ips ? [`allowed_ips ${key.allowed_ips.join(', ')}`] : []),
    ...(key.rate_limit ? [`rate_limit  ${key.rate_limit}/min`] : []),
    ...(key.purpose ? [`purpose     ${key.purpose}`] : []),
    `last_used   ${key.last_used_at ?? 'never'}${key.last_used_ip ? ` from ${key.last_used_ip}` : ''}`,
  ].join('\n');
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

  keys
    .command('create')
    .description('create an API key and print its token (shown once)')
    .requiredOption('--name <name>', 'what the key is for, e.g. "uptime monitor"')
    .requiredOption('--scopes <list>', "comma-separated scopes, e.g. 'components.manage,incidents.manage' or '*'")
    .option('--expires <duration>', 'lifetime such as 30d, 24h, 90m, 90s, or "never" where allowed (default 90d)')
    .option('--purpose <text>', 'free text: who uses the key and why')
    .option('--rate-limit <n>', 'requests per minute for this key')
    .option('--allowed-ips <cidrs>', 'comma-separated CIDRs the key may be used from')
    .option('--resources <limits>', "limit the key to listed ids per resource, e.g. 'components:7,9;incidents:3'")
    .option('--not-before <time>', 'ISO 8601 time (with Z or an offset) before which the key is refused')
    .option('--json', 'print JSON')
    .action(
      action(async (options: {
        name: string;
        scopes: string;
        expires?: string;
        purpose?: string;
        rateLimit?: string;
        allowedIps?: string;
        resources?: string;
        notBefore?: string;
        json?: boolean;
      }) => {
        if (options.rateLimit !== undefined && !/^\d+$/.test(options.rateLimit)) throw new CliError('--rate-limit must be a whole number');
        const result = await withKeys('create', (service) =>
          service.create({
            name: options.name,
            scopes: options.scopes.split(','),
            expires: options.expires,
            purpose: options.purpose,
            rateLimit: options.rateLimit === undefined ? undefined : Number(options.rateLimit),
            allowedIps: options.allowedIps?.split(','),
            resources: options.resources === undefined ? undefined : parseResourcesOption(options.resources),
            notBefore: options.notBefore,
            createdBy: 'cli',
          }),
        );
        if (!result.ok) throw new CliError(result.error);
        for (const warning of result.warnings) process.stderr.write(`cachet: warning: ${warning}\n`);
        if (options.json) {
          printJson({ ...result.key, token: result.token });
        } else {
          process.stdout.write(`${describe(result.key)}\n\ntoken       ${result.token}\n\nStore the token now: it is not shown again.\n`);
        }
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
    .description('rotate a key: print its successor\'s token (shown once); the old key works until the grace ends')
    .argument('<id>', 'key id')
    .option('--grace <duration>', 'how long the old key keeps working (default 24h)', '24h')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, options: { grace: string; json?: boolean }) => {
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
