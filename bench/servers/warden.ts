/** Warden as `npm start` runs it, configured from the environment the runner passes. */
import { loadConfig } from '../../src/config';
import { buildApp } from '../../src/app';
import { openDatabase } from '../../src/infra/database';
import { createLogger } from '../../src/infra/logger';
import { createMailer } from '../../src/infra/mailer';
import { Metrics } from '../../src/infra/metrics';
import { openStore } from '../../src/infra/store';
import { systemClock } from '../../src/lib/clock';
import { lowerThreadPoolPriority } from '../../src/lib/thread-pool-priority';
import { announce } from '../lib/child';

async function main(): Promise<void> {
  // As main.ts does, first of all (BENCH_POOL_PRIORITY=normal leaves it out, to compare).
  if (process.env.BENCH_POOL_PRIORITY !== 'normal') await lowerThreadPoolPriority();
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  // Counting statements costs a Prisma query event each, so only the counting runs turn it on.
  let queries = 0;
  const onQuery = process.env.BENCH_COUNT_QUERIES === '1' ? () => void queries++ : undefined;
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger, onQuery });
  const store = await openStore(config.redisUrl, logger);
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, dataDir: config.dataDir, logger });
  const app = await buildApp({ config, database, store, mailer, metrics: new Metrics(), logger, clock: systemClock });
  await app.fastify.listen({ port: 0, host: '127.0.0.1' });
  const address = app.fastify.server.address();
  announce(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/graphql`, onQuery && (() => queries));
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
