/** `cachet users create|list|remove|reset-password`: dashboard users, on the database directly. */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { auditWriterFor, openMigratedDatabase, usersServiceFor } from '../compose.js';
import { loadConfig } from '../config.js';
import type { Database } from '../db/database.js';
import { createAudited, type Audited } from '../features/audit/audited.js';
import { systemContext } from '../features/audit/audit.types.js';
import type { UsersService, UserView } from '../features/users/users.service.js';
import { action, CliError, printJson } from './run.js';

/** Reads one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput: (text: string) => void };
    let asked = false;
    output._writeToOutput = (text: string) => {
      // The question is written once; every keystroke after it is not echoed.
      if (!asked) {
        process.stderr.write(text);
        asked = true;
      }
    };
    rl.question(question, (answer) => {
      process.stderr.write('\n');
      rl.close();
      resolve(answer);
    });
    rl.on('SIGINT', () => {
      rl.close();
      reject(new CliError('cancelled'));
    });
  });
}

/** The first line of stdin (a pipe or a file). */
async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** A new password: asked twice on a terminal, else the first line of stdin. Never an argument. */
async function newPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const password = await readStdinLine();
    if (password === '') throw new CliError('no password on stdin (give it as the first line, or run on a terminal to be asked)');
    return password;
  }
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Password again: ');
  if (first !== second) throw new CliError('the passwords differ');
  return first;
}

function userId(text: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new CliError(`"${text}" is not a user id`);
  return Number(text);
}

async function withUsers<T>(command: string, work: (users: UsersService, audited: Audited, database: Database) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openMigratedDatabase(config);
  try {
    return await work(usersServiceFor(database, config), createAudited(database.db, auditWriterFor(config)), database);
  } finally {
    await database.close();
  }
}

/** A user id, or the id of the user with that email. */
async function resolveUser(users: UsersService, database: Database, idOrEmail: string): Promise<number> {
  if (idOrEmail.includes('@')) {
    const row = await users.byEmail(database.db, idOrEmail);
    if (!row) throw new CliError(`no user with the email ${idOrEmail.trim().toLowerCase()}`);
    return row.id;
  }
  return userId(idOrEmail);
}

function line(user: UserView): string {
  return `${String(user.id).padEnd(5)} ${user.role.padEnd(6)} ${user.totp_enabled ? '2fa' : '   '} ${user.email}`;
}

export function usersCommand(program: Command): void {
  const users = program.command('users').description('dashboard users: create, list, remove, reset a password');

  users
    .command('create')
    .description('create a dashboard user; the password is asked for (or read from the first line of stdin)')
    .requiredOption('--email <email>', 'the address the user signs in with')
    .option('--admin', 'an admin: sees and manages every key, the whole audit trail, users and settings')
    .option('--json', 'print JSON')
    .action(
      action(async (options: { email: string; admin?: boolean; json?: boolean }) => {
        const password = await newPassword();
        const result = await withUsers('create', (service, audited) =>
          audited(systemContext('cachet users create'), (trx) => service.create(trx, { email: options.email, password, role: options.admin ? 'admin' : 'user' })),
        );
        if (!result.ok) throw new CliError(result.error);
        if (options.json) printJson(result.user);
        else process.stdout.write(`created user ${result.user.id} (${result.user.role}) ${result.user.email}\n`);
      }),
    );

  users
    .command('list')
    .description('list dashboard users')
    .option('--json', 'print JSON')
    .action(
      action(async (options: { json?: boolean }) => {
        const list = await withUsers('list', (service, _audited, database) => service.list(database.db));
        if (options.json) printJson(list);
        else process.stdout.write(list.length === 0 ? 'no users\n' : list.map(line).join('\n') + '\n');
      }),
    );

  users
    .command('remove <user>')
    .description('remove a user (id or email): their sessions end and their keys are revoked')
    .option('--json', 'print JSON')
    .action(
      action(async (idOrEmail: string, options: { json?: boolean }) => {
        const result = await withUsers('remove', async (service, audited, database) => {
          const id = await resolveUser(service, database, idOrEmail);
          return audited(systemContext('cachet users remove'), (trx) => service.remove(trx, id));
        });
        if (!result.ok) throw new CliError(result.error);
        if (options.json) printJson({ user: result.user, revoked_keys: result.revokedKeys });
        else process.stdout.write(`removed user ${result.user.id} ${result.user.email}; revoked ${result.revokedKeys.length} key(s)${result.revokedKeys.length ? ': ' + result.revokedKeys.join(', ') : ''}\n`);
      }),
    );

  users
    .command('reset-password <user>')
    .description("set a user's password (asked for, or the first line of stdin); their sessions end")
    .option('--disable-totp', 'also turn off two-factor sign-in (a user who lost their authenticator and recovery codes)')
    .option('--json', 'print JSON')
    .action(
      action(async (idOrEmail: string, options: { disableTotp?: boolean; json?: boolean }) => {
        const result = await withUsers('reset-password', async (service, audited, database) => {
          const id = await resolveUser(service, database, idOrEmail);
          const password = await newPassword();
          return audited(systemContext('cachet users reset-password'), (trx) => service.resetPassword(trx, id, password, { disableTotp: options.disableTotp ?? false }));
        });
        if (!result.ok) throw new CliError(result.error);
        if (options.json) printJson(result.user);
        else process.stdout.write(`password of user ${result.user.id} ${result.user.email} changed; their sessions ended${options.disableTotp ? '; two-factor sign-in off' : ''}\n`);
      }),
    );
}
