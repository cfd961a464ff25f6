/**
 * OpenTelemetry tracing, configured only by the standard OTEL_* environment variables and off
 * unless OTEL_TRACES_EXPORTER names an exporter. Off, none of the SDK is loaded: the helpers below
 * (`inSpan`, `traceLogFields`) check one variable and call straight through.
 *
 * On, the SDK is started by the CLI (main.ts imports ./start-tracing first, because the
 * instrumentations patch http, graphql, @redis/client and the Prisma client as they are loaded),
 * and spans cover the HTTP request, the GraphQL operation, Prisma queries, Redis commands, bcrypt,
 * outgoing mail and the fetch() calls to OAuth providers. Attributes never carry secrets: no
 * headers, no query strings, no bodies, no GraphQL variables or literal values, no Redis arguments
 * (keys name emails and token hashes), no SQL parameters, no mail recipients. docs/tracing.md lists the spans and settings.
 */
import type * as Api from '@opentelemetry/api';
import { hostname } from 'node:os';

type Attributes = Record<string, string | number | boolean>;

interface Running {
  api: typeof Api;
  tracer: Api.Tracer;
  shutdown: () => Promise<void>;
}

let running: Running | undefined;

/** Whether the environment turns tracing on: OTEL_TRACES_EXPORTER set (and not `none`), the SDK not disabled. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (exporters.length === 0 || exporters.includes('none')) return false;
  return (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() !== 'true';
}

/** Whether resolver spans were asked for (WARDEN_TRACE_RESOLVERS=true): one span per field resolved is costly. */
function resolverSpansRequested(env: NodeJS.ProcessEnv): boolean {
  return ['1', 'true', 'yes'].includes((env.WARDEN_TRACE_RESOLVERS ?? '').trim().toLowerCase());
}

/** The path of a request URL, without its query string (a GET can carry GraphQL variables there). */
function pathOf(url: string | undefined): string {
  const value = url ?? '';
  const queryAt = value.indexOf('?');
  return queryAt === -1 ? value : value.slice(0, queryAt);
}

/** Paths too frequent and too dull to trace: scrapes and probes. */
const UNTRACED_PATHS = new Set(['/metrics', '/health', '/health/live', '/health/ready', '/healthz', '/readyz', '/livez']);

