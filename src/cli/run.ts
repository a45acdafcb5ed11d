/** Shared CLI plumbing: one clear line on stderr and a non-zero exit for any failure. */

/** A failure the user can fix; printed without a stack. */
export class CliError extends Error {}

/** Wraps a command action: failures print `cachet: <message>` and exit 1. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`cachet: ${message.split('\n')[0]}\n`);
      process.exitCode = 1;
    }
  };
}

/** Prints `value` as JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
