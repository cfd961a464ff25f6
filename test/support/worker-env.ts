/**
 * jest setupFile: in a PostgreSQL + Redis run with more than one worker, points this worker's
 * DATABASE_URL and REDIS_URL at the services globalSetup made for it (worker-services.ts) before
 * any test file reads them. Worker 1, and every in-band run, keeps the environment as given.
 */
export const WORKER_SERVICES_ENV = 'WARDEN_TEST_WORKER_SERVICES';

export type WorkerServices = Record<string, { DATABASE_URL: string; REDIS_URL: string }>;

const mine = (JSON.parse(process.env[WORKER_SERVICES_ENV] ?? '{}') as WorkerServices)[process.env.JEST_WORKER_ID ?? '1'];
if (mine) Object.assign(process.env, mine);