/**
 * Starts the SDK when the environment asks for it, once; returns whether tracing is on. Loads the
 * SDK and the instrumentations synchronously (they must be in place before the instrumented
 * modules are required), so call it before anything else is imported.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): boolean {
  if (running) return true;
  if (!tracingRequested(env)) return false;

  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { envDetector, processDetector, osDetector, resourceFromAttributes } =
    require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { GraphQLInstrumentation } =
    require('@opentelemetry/instrumentation-graphql') as typeof import('@opentelemetry/instrumentation-graphql');
  const { RedisInstrumentation } = require('@opentelemetry/instrumentation-redis') as typeof import('@opentelemetry/instrumentation-redis');
  const { UndiciInstrumentation } =
    require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici');
  const { PrismaInstrumentation } = require('@prisma/instrumentation') as typeof import('@prisma/instrumentation');
  /* eslint-enable @typescript-eslint/no-require-imports */

  const namesService = Boolean(env.OTEL_SERVICE_NAME?.trim()) || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    // Named by OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES when given, else `warden`.
    serviceName: namesService ? undefined : 'warden',
    // The host detector reads the machine id on libuv's thread pool, which must start later (see
    // lib/thread-pool-priority.ts); host.name is all it would add that matters. OTEL_NODE_RESOURCE_DETECTORS wins.
    ...(env.OTEL_NODE_RESOURCE_DETECTORS?.trim()
      ? {}
      : { resource: resourceFromAttributes({ 'host.name': hostname() }), resourceDetectors: [envDetector, processDetector, osDetector] }),
    // Traces only: Warden's metrics are Prometheus at /metrics, its logs pino lines on stdout.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has(pathOf(request.url)),
        // No header is ever recorded (none is listed in headersToSpanAttributes). The URL's query
        // string is dropped: a GET /graphql carries its variables there.
        requestHook: (span, request) => {
          if (!('headers' in request) || 'setHeader' in request) return;
          const incoming = request;
          if (incoming.url?.includes('?')) span.setAttribute('url.query', '[redacted]');
          if (pathOf(incoming.url) === '/graphql') span.updateName(`${incoming.method ?? 'HTTP'} /graphql`);
        },
        redactedQueryParams: ['code', 'state', 'token', 'access_token', 'refresh_token', 'id_token', 'client_secret', 'password'],
      }),
      new GraphQLInstrumentation({
        // graphql.source keeps the document's shape with every literal replaced by `*`; variables are never read.
        allowValues: false,
        ignoreResolveSpans: !resolverSpansRequested(env),
        ignoreTrivialResolveSpans: true,
        mergeItems: true,
      }),
      // fetch() (undici): the calls to OAuth providers (discovery, token, JWKS, userinfo). No header
      // is recorded (none is listed in headersToSpanAttributes), nor any request or response body
      // (the token request's body holds the code, the PKCE verifier and the client secret); the URL
      // loses its query string and any userinfo.
      new UndiciInstrumentation({
        startSpanHook: (request) => {
          const url = new URL(request.path, request.origin);
          const redacted: Attributes = {};
          if (url.search) redacted['url.query'] = '[redacted]';
          url.search = '';
          url.username = '';
          url.password = '';
          redacted['url.full'] = url.href;
          return redacted;
        },
      }),
      new RedisInstrumentation({
        // The command name only: keys and values name emails, token hashes and codes.
        dbStatementSerializer: (command) => command,
      }),
      new PrismaInstrumentation(),
    ],
  });
  sdk.start();
  running = {
    api,
    tracer: api.trace.getTracer('warden'),
    shutdown: () => sdk.shutdown(),
  };
  return true;
}

/** Whether the SDK is running. */
export function tracingActive(): boolean {
  return running !== undefined;
}

/** Flushes the spans still buffered and stops the SDK (at shutdown). Resolves at once when tracing is off. */
export async function stopTracing(): Promise<void> {
  const current = running;
  if (!current) return;
  running = undefined;
  await current.shutdown();
}

/**
 * Runs `fn` inside a new span (child of the current one), ended when `fn` settles and marked as an
 * error when it throws. With tracing off, it is just `fn()`.
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: SpanHandle) => Promise<T>,
  kind: 'internal' | 'client' = 'internal',
): Promise<T> {
  const current = running;
  if (!current) return fn(NO_SPAN);
  const { api, tracer } = current;
  return tracer.startActiveSpan(
    name,
    { attributes, kind: kind === 'client' ? api.SpanKind.CLIENT : api.SpanKind.INTERNAL },
    async (span) => {
      try {
        return await fn({ set: (key, value) => span.setAttribute(key, value) });
      } catch (error) {
        // The error's type only: messages can name a recipient (an SMTP refusal) or echo input.
        const type = error instanceof Error ? error.name : 'Error';
        span.setAttribute('error.type', type);
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: type });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** What `inSpan` hands its function: attributes to add once known. */
export interface SpanHandle {
  set(key: string, value: string | number | boolean): void;
}

const NO_SPAN: SpanHandle = { set: () => {} };

/**
 * The current span's trace and span ids, for log lines (`trace_id`, `span_id`, `trace_flags`, as
 * OpenTelemetry's log correlation names them); empty when tracing is off or no span is current.
 */
export function traceLogFields(): { trace_id?: string; span_id?: string; trace_flags?: string } {
  // A new object each time: pino merges the line's own fields into what the mixin returns.
  const current = running;
  if (!current) return {};
  const span = current.api.trace.getActiveSpan();
  if (!span) return {};
  const context = span.spanContext();
  if (!current.api.isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId, trace_flags: `0${context.traceFlags.toString(16)}` };
}
