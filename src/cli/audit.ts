/** `cachet audit …`: the audit trail from the command line (verify, checkpoint, export, search, prune). */
import type { Command } from 'commander';
import { auditExportCommand } from './audit-export.js';
import { auditVerifyCommands } from './audit-verify.js';

/** The `audit` command group; each feature adds its subcommands to it. */
export function auditCommand(program: Command): Command {
  const audit = program.command('audit').description('verify, sign, export, search and prune the audit trail');
  auditExportCommand(audit);
  auditVerifyCommands(audit);
  return audit;
}
