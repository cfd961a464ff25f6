/**
 * Applies Prisma migrations at start-up without the schema-engine binary.
 *
 * `prisma migrate` needs a native schema-engine that cannot always be downloaded. The same engine
 * ships as WebAssembly (schema-engine.ts) and talks to the database through a driver adapter
 * (migration-adapters.ts), so migrations are applied here with it, against PGlite or PostgreSQL.
 * Everything stays in Prisma's own format — `prisma/migrations/<timestamp>_<name>/migration.sql`,
 * `migration_lock.toml` and the `_prisma_migrations` table (written by the engine itself) — so
 * `prisma migrate deploy` keeps working wherever the binary exists. Creating and diffing
 * migrations is development tooling, in scripts/migration-tooling.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { MigrationTarget } from './migration-adapters';
import { NO_FILTERS, oneLine, withEngine, type MigrationList, type SchemaContainer } from './schema-engine';
import pg from 'pg';
import { MIGRATION_GUARDS, type GuardQuery } from './migration-guards';

export type { MigrationTarget } from './migration-adapters';

export interface MigrationOptions {
  /** Defaults to `<repo>/prisma/migrations`. */
  migrationsDir?: string;
}

/** A migration could not be applied (or an earlier one is recorded as failed). One-line message. */
export class MigrationError extends Error {
  override name = 'MigrationError';
  /** The migration that failed, when known. */
  readonly migrationName: string | undefined;

  constructor(message: string, options: { migrationName?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.migrationName = options.migrationName;
  }
}

// ---------------------------------------------------------------------------------------------
// Paths

let cachedRoot: string | undefined;

/** The directory holding package.json, found by walking up from this file (src/ or dist/src/). */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return (cachedRoot = dir);
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
}

export const defaultMigrationsDir = (): string => path.join(repoRoot(), 'prisma', 'migrations');
export const defaultSchemaPath = (): string => path.join(repoRoot(), 'prisma', 'schema.prisma');

export const LOCKFILE_NAME = 'migration_lock.toml';
export const MIGRATION_FILE = 'migration.sql';
// ---------------------------------------------------------------------------------------------
// Public API

/** Applies pending migrations from prisma/migrations; returns the names applied (none → []). */
export async function applyMigrations(target: MigrationTarget, opts: MigrationOptions = {}): Promise<string[]> {
  try {
    const migrationsList = await readMigrationsList(opts.migrationsDir ?? defaultMigrationsDir());
    // The datamodel is optional here (the engine only reads datasource settings from it), so a
    // deployment that ships prisma/migrations without schema.prisma still migrates.
    const schema = existsSync(defaultSchemaPath()) ? readSchema({}) : undefined;
    await checkGuards(target, migrationsList);
    return await withEngine(target, schema, async (engine) => {
      const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: NO_FILTERS });
      return appliedMigrationNames;
    });
  } catch (error) {
    throw toMigrationError(error);
  }
}

/**
 * Runs the guard of every listed migration (src/infra/migration-guards.ts) before anything is
 * applied; the first refusal is thrown as it is.
 * @throws MigrationError
 */
async function checkGuards(target: MigrationTarget, list: MigrationList): Promise<void> {
  const listed = new Set(list.migrationDirectories.map((entry) => entry.path));
  const guards = MIGRATION_GUARDS.filter((guard) => listed.has(guard.migration));
  if (guards.length === 0) return;
  let client: pg.Client | null = null;
  const query: GuardQuery = async <T>(sql: string): Promise<T[]> => {
    if (target.kind === 'pglite') return (await target.client.query<T>(sql)).rows;
    if (!client) {
      client = new pg.Client({ connectionString: target.url, connectionTimeoutMillis: 10_000 });
      client.on('error', () => undefined); // surfaces on the next query instead
      await client.connect();
    }
    return (await client.query(sql)).rows as T[];
  };
  try {
    for (const guard of guards) {
      const refusal = await guard.refusal(query);
      if (refusal) throw new MigrationError(refusal, { migrationName: guard.migration });
    }
  } finally {
    await (client as pg.Client | null)?.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs, the way prisma's CLI builds them

/** prisma/migrations as the engine takes it: the lock file and every `<name>/migration.sql`, sorted. */
export async function readMigrationsList(baseDir: string): Promise<MigrationList> {
  const content = await readFile(path.join(baseDir, LOCKFILE_NAME), 'utf8').catch(() => null);
  const lockfile = { path: LOCKFILE_NAME, content };
  const entries = await readdir(baseDir, { withFileTypes: true }).catch(() => []);
  const migrationDirectories = [];
  for (const entry of entries.filter((e) => e.isDirectory())) {
    const file = path.join(baseDir, entry.name, MIGRATION_FILE);
    const script = await readFile(file, 'utf8').then(
      (value) => ({ tag: 'ok' as const, value }),
      (error: Error) => ({ tag: 'error' as const, value: error.message }),
    );
    migrationDirectories.push({ path: entry.name, migrationFile: { path: MIGRATION_FILE, content: script } });
  }
  migrationDirectories.sort((a, b) => a.path.localeCompare(b.path));
  return { baseDir, lockfile, migrationDirectories, shadowDbInitScript: '' };
}

export function readSchema(opts: { schemaPath?: string; datamodel?: string }): SchemaContainer {
  const schemaPath = opts.schemaPath ?? defaultSchemaPath();
  return { path: schemaPath, content: opts.datamodel ?? readFileSync(schemaPath, 'utf8') };
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Turns the engine's multi-line report (with a Rust span trace) into one line naming the migration. */
function toMigrationError(error: unknown): MigrationError {
  if (error instanceof MigrationError) return error;
  const text = error instanceof Error ? error.message : String(error);
  const previouslyFailed = /The `([^`]+)` migration started at [^\n]* failed/.exec(text);
  if (previouslyFailed) {
    const migrationName = previouslyFailed[1];
    return new MigrationError(
      `Migration ${migrationName} failed earlier and is still recorded as failed in _prisma_migrations; ` +
        'fix the database, then mark it rolled back or applied (https://pris.ly/d/migrate-resolve)',
      { migrationName, cause: error },
    );
  }
  const migrationName = /migration_name="([^"]+)"/.exec(text)?.[1] ?? /Migration name: (\S+)/.exec(text)?.[1];
  const message = migrationName ? `Migration ${migrationName} failed: ${oneLine(error)}` : `Applying migrations failed: ${oneLine(error)}`;
  return new MigrationError(message, { migrationName, cause: error });
}
