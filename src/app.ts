/**
 * buildApp(): Fastify + Apollo Server + /healthz /readyz /metrics. It never listens, so tests
 * and main.ts decide where it runs.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyCors from '@fastify/cors';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import { randomUUID } from 'node:crypto';
import type { GraphQLSchema } from 'graphql';
import type { Context, CookieJar } from './context';
import { createFormatError } from './errors/format-error';
import { getSchema } from './schema/build-schema';
import { compiledExecutorGateway } from './schema/compiled-executor';
import { queryLimits } from './schema/query-limits';
import { createLoaders } from './loaders';
import { createServices, type Infrastructure, type Services } from './services';
import { SessionCleanup, ViewerCache } from './modules/session';
import { legacyJsonStatusPlugin } from './plugins/legacy-json-status';
import { listItemCapPlugin } from './plugins/list-item-cap';
import { runInRequestScope } from './infra/logger';
import { openSigningKeys, type SigningKeys } from './modules/keys';
import type { ObjectStorage } from './infra/storage/storage';
import { FileStorage } from './infra/storage/file-storage';
import { fileStorageRoutes } from './infra/storage/file-storage.routes';
import { AVATAR_CACHE_CONTROL } from './modules/avatar';
import type { Config } from './config';
import type { Clock } from './lib/clock';

export interface App {
  fastify: FastifyInstance;
  services: Services;
  infra: Infrastructure;
  /** Deletes lapsed sessions and tokens every CLEANUP_INTERVAL (tests call its runOnce()). */
  sessionCleanup: SessionCleanup;
  /**
   * Stops accepting, finishes in-flight requests, waits for background mail (bounded by
   * SHUTDOWN_TIMEOUT), then closes the database, store and mailer.
   */
  close(): Promise<void>;
}

/** Headers that force a browser preflight, so a cross-site form or image cannot run an operation. */
export const CSRF_PREFLIGHT_HEADERS = ['authorization', 'apollo-require-preflight', 'x-apollo-operation-name'];

export interface BuildAppOptions {
  /** Warden's schema with an application's resolvers in it (createWarden builds it); default: Warden's own. */
  schema?: GraphQLSchema;
  /** JWT_ALGORITHM=ES256: the opened key store (openSigningKeys); null with HS256. */
  signingKeys?: SigningKeys | null;
  /**
   * 'graphql-js' (the default): graphql-js's interpreter runs every operation; 'compiled':
   * queries run through graphql-jit, compiled once per document. Opt-in: it did not pay in the
   * measurements so far (docs/performance.md).
   */
  execution?: 'compiled' | 'graphql-js';
}

