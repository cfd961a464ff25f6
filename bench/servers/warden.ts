/** Warden as `npm start` runs it, configured from the environment the runner passes. */
// First, as in main.ts: starts OpenTelemetry when the runner passes OTEL_TRACES_EXPORTER
// (BENCH_TRACING=1), before the modules its instrumentations patch are loaded; nothing otherwise.
import '../../src/infra/start-tracing';
import { appendFileSync } from 'node:fs';
import { stopTracing } from '../../src/infra/tracing';
import { loadConfig } from '../../src/config';
import { createWarden } from '../../src/bootstrap';
import { lowerThreadPoolPriority } from '../../src/lib/thread-pool-priority';
import { announce } from '../lib/child';

async function main(): Promise<void> {
  // As main.ts does, first of all (BENCH_POOL_PRIORITY=normal leaves it out, to compare).
  if (process.env.BENCH_POOL_PRIORITY !== 'normal') await lowerThreadPoolPriority();
  // The embedded mode cannot run as NODE_ENV=production (production refuses the in-process
  // store), so the runner starts it as NODE_ENV=benchmark and this takes every code path
  // production takes: buildApp() and the services read the mode only from these two flags.
  const loaded = loadConfig();
  const config = loaded.nodeEnv === 'benchmark' ? { ...loaded, isProduction: true, isDevelopment: false, cookieSecure: true } : loaded;
  // Counting statements costs a Prisma query event each, so only the counting runs turn it on.
  // BENCH_LOG_QUERIES=<file>: each statement's text and parameters, one JSON line each, so the
  // data-growth run can EXPLAIN what a request sent.
  let queries = 0;
  const queryLog = process.env.BENCH_LOG_QUERIES;
  const onQuery =
    process.env.BENCH_COUNT_QUERIES === '1' || queryLog
      ? (event: { query: string; params: string }) => {
          queries++;
          if (queryLog) appendFileSync(queryLog, JSON.stringify({ query: event.query, params: event.params }) + '\n');
        }
      : undefined;
  // BENCH_EXECUTION=graphql-js: the interpreter instead of the compiled executor, to compare.
  const execution = process.env.BENCH_EXECUTION === 'graphql-js' ? 'graphql-js' : undefined;
  const warden = await createWarden(config, { databaseOptions: { onQuery }, ...(execution ? { execution } : {}) });
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
