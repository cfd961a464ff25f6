/**
 * The composition root: the one place that turns a Config into infrastructure (database, store,
 * mailer, metrics, logger, clock) and the app on top of it. The CLI (main.ts), the test harness
 * and the benchmark all start Warden through createWarden(); nothing else wires services.
 */
import type { DestinationStream } from 'pino';
import type { Config } from './config';
import { openDatabase, type Database, type OpenDatabaseOptions } from './infra/database';
import { createLogger, type Logger } from './infra/logger';
import { createMailer, type Mailer } from './infra/mailer';
import { Metrics } from './infra/metrics';
import { openStore, type Store } from './infra/store';
import { openStorage } from './infra/storage/open-storage';
import type { ObjectStorage } from './infra/storage/storage';
import { systemClock, type Clock } from './lib/clock';
import { buildApp, type App, type BuildAppOptions } from './app';
import { getSchema } from './schema/build-schema';
import { openSigningKeys } from './modules/keys';
import type { Infrastructure, OAuthTransport, Services } from './services';

/**
 * An application's additions (`resolvers`) and what a caller may supply instead of what
 * createWarden() would build from the config (the rest).
 */
export interface WardenOptions {
  /**
   * The application's own type-graphql resolver classes, built into one schema with Warden's.
   * Their root fields need `@Auth()` or `@Public()` like Warden's own, and are enforced the same way.
   */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  resolvers?: readonly Function[];
  /** A logger of the caller's; otherwise one at config.logLevel, writing to `logDestination`. */
  logger?: Logger;
  /** Where the default logger writes (standard output when unset). */
  logDestination?: DestinationStream;
  clock?: Clock;
  metrics?: Metrics;
  mailer?: Mailer;
  /**
   * An open database to use instead of opening one from config.databaseUrl / config.dataDir.
   * Warden closes it on close(); pass a wrapper whose close() does nothing to keep it open.
   */
  database?: Database;
  /** Options for the database Warden opens itself (an in-memory PGlite, `migrate: false`, `onQuery`). */
  databaseOptions?: Partial<Omit<OpenDatabaseOptions, 'logger'>>;
  /** An open store to use instead of opening config.redis (or the in-process store). Warden closes it on close(). */
  store?: Store;
  /** Avatar storage to use instead of opening config.storage (STORAGE_URL). Warden closes it on close(). */
  storage?: ObjectStorage;
  /** How OAuth providers are called: a fetch of the caller's (e.g. one trusting a private CA) and the per-call bound. */
  oauth?: OAuthTransport;
  /** How operations execute: 'graphql-js' (the default) or 'compiled' (graphql-jit; see buildApp). */
  execution?: BuildAppOptions['execution'];
}

export interface ListenOptions {
  /** Default: config.port (0 picks a free port). */
  port?: number;
  /** Default: config.host. */
  host?: string;
}

export interface Warden {
  config: Config;
  infra: Infrastructure;
  services: Services;
  app: App;
  /** Starts accepting connections; resolves with the port actually bound. */
  listen(options?: ListenOptions): Promise<{ port: number; host: string }>;
  /** Stops accepting, drains in-flight work, closes the database, store, mailer and storage (see App.close). */
  close(): Promise<void>;
}

/**
 * Opens the infrastructure the config names and builds the app on it. Nothing listens yet.
 * @throws DatabaseStartError when the database cannot be reached or a migration fails;
 *   AuthDirectiveError when a root field carries neither or both of @auth and @public; the
 *   store's start-up errors otherwise. Whatever was already opened is closed again.
 */
export async function createWarden(config: Config, overrides: WardenOptions = {}): Promise<Warden> {
  // First, before anything is opened: a schema that breaks the @auth/@public rule fails here.
  const schema = await getSchema(overrides.resolvers);
  const logger = overrides.logger ?? createLogger({ level: config.logLevel, destination: overrides.logDestination });
  // Only what is opened here is closed again if a later step fails; the caller's own stay open.
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    let database = overrides.database;
    if (!database) {
      database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, ...overrides.databaseOptions, logger });
      opened.push(database);
    }
    let store = overrides.store;
    if (!store) {
      store = await openStore(config.redis, logger);
      opened.push(store);
    }
    let mailer = overrides.mailer;
    if (!mailer) {
      mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, dataDir: config.dataDir, logger });
      opened.push(mailer);
    }
    let storage = overrides.storage;
    if (!storage) {
      storage = await openStorage(config, logger);
      opened.push(storage);
    }
    const infra: Infrastructure = {
      config,
      database,
      store,
      mailer,
      storage,
      metrics: overrides.metrics ?? new Metrics(),
      logger,
      clock: overrides.clock ?? systemClock,
      oauth: overrides.oauth,
    };
    // ES256: the signing keys every instance shares (made on the first start, re-sealed after a
    // JWT_SECRET rotation); buildApp publishes them and rotates them on schedule.
    const signingKeys = await openSigningKeys(infra);
    const app = await buildApp(infra, { schema, signingKeys, execution: overrides.execution });
    return {
      config,
      infra,
      services: app.services,
      app,
      async listen(options = {}) {
        const host = options.host ?? config.host;
        await app.fastify.listen({ port: options.port ?? config.port, host });
        const address = app.fastify.server.address();
        return { port: typeof address === 'object' && address ? address.port : (options.port ?? config.port), host };
      },
      close: () => app.close(),
    };
  } catch (error) {
    await Promise.allSettled(opened.reverse().map((resource) => resource.close()));
    throw error;
  }
}
