/**
 * The PostgreSQL + Redis pass with more than one jest worker (WARDEN_TEST_WORKERS=2): each worker
 * gets services of its own, so no test file sees another's rows, keys, signing keys or broadcast
 * messages (Redis pub/sub channels span its numbered databases, so a database number would not
 * do). Worker 1 uses DATABASE_URL and REDIS_URL as given; each further worker a database of its
 * own on the same PostgreSQL server (`<name>_w<id>`, migrated) and a redis-server of its own
 * (Debian's binary, as the suite's fault tests start). globalSetup makes them (`startWorkerServices`)
 * and publishes them in WARDEN_TEST_WORKER_SERVICES; worker-env.ts, a jest setupFile, points each
 * worker's environment at its own before any test file reads it.
 */
import { applyMigrations } from '../../src/infra/migrate';
import { withClient, withDatabase } from './db-template';
import { RedisServer } from './redis-server';
import { WORKER_SERVICES_ENV, type WorkerServices } from './worker-env';

/** globalSetup: services for workers 2…`workers`; returns what globalTeardown calls. */
export async function startWorkerServices(workers: number): Promise<() => Promise<void>> {
  const databaseUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!databaseUrl || !redisUrl || workers < 2) return async () => undefined;
  const base = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const services: WorkerServices = {};
  const redisServers: RedisServer[] = [];
  const databases: string[] = [];
  const stop = async () => {
    await Promise.allSettled(redisServers.map((server) => server.stop()));
    await withClient(databaseUrl, async (client) => {
      for (const name of databases) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    });
  };
  try {
    for (let id = 2; id <= workers; id++) {
      const name = `${base}_w${id}`;
      await withClient(databaseUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await client.query(`CREATE DATABASE "${name}"`);
      });
      databases.push(name);
      const url = withDatabase(databaseUrl, name);
      await applyMigrations({ kind: 'postgres', url });
      const redis = await RedisServer.start();
      redisServers.push(redis);
      services[id] = { DATABASE_URL: url, REDIS_URL: redis.url };
    }
  } catch (error) {
    await stop();
    throw error;
  }
  process.env[WORKER_SERVICES_ENV] = JSON.stringify(services);
  return stop;
}
