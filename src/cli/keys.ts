/** `cachet keys create|list|show|revoke`: key administration on the database directly (no server needed). */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import type { KeyView } from '../features/keys/keys.service.js';
import { systemContext } from '../features/audit/audit.types.js';
import type { KeysAdmin } from '../features/keys/keys.admin.js';
import { keysAdminFor, openMigratedDatabase } from '../main.js';
import { action, CliError, printJson } from './run.js';

function keyId(text: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new CliError(`"${text}" is not a key id`);
  return Number(text);
}

function describe(key: KeyView): string {
  return [
    `id          ${key.id}`,
    `name        ${key.name}`,
    `prefix      ${key.prefix}`,
    `scopes      ${key.scopes.join(', ')}`,
    `status      ${key.status}`,
    `expires_at  ${key.expires_at ?? 'never'}`,
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
    .option('--json', 'print JSON')
    .action(
      action(async (options: { name: string; scopes: string; expires?: string; purpose?: string; rateLimit?: string; allowedIps?: string; json?: boolean }) => {
        if (options.rateLimit !== undefined && !/^\d+$/.test(options.rateLimit)) throw new CliError('--rate-limit must be a whole number');
        const result = await withKeys('create', (service) =>
          service.create({
            name: options.name,
            scopes: options.scopes.split(','),
            expires: options.expires,
            purpose: options.purpose,
            rateLimit: options.rateLimit === undefined ? undefined : Number(options.rateLimit),
            allowedIps: options.allowedIps?.split(','),
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
    .description('list keys (never their tokens)')
    .option('--json', 'print JSON')
    .action(
      action(async (options: { json?: boolean }) => {
        const list = await withKeys('list', (service) => service.list());
        if (options.json) return printJson(list);
        if (list.length === 0) return void process.stdout.write('no keys\n');
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
    .description('revoke a key at once (running servers notice within a second)')
    .argument('<id>', 'key id')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, options: { json?: boolean }) => {
        const result = await withKeys('revoke', (service) => service.revoke(keyId(id)));
        if (!result.ok) throw new CliError(result.error === 'not_found' ? `no key with id ${id}` : `key ${id} is already revoked`);
        if (options.json) printJson(result.key);
        else process.stdout.write(`revoked key ${result.key.id} (${result.key.prefix}…, ${result.key.name})\n`);
      }),
    );
}
