// The root pino logger: JSON lines, static messages with fields, secrets redacted at the root.
import { pino, type Logger } from 'pino';

/** Any field with one of these names is censored wherever it appears in a log object. */
export const REDACT_KEYS = ['password', 'pass', 'token', 'accessToken', 'refreshToken', 'clientSecret', 'secret', 'authorization', 'apiToken', 'xoauth2'];

const paths = REDACT_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]).concat(['req.headers.authorization', 'headers.authorization']);

export function createLogger(level: string = process.env.MAILROOM_LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'mailroom' },
      redact: { paths, censor: '<redacted>' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

export type { Logger };
