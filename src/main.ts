/**
 * Start: config → infrastructure → app → listen; SIGTERM/SIGINT drain and exit 0.
 */
import { ConfigError, loadConfig, type Config } from './config';
import { openDatabase, DatabaseStartError } from './infra/database';
import { createLogger, type Logger } from './infra/logger';
import { createMailer } from './infra/mailer';
import { Metrics } from './infra/metrics';
import { describeRedisTarget, openStore, redactUrl } from './infra/store';
import { systemClock } from './lib/clock';
import { lowerThreadPoolPriority } from './lib/thread-pool-priority';
import { buildApp, type App } from './app';

async function start(): Promise<void> {
  // First, before anything else starts libuv's thread pool: bcrypt must not starve the event loop.
  const pool = await lowerThreadPoolPriority();
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  logger.debug({ threads: pool.threads }, 'the thread pool (bcrypt) runs below the event loop');

  let app: App;
  try {
    const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
    const store = await openStore(config.redis, logger).catch(async (error) => {
      await database.close();
      throw error;
    });
    const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, dataDir: config.dataDir, logger });
    app = await buildApp({ config, database, store, mailer, metrics: new Metrics(), logger, clock: systemClock });
  } catch (error) {
    const message = error instanceof DatabaseStartError ? error.message : `Warden could not start: ${(error as Error).message}`;
    logger.fatal({ err: error }, message);
    console.error(message);
    process.exit(1);
  }

  await app.fastify.listen({ port: config.port, host: config.host });
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  logger.info(
    {
      database: config.databaseUrl ? redactUrl(config.databaseUrl) : `embedded PGlite in ${config.dataDir}`,
      store: config.redis ? describeRedisTarget(config.redis) : 'in-process',
    },
    `Warden is ready at http://${shownHost}:${port}/graphql`,
  );

  installShutdown(app, config, logger);
}

function installShutdown(app: App, config: Config, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('shutdown timed out; closing the remaining connections');
      app.fastify.server.closeAllConnections();
      setTimeout(() => process.exit(0), 1_000).unref();
    }, config.shutdownTimeoutMs);
    force.unref();
    app
      .close()
      .then(() => {
        clearTimeout(force);
        logger.info('stopped');
        process.exit(0);
      })
      .catch((error) => {
        logger.error({ err: error }, 'error while shutting down');
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void start();