export async function buildApp(infra: Infrastructure, options: BuildAppOptions = {}): Promise<App> {
  const { config, logger, metrics, database, store, mailer, storage } = infra;
  const schema = options.schema ?? (await getSchema());
  const viewerCache = await ViewerCache.open(store, { ttlMs: config.sessionCacheTtlMs, logger, metrics });
  // createWarden() opens the key store; a caller of buildApp() alone gets one opened here.
  const signingKeys = options.signingKeys !== undefined ? options.signingKeys : await openSigningKeys(infra);
  signingKeys?.start();
  const services = createServices(infra, viewerCache, signingKeys);

  const fastify = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.maxBodyBytes,
    // With TRUST_PROXY, only the address the nearest proxy appended (the last X-Forwarded-For
    // entry) is believed; entries before it are whatever the client sent.
    trustProxy: config.trustProxy ? (_address: string, hop: number) => hop < 1 : false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
  });

  // Once close() has begun, every response (in-flight ones included) ends its connection, so
  // keep-alive connections (a load balancer's pool) do not hold the shutdown open.
  let closingDown = false;
  fastify.addHook('preClose', async () => {
    closingDown = true;
  });
  fastify.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    if (closingDown) reply.header('connection', 'close');
  });
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  fastify.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status < 500) {
      return reply.status(status).send({ error: error.code ?? 'BAD_REQUEST', message: error.message });
    }
    request.log.error({ err: error }, 'unhandled HTTP error');
    return reply.status(500).send({ error: 'INTERNAL_SERVER_ERROR', message: 'Something went wrong; try again later.' });
  });

  await fastify.register(fastifyCookie);
  const allowed = new Set(config.corsOrigins.filter((origin) => origin !== 'null'));
  await fastify.register(fastifyCors, {
    // Only listed origins get CORS headers; an unlisted Origin (or "null") is never echoed.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    // PUT: avatar uploads to Warden's own storage (STORAGE_URL unset).
    methods: ['GET', 'POST', 'PUT', 'OPTIONS'],
  });

  const limits = queryLimits({ production: config.isProduction });
  const apollo = new ApolloServer<Context>({
    // The compiled executor reaches Apollo through its gateway hook: Apollo still parses,
    // validates, runs every plugin and formats every error; only execution is replaced.
    ...(options.execution === 'compiled' ? { gateway: compiledExecutorGateway(schema) } : { schema }),
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
    formatError: createFormatError({ logger, development: config.isDevelopment }),
    includeStacktraceInErrorResponses: config.isDevelopment,
    csrfPrevention: { requestHeaders: CSRF_PREFLIGHT_HEADERS },
    allowBatchedHttpRequests: false,
    introspection: !config.isProduction,
    hideSchemaDetailsFromClientErrors: config.isProduction,
    logger,
    // main.ts owns signals: it stops accepting, drains in-flight requests, then calls close().
    stopOnTerminationSignals: false,
    plugins: [
      config.isProduction ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      ...limits.plugins,
      listItemCapPlugin({ maxItems: config.maxListItems, logger, aborts: metrics.listItemCapAborts }),
      legacyJsonStatusPlugin<Context>(),
      // Nothing in Warden sets cache hints, and no usage or traces go to Apollo's cloud. Apollo
      // installs the cache-control plugin unless told not to, and its per-field hook makes Apollo
      // wrap every resolver of the schema on every request (docs/performance.md).
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
  await apollo.start();

  const cookieOptions = { httpOnly: true, sameSite: 'strict' as const, path: '/graphql', secure: config.cookieSecure };
  const cookieJar = (request: FastifyRequest, reply: FastifyReply): CookieJar => ({
    get: (name) => request.cookies[name],
    set: (name, value, options) => {
      reply.setCookie(name, value, {
        ...cookieOptions,
        sameSite: options.sameSite ?? cookieOptions.sameSite,
        expires: options.expires,
        maxAge: options.maxAgeSeconds,
      });
    },
    clear: (name) => {
      reply.clearCookie(name, cookieOptions);
    },
  });

  const handler = fastifyApolloHandler<Context>(apollo, {
    context: async (request, reply) => {
      const resolved = await services.auth.resolveViewer(request.headers.authorization);
      return {
        viewer: resolved.viewer,
        noViewerReason: resolved.reason,
        accessTokenClaims: resolved.claims,
        request: { id: String(request.id), ip: request.ip, userAgent: request.headers['user-agent'] ?? null },
        cookies: cookieJar(request, reply),
        services,
        loaders: createLoaders(services, resolved.viewer),
        logger: request.log,
      };
    },
  });
  // Run in the request's scope, so what services and formatError log carries its id.
  // Operations still running, counted apart from connections: one whose client hung up has no
  // connection left for fastify.close() to wait on, yet still needs the database.
  let running = 0;
  let allDone: (() => void) | undefined;
  const scopedHandler: typeof handler = async function (request, reply) {
    running++;
    try {
      return await runInRequestScope(String(request.id), () => handler.call(this, request, reply));
    } finally {
      if (--running === 0) allDone?.();
    }
  };
  /** Resolves when no operation runs, or at `deadline`. */
  const operationsDone = (deadline: number) =>
    running === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          allDone = () => {
            clearTimeout(timer);
            resolve();
          };
        });
  fastify.route({ method: ['GET', 'POST', 'OPTIONS'], url: '/graphql', handler: scopedHandler });

  await registerStorageRoutes(fastify, storage, config, infra.clock);

  fastify.get('/healthz', async () => ({ status: 'ok' }));

  fastify.get('/readyz', async (_request, reply) => {
    const probe = async (check: () => Promise<void>) => {
      try {
        await check();
        return 'ok';
      } catch {
        return 'down';
      }
    };
    const checks: Record<string, string> = { database: await probe(() => database.ping()) };
    if (store.kind === 'redis') checks.redis = await probe(() => store.ping());
    // ES256: no key this instance can sign with means no sign-in can succeed.
    if (signingKeys) checks.signingKey = signingKeys.signingKey() ? 'ok' : 'none';
    const ready = Object.values(checks).every((state) => state === 'ok');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ok' : 'degraded', checks });
  });

  // The JWKS and the discovery document, from memory (SigningKeys rebuilds the JWKS when keys
  // change). HS256 has no public key to publish: both are 404 then.
  const maxAgeSeconds = Math.floor(config.jwksMaxAgeMs / 1000);
  const issuerIsUrl = /^https?:\/\//i.test(config.jwtIssuer);
  fastify.get('/.well-known/jwks.json', async (request, reply) => {
    if (!signingKeys) return reply.status(404).send({ error: 'NOT_FOUND', message: 'JWT_ALGORITHM=HS256: no JWKS is served' });
    const { body, etag } = signingKeys.jwks();
    reply
      .header('cache-control', `public, max-age=${maxAgeSeconds}`)
      .header('etag', etag)
      .header('content-type', 'application/jwk-set+json');
    if (request.headers['if-none-match'] === etag) return reply.status(304).send();
    return reply.send(body);
  });
  fastify.get('/.well-known/openid-configuration', async (request, reply) => {
    if (!signingKeys) return reply.status(404).send({ error: 'NOT_FOUND', message: 'JWT_ALGORITHM=HS256: no JWKS is served' });
    // With a URL for JWT_ISSUER the JWKS lives under it; else under the address this request used.
    const base = issuerIsUrl ? config.jwtIssuer.replace(/\/+$/, '') : `${request.protocol}://${request.host}`;
    reply.header('cache-control', `public, max-age=${maxAgeSeconds}`);
    return reply.send({
      issuer: config.jwtIssuer,
      jwks_uri: `${base}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: ['ES256'],
    });
  });

  fastify.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  await fastify.ready();

  const sessionCleanup = new SessionCleanup({
    prisma: database.prisma,
    clock: infra.clock,
    logger,
    retentionMs: config.accessTokenTtlMs + config.clockSkewMs,
    reuseGraceMs: config.refreshReuseGraceMs,
    tasks: [{ name: 'avatarUploads', run: (now) => services.avatars.deleteAbandonedUploads(now) }],
  });
  sessionCleanup.start(config.cleanupIntervalMs);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const started = Date.now();
      await fastify.close();
      await operationsDone(started + config.shutdownTimeoutMs - 500);
      await sessionCleanup.stop();
      await apollo.stop();
      // Mail and reset lookups still running need the database and the mailer: they get what is
      // left of SHUTDOWN_TIMEOUT (less a margin, so main's forced exit does not cut this short).
      await services.background.drain(started + config.shutdownTimeoutMs - 500 - Date.now());
      await viewerCache.close();
      await signingKeys?.close();
      await Promise.allSettled([database.close(), store.close(), mailer.close(), storage.close()]);
    })();
    return closing;
  };
  return { fastify, services, infra, sessionCleanup, close };
}

/**
 * With files on disk (STORAGE_URL unset), Warden itself takes the signed uploads and serves the
 * avatars; with a bucket, the store does both and Warden adds no route.
 */
async function registerStorageRoutes(fastify: FastifyInstance, storage: ObjectStorage, config: Config, clock: Clock): Promise<void> {
  if (!(storage instanceof FileStorage)) return;
  await fastify.register(fileStorageRoutes, { storage, clock, maxUploadBytes: config.avatarMaxBytes, cacheControl: AVATAR_CACHE_CONTROL });
}
