import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';
import { traceLogFields } from './tracing';

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

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * Fastify's request log line, with the path only: a query string can carry GraphQL variables
 * (a GET query, or a client that wrongly sends a login over GET), which redaction paths cannot
 * reach inside a URL.
 */
export function serializeRequest(req: LoggedRequest) {
  const url = typeof req.url === 'string' ? req.url : '';
  const queryAt = url.indexOf('?');
  return {
    method: req.method,
    url: queryAt === -1 ? url : `${url.slice(0, queryAt)}?…`,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/**
 * The request being served, so lines that services log on the app logger while serving it carry
 * its id too (Fastify's request logger, `ctx.logger`, already does).
 */
const requestScope = new AsyncLocalStorage<{ reqId: string }>();

/** Runs `fn` (and everything it awaits) as part of request `reqId`: every log line then names it. */
export function runInRequestScope<T>(reqId: string, fn: () => T): T {
  return requestScope.run({ reqId }, fn);
}

const CHINDINGS = pino.symbols.chindingsSym as unknown as string;

/**
 * Adds the current request's id, unless the logger is a child that already binds one, and, with
 * tracing on, the current trace and span ids (so a line leads to its trace).
 */
function requestIdMixin(_object: object, _level: number, logger: Logger): object {
  const trace = traceLogFields();
  const scope = requestScope.getStore();
  if (!scope) return trace;
  const bindings = (logger as unknown as Record<string, string | undefined>)[CHINDINGS];
  return bindings?.includes('"reqId":') ? trace : { ...trace, reqId: scope.reqId };
}

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      mixin: requestIdMixin,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { req: serializeRequest },
      base: { service: 'warden' },
    },
    options.destination,
  );
}

export type { Logger };
