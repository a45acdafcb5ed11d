/** The one pino logger, shared by HTTP, CLI and jobs. Key material is redacted wherever it could appear. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: ['token', '*.token', 'headers.authorization', 'headers["x-cachet-token"]', 'req.headers.authorization', 'req.headers["x-cachet-token"]'],
        censor: '[redacted]',
      },
    },
    destination as pino.DestinationStream | undefined,
  );
}
