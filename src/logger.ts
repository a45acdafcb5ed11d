/** The one pino logger, shared by HTTP, CLI and jobs. Key material is redacted wherever it could appear. */
import { pino, type Logger } from 'pino';

/** Something lines can be written to in order, whole (pino's destination, a stream). */
export interface LineWriter {
  write(text: string): unknown;
}

let stdout: (pino.DestinationStream & LineWriter) | null = null;

/**
 * The process's one writer to standard output: the logger and the stdout audit sink share it, so
 * their lines never interleave mid-line (two writers on one pipe can: a long partial write of one
 * lets the other's line in between). Synchronous, like pino's default destination.
 */
export function sharedStdout(): pino.DestinationStream & LineWriter {
  stdout ??= pino.destination({ dest: 1, sync: true });
  return stdout;
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: ['token', '*.token', 'headers.authorization', 'headers["x-cachet-token"]', 'req.headers.authorization', 'req.headers["x-cachet-token"]'],
        censor: '[redacted]',
      },
    },
    (destination as pino.DestinationStream | undefined) ?? sharedStdout(),
  );
}
