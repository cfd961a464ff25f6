/**
 * Migrated databases for tests, without paying for the migrations each time.
 *
 * - `freshPGlite()`: an in-memory PGlite loaded from the data-dir dump that global-setup made once
 *   (path in WARDEN_TEST_PGLITE_TEMPLATE); migrates a new one from scratch when that is unset.
 * - `createTestDatabase()`: an isolated database on the DATABASE_URL server, copied from a migrated
 *   template database (`CREATE DATABASE … TEMPLATE`), dropped by `drop()`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { applyMigrations, defaultMigrationsDir } from '../../src/infra/migrate';

export const PGLITE_TEMPLATE_ENV = 'WARDEN_TEST_PGLITE_TEMPLATE';
/** Prefix of the migrated template databases on the PostgreSQL server. */
export const PG_TEMPLATE_PREFIX = 'warden_tpl_';

let templateBytes: Buffer | undefined;

/** A migrated, empty, in-memory PGlite. The caller closes it. */
export async function freshPGlite(): Promise<PGlite> {
  const file = process.env[PGLITE_TEMPLATE_ENV];
  if (file) {
    templateBytes ??= readFileSync(file);
    return PGlite.create({ loadDataDir: new Blob([templateBytes]) });
  }
  const client = await PGlite.create();
  try {
    await applyMigrations({ kind: 'pglite', client });
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new, migrated database on the DATABASE_URL server (or `baseUrl`'s); `drop()` removes it. */
export async function createTestDatabase(baseUrl = process.env.DATABASE_URL): Promise<TestDatabase> {
  if (!baseUrl) throw new Error('createTestDatabase() needs DATABASE_URL');
  const template = await ensurePostgresTemplate(baseUrl);
  const name = `warden_test_${randomBytes(6).toString('hex')}`;
  await withClient(baseUrl, async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        return;
      } catch (error) {
        // 55006: "source database is being accessed by other users" — another worker is copying it.
        if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
      }
    }
  });
  let dropped: Promise<void> | undefined;
  return {
    url: withDatabase(baseUrl, name),
    drop: () =>
      (dropped ??= withClient(baseUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      })),
  };
}

/** One template per server (host and port), made at most once per test file. */
const templatePromises = new Map<string, Promise<string>>();

/**
 * Name of the migrated template database for the current migrations, creating it if needed.
 * Safe across jest workers: creation happens under an advisory lock, built under a temporary
 * name and renamed when complete.
 */
export function ensurePostgresTemplate(baseUrl: string): Promise<string> {
  const server = new URL(baseUrl).host;
  const existing = templatePromises.get(server);
  if (existing) return existing;
  const templatePromise = (async () => {
    const name = `${PG_TEMPLATE_PREFIX}${migrationsFingerprint().slice(0, 16)}`;
    await withClient(baseUrl, async (client) => {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', ['warden-test-template']);
      try {
        const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (rowCount) return;
        const building = `${name}_${randomBytes(4).toString('hex')}`;
        await client.query(`CREATE DATABASE "${building}"`);
        try {
          await applyMigrations({ kind: 'postgres', url: withDatabase(baseUrl, building) });
          await client.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
        } catch (error) {
          await client.query(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`).catch(() => undefined);
          throw error;
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['warden-test-template']);
      }
    });
    return name;
  })();
  templatePromises.set(server, templatePromise);
  templatePromise.catch(() => templatePromises.delete(server));
  return templatePromise;
}

/** Changes whenever a migration (or the PGlite version, which fixes the dump format) changes. */
export function migrationsFingerprint(migrationsDir = defaultMigrationsDir()): string {
  const hash = createHash('sha256');
  hash.update(`pglite ${pgliteVersion()}\n`);
  for (const entry of readdirSync(migrationsDir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue;
    hash.update(`${entry.name}\n`);
    hash.update(readFileSync(path.join(migrationsDir, entry.name, 'migration.sql')));
  }
  return hash.digest('hex');
}

function pgliteVersion(): string {
  const pkg = path.join(path.dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

/** `url` with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
