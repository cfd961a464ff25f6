/**
 * Migrations vs schema.prisma, on a fresh in-memory PGlite and (when DATABASE_URL is set) on a
 * fresh PostgreSQL database: everything applies, nothing drifts, a second run is a no-op, failures
 * are reported per migration, and `createMigration` writes what the diff says.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { applyMigrations, defaultMigrationsDir, defaultSchemaPath, MigrationError, type MigrationTarget } from '../../src/infra/migrate';
import { createMigration, diffMigrationsToSchema } from '../../scripts/migration-tooling';
import { createTestDatabase, freshPGlite, withClient, withDatabase } from '../support/db-template';
import { describeInEmbeddedPass, describeUnless } from '../kit';

jest.setTimeout(60_000);

const migrationsDir = defaultMigrationsDir();
const migrationNames = readdirSync(migrationsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const schema = readFileSync(defaultSchemaPath(), 'utf8');
/** schema.prisma with one more column on User: migrations no longer cover it. */
const alteredSchema = schema.replace(/^(\s*bio\s+String)$/m, '$1\n  nickname      String?');

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A copy of prisma/migrations plus extra migrations, in a temp dir. */
function migrationsCopy(extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-migrations-'));
  tempDirs.push(dir);
  cpSync(migrationsDir, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

const brokenMigration = '99999999999999_broken';
const brokenSql = 'CREATE TABLE "Partial" (id integer);\nSELECT * FROM "DoesNotExist";\n';

interface Db {
  target: MigrationTarget;
  query(sql: string): Promise<Array<Record<string, unknown>>>;
}

/** The same checks against any target; `open` gives an empty database. */
function migrationSuite(open: () => Promise<Db>): void {
  let db: Db;
  beforeAll(async () => {
    db = await open();
  });

  test('the altered datamodel really differs (guards the drift assertion below)', () => {
    expect(alteredSchema).not.toBe(schema);
  });

  test('applies every migration to an empty database', async () => {
    expect(migrationNames.length).toBeGreaterThan(0);
    expect(await applyMigrations(db.target)).toEqual(migrationNames);
  });

  test('no drift: the applied migrations produce exactly schema.prisma', async () => {
    expect(await diffMigrationsToSchema(db.target)).toBe('');
  });

  test('drift is detected: a datamodel with an extra column yields SQL', async () => {
    const sql = await diffMigrationsToSchema(db.target, { datamodel: alteredSchema });
    expect(sql).toMatch(/ALTER TABLE "User" ADD COLUMN\s+"nickname" TEXT;/);
  });

  test('no drift when replaying the migration files on a shadow database either', async () => {
    expect(await diffMigrationsToSchema(db.target, { from: 'migrations' })).toBe('');
    expect(await diffMigrationsToSchema(db.target, { from: 'migrations', datamodel: alteredSchema })).toContain('"nickname"');
  });

  test('applying twice applies nothing the second time', async () => {
    expect(await applyMigrations(db.target)).toEqual([]);
  });

  test('_prisma_migrations is kept as Prisma keeps it', async () => {
    const rows = await db.query(
      'SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
    );
    expect(rows.map((row) => row.migration_name)).toEqual(migrationNames);
    for (const row of rows) {
      const sql = readFileSync(path.join(migrationsDir, String(row.migration_name), 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.finished_at).not.toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  test('a failing migration: one-line MigrationError naming it, nothing half-applied, still failed next time', async () => {
    const dir = migrationsCopy({ [brokenMigration]: brokenSql });
    const first = await applyMigrations(db.target, { migrationsDir: dir }).catch((error: unknown) => error);
    expect(first).toBeInstanceOf(MigrationError);
    expect((first as MigrationError).migrationName).toBe(brokenMigration);
    expect((first as Error).message).toContain(brokenMigration);
    expect((first as Error).message).toMatch(/DoesNotExist/);
    expect((first as Error).message).not.toContain('\n');
    // The script runs as one implicit transaction, as with the native engine.
    expect(await db.query(`SELECT to_regclass('"Partial"')::text AS t`)).toEqual([{ t: null }]);

    const again = await applyMigrations(db.target, { migrationsDir: dir }).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(MigrationError);
    expect((again as MigrationError).migrationName).toBe(brokenMigration);
    expect((again as Error).message).not.toContain('\n');
  });
}

describeInEmbeddedPass('migrations on a fresh in-memory PGlite', () => {
  let client: PGlite | undefined;
  afterAll(async () => {
    await client?.close();
  });
  migrationSuite(async () => {
    client = await PGlite.create();
    const pglite = client;
    return { target: { kind: 'pglite', client: pglite }, query: async (sql) => (await pglite.query<Record<string, unknown>>(sql)).rows };
  });
});

describeInEmbeddedPass('the test template (freshPGlite)', () => {
  test('is fully migrated and matches schema.prisma', async () => {
    const client = await freshPGlite();
    try {
      expect(await applyMigrations({ kind: 'pglite', client })).toEqual([]);
      expect(await diffMigrationsToSchema({ kind: 'pglite', client })).toBe('');
    } finally {
      await client.close();
    }
  });
});

describeInEmbeddedPass('createMigration', () => {
  test('writes <timestamp>_<name>/migration.sql with the diff, and nothing when up to date', async () => {
    const dir = migrationsCopy();
    expect(await createMigration('unchanged', { migrationsDir: dir })).toBeNull();

    const now = new Date(Date.UTC(2099, 0, 2, 3, 4, 5));
    const created = await createMigration('Add nickname', { migrationsDir: dir, datamodel: alteredSchema, now });
    expect(created?.name).toBe('20990102030405_add_nickname');
    const sql = readFileSync(path.join(dir, '20990102030405_add_nickname', 'migration.sql'), 'utf8');
    expect(sql).toBe(created?.sql);
    expect(sql).toMatch(/^-- AlterTable\nALTER TABLE "User" ADD COLUMN\s+"nickname" TEXT;\n$/);
    expect(readFileSync(path.join(dir, 'migration_lock.toml'), 'utf8')).toMatch(/^provider = "postgresql"$/m);
    expect(existsSync(path.join(dir, '20990102030405_add_nickname'))).toBe(true);
  });
});

const databaseUrl = process.env.DATABASE_URL;

// PGlite's and createMigration's tests do not depend on the pass: the embedded pass runs them.
// PostgreSQL's need DATABASE_URL's server: the PostgreSQL + Redis pass.
describeUnless(
  databaseUrl ? null : 'skipped: needs DATABASE_URL (the PostgreSQL + Redis pass)',
  'migrations on a fresh PostgreSQL database',
  () => {
    const database = `warden_migtest_${randomBytes(6).toString('hex')}`;
    const url = databaseUrl ? withDatabase(databaseUrl, database) : '';
    afterAll(async () => {
      if (!databaseUrl) return;
      await withClient(databaseUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
    });

    migrationSuite(async () => {
      await withClient(databaseUrl!, (client) => client.query(`CREATE DATABASE "${database}"`));
      return {
        target: { kind: 'postgres', url },
        query: (sql) => withClient(url, async (client) => (await client.query(sql)).rows),
      };
    });

    test('leaves no shadow databases behind', async () => {
      const rows = await withClient(
        databaseUrl!,
        async (client) =>
          (await client.query("SELECT datname FROM pg_database WHERE datname LIKE 'prisma\\_migrate\\_shadow\\_db\\_%'")).rows,
      );
      expect(rows).toEqual([]);
    });

    test('createTestDatabase gives a migrated database and drops it', async () => {
      const testDb = await createTestDatabase();
      try {
        expect(await applyMigrations({ kind: 'postgres', url: testDb.url })).toEqual([]);
        expect(await diffMigrationsToSchema({ kind: 'postgres', url: testDb.url })).toBe('');
      } finally {
        await testDb.drop();
      }
      const name = new URL(testDb.url).pathname.slice(1);
      const rows = await withClient(
        databaseUrl!,
        async (client) => (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rows,
      );
      expect(rows).toEqual([]);
    });
  },
);
