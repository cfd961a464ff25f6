#!/usr/bin/env node
/**
 * The CLI entry (`warden`, `npm start`): config from the environment → createWarden() → listen;
 * SIGTERM/SIGINT drain and exit 0. Importing Warden as a library goes through index.ts instead.
 */
// First: tracing's instrumentations must be in place before the modules they patch are loaded.
import './infra/start-tracing';
import { ConfigError, loadConfig, type Config } from './config';
import { DatabaseStartError } from './infra/database';
import { createLogger, type Logger } from './infra/logger';
import { describeRedisTarget } from './infra/redis-connection';
import { redactUrl } from './lib/redact-url';
import { stopTracing } from './infra/tracing';
import { lowerThreadPoolPriority } from './lib/thread-pool-priority';
import { createWarden, type Warden } from './bootstrap';

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

  let warden: Warden;
  try {
    warden = await createWarden(config, { logger });
  } catch (error) {
    const message = error instanceof DatabaseStartError ? error.message : `Warden could not start: ${(error as Error).message}`;
    logger.fatal({ err: error }, message);
    console.error(message);
    process.exit(1);
  }

  const { port } = await warden.listen();
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  logger.info(
    {
      database: config.databaseUrl ? redactUrl(config.databaseUrl) : `embedded PGlite in ${config.dataDir}`,
      store: config.redis ? describeRedisTarget(config.redis) : 'in-process',
    },
    `Warden is ready at http://${shownHost}:${port}/graphql`,
  );

  installShutdown(warden, config, logger);
}

// Not close-with-grace: it exits 1 at a second signal, and `npm start` delivers Ctrl-C twice (the
// terminal's SIGINT and the one npm forwards), which would cut the drain short.
function installShutdown(warden: Warden, config: Config, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('shutdown timed out; closing the remaining connections');
      warden.app.fastify.server.closeAllConnections();
      setTimeout(() => process.exit(0), 1_000).unref();
    }, config.shutdownTimeoutMs);
    force.unref();
    warden
      .close()
      // The last spans (this shutdown's requests among them) are flushed before the process ends.
      .then(() => stopTracing().catch((error) => logger.warn({ err: error }, 'could not flush the last traces')))
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
