import pino, { type Logger } from 'pino';

/** Paths pino blanks out wherever they appear, so secrets never reach the logs. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.newPassword',
  '*.currentPassword',
  '*.refreshToken',
  '*.accessToken',
  '*.token',
  '*.code',
  'variables.*.password',
  'variables.*.newPassword',
  'variables.*.currentPassword',
  'variables.password',
  'variables.newPassword',
  'variables.currentPassword',
  'variables.refreshToken',
  'variables.token',
  'variables.code',
];

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'warden' },
    },
    options.destination,
  );
}

export type { Logger };
