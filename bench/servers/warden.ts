/** Warden as `npm start` runs it, configured from the environment the runner passes. */
// First, as in main.ts: starts OpenTelemetry when the runner passes OTEL_TRACES_EXPORTER
// (BENCH_TRACING=1), before the modules its instrumentations patch are loaded; nothing otherwise.
import '../../src/infra/start-tracing';
import { stopTracing } from '../../src/infra/tracing';
import { loadConfig } from '../../src/config';
import { createWarden } from '../../src/bootstrap';
import { lowerThreadPoolPriority } from '../../src/lib/thread-pool-priority';
import { announce } from '../lib/child';

async function main(): Promise<void> {
  // As main.ts does, first of all (BENCH_POOL_PRIORITY=normal leaves it out, to compare).
  if (process.env.BENCH_POOL_PRIORITY !== 'normal') await lowerThreadPoolPriority();
  const config = loadConfig();
  // Counting statements costs a Prisma query event each, so only the counting runs turn it on.
  let queries = 0;
  const onQuery = process.env.BENCH_COUNT_QUERIES === '1' ? () => void queries++ : undefined;
  const warden = await createWarden(config, { databaseOptions: { onQuery } });
  const { port } = await warden.listen({ port: 0, host: '127.0.0.1' });
  announce(`http://127.0.0.1:${port}/graphql`, onQuery && (() => queries));
  process.on(
    'SIGTERM',
    () =>
      void warden
        .close()
        .then(stopTracing)
        .then(() => process.exit(0)),
  );
}

void main();
