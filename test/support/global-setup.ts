/**
 * jest globalSetup: migrate once, so test files start from a copy instead of replaying migrations.
 *
 * - PGlite: migrates an in-memory PGlite and writes its data-dir dump to os.tmpdir(); workers
 *   load it through `freshPGlite()` (path in WARDEN_TEST_PGLITE_TEMPLATE). The file is named
 *   after a fingerprint of the migrations, so later runs reuse it until a migration changes.
 * - DATABASE_URL set: applies pending migrations to that database (tests use it directly) and
 *   drops template databases left by older migration sets; with more than one worker, makes each
 *   further worker's own database and Redis (worker-services.ts).
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { applyMigrations } from '../../src/infra/migrate';
import { migrationsFingerprint, PG_TEMPLATE_PREFIX, PGLITE_TEMPLATE_ENV, withClient } from './db-template';
import { launchSharedBrowser } from '../browser/browser';
import { startWorkerServices } from './worker-services';

/** What globalTeardown stops (jest runs both in one process). */
export const stopAfterRun: Array<() => Promise<void>> = [];

const PGLITE_DUMP_PREFIX = 'warden-pglite-template-';

export default async function globalSetup(globalConfig?: { testPathPattern?: string; maxWorkers?: number }): Promise<void> {
  process.env[PGLITE_TEMPLATE_ENV] = await pgliteTemplate();
  const url = process.env.DATABASE_URL;
  if (url) {
    await applyMigrations({ kind: 'postgres', url });
    await dropStaleTemplates(url);
    // More than one worker: each beyond the first gets a database and a Redis of its own.
    // (In band, every file runs in worker 1 whatever maxWorkers says: nothing to make.)
    const inBand = process.argv.includes('--runInBand') || process.argv.includes('-i');
    stopAfterRun.push(await startWorkerServices(inBand ? 1 : (globalConfig?.maxWorkers ?? 1)));
    // One Chromium for all of test/browser (a PostgreSQL + Redis pass suite), when the run includes it.
    const pattern = globalConfig?.testPathPattern ?? '';
    if (process.env.REDIS_URL && (pattern === '' || pattern.includes('browser'))) await launchSharedBrowser();
  }
}

async function pgliteTemplate(): Promise<string> {
  const fingerprint = migrationsFingerprint();
  const name = `${PGLITE_DUMP_PREFIX}${fingerprint.slice(0, 16)}.tar.gz`;
  const file = path.join(tmpdir(), name);
  removeOldDumps(name);
  if (existsSync(file)) return file;
  const client = await PGlite.create();
  try {
    await applyMigrations({ kind: 'pglite', client });
    const dump = await client.dumpDataDir('gzip');
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file); // atomic: a concurrent run never reads half a file
  } finally {
    await client.close();
  }
  return file;
}

/** Dumps for other migration sets, untouched for a day (another checkout may still use a newer one). */
function removeOldDumps(current: string): void {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(PGLITE_DUMP_PREFIX) || entry === current) continue;
    const file = path.join(tmpdir(), entry);
    try {
      if (statSync(file).mtimeMs < dayAgo) rmSync(file, { force: true });
    } catch {
      // raced with another run: fine
    }
  }
}

async function dropStaleTemplates(url: string): Promise<void> {
  const current = `${PG_TEMPLATE_PREFIX}${migrationsFingerprint().slice(0, 16)}`;
  await withClient(url, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      // Not the current template, nor one being built for it (`<current>_<random>`).
      'SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname NOT LIKE $2',
      [`${PG_TEMPLATE_PREFIX.replace(/_/g, '\\_')}%`, `${current.replace(/_/g, '\\_')}%`],
    );
    for (const { datname } of rows) {
      // Without FORCE: a template some other run is copying right now is left alone.
      await client.query(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => undefined);
    }
  });
}
