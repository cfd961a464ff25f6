/**
 * The Prisma client over a driver adapter: @prisma/adapter-pg for DATABASE_URL, else an embedded
 * PostgreSQL (PGlite) kept under DATA_DIR. Pending migrations are applied before it is handed out.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Logger } from 'pino';
import { PrismaClient, type Prisma } from '../generated/prisma/client';
import { applyMigrations, type MigrationTarget } from './migrate';
import { inSpan } from './tracing';
import { redactUrl } from '../lib/redact-url';
import { withTimeout } from '../lib/timeout';

export type { PrismaClient };

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly prisma: PrismaClient;
  /** The same connections without Prisma's client in between: for the few statements on the hottest paths. */
  readonly sql: SqlRunner;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgresql://… ; unset → embedded PGlite. */
  url?: string;
  /** Where PGlite keeps its files; ignored with `url` or `pglite`. */
  dataDir?: string;
  /** An already open PGlite (tests pass an in-memory one). */
  pglite?: PGlite;
  /** Close the passed-in PGlite with the database (default: only one opened here). */
  ownsPGlite?: boolean;
  /** Apply pending migrations first (the default). */
  migrate?: boolean;
  logger: Logger;
  /**
   * Called after each SQL statement Prisma sends (tests count them to prove reads are batched).
   * Unset, Prisma is built without query events, so it costs nothing.
   */
  onQuery?: (event: Prisma.QueryEvent) => void;
}

/**
 * Runs one statement built with `Prisma.sql` on the database's own driver (pg's pool, or PGlite),
 * bypassing the Prisma client's query interpreter: rows come back as the driver returns them
 * (timestamps as Dates, bytea as bytes). For statements on the hottest paths only; everything
 * else goes through `prisma`. `onQuery` sees these statements as it sees Prisma's.
 */
export interface SqlRunner {
  query<T>(statement: Prisma.Sql): Promise<T[]>;
}

export class DatabaseStartError extends Error {
  override name = 'DatabaseStartError';
}

const CONNECT_TIMEOUT_MS = 12_000;

/**
 * Opens the database and applies pending migrations.
 * @throws DatabaseStartError when the server cannot be reached within ~12s or a migration fails.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) return openPostgres(options.url, options);
  return openPGlite(options);
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<Database> {
  const where = redactUrl(url);
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 5_000, max: 10 });
  // Every connection always has an error listener. The pool listens only while a connection is
  // idle or runs pool.query, and the adapter only once its await for a transaction's connection
  // has resumed; a connection that PostgreSQL terminates (a restart, a failover) in such a gap —
  // the termination can arrive in the same read as the previous query's last answer — would
  // emit 'error' to no listener, which throws and ends the process. Handled here, the connection
  // is just marked broken: its next query fails (masked) and the pool replaces it.
  pool.on('connect', (client) => {
    client.on('error', (error) => options.logger.debug({ err: error }, 'database connection error'));
  });
  // The same for the pool, which re-emits an idle connection's error: the adapter's own listener
  // comes and goes with Prisma's connect and disconnect, this one stays for the pool's life.
  let lastError = '';
  pool.on('error', (error) => {
    if (error.message !== lastError) options.logger.warn({ err: error }, 'database connection lost; the pool reconnects');
    lastError = error.message;
  });
  const adapter = new PrismaPg(pool as unknown as ConstructorParameters<typeof PrismaPg>[0]);
  const prisma = createClient(adapter, options.onQuery);
  const database: Database = {
    kind: 'postgres',
    prisma,
    // pg sends a Uint8Array (a salt) as bytea itself, and parses timestamptz into Dates.
    sql: sqlRunner(async (text, values) => (await pool.query(text, values)).rows, options.onQuery),
    ping: async () => {
      await withTimeout(prisma.$queryRawUnsafe('SELECT 1'), 3_000, 'database ping timed out');
      lastError = '';
    },
    close: async () => {
      await prisma.$disconnect();
      if (!pool.ended) await pool.end();
    },
  };
  try {
    await withTimeout(database.ping(), CONNECT_TIMEOUT_MS, 'timed out');
  } catch (error) {
    await database.close().catch(() => undefined);
    throw new DatabaseStartError(`Cannot reach PostgreSQL at ${where}: ${(error as Error).message}`);
  }
  if (options.migrate !== false) {
    try {
      await runMigrations({ kind: 'postgres', url }, options.logger, where);
    } catch (error) {
      await database.close().catch(() => undefined);
      throw error;
    }
  }
  return database;
}

async function openPGlite(options: OpenDatabaseOptions): Promise<Database> {
  let client = options.pglite;
  const owned = !client || options.ownsPGlite === true;
  if (!client) {
    const dir = path.join(options.dataDir ?? '.data', 'pglite');
    mkdirSync(dir, { recursive: true });
    client = await PGlite.create(dir);
  }
  if (options.migrate !== false) {
    await runMigrations({ kind: 'pglite', client }, options.logger, 'the embedded database');
  }
  const prisma = createClient(new PrismaPGlite(client), options.onQuery);
  const pglite = client;
  return {
    kind: 'pglite',
    prisma,
    sql: sqlRunner(async (text, values) => (await pglite.query(text, values)).rows, options.onQuery),
    ping: async () => {
      await pglite.query('SELECT 1');
    },
    close: async () => {
      await prisma.$disconnect();
      if (owned) await pglite.close();
    },
  };
}

function sqlRunner(send: (text: string, values: unknown[]) => Promise<unknown[]>, onQuery: OpenDatabaseOptions['onQuery']): SqlRunner {
  // With tracing on, each statement is a client span as Prisma's are: its SQL with `$1`-style
  // placeholders, never the values (docs/tracing.md). Off, inSpan is the call alone.
  const run = (text: string, values: unknown[]) =>
    inSpan('warden:db_query', { 'db.system.name': 'postgresql', 'db.query.text': text }, () => send(text, values), 'client');
  if (!onQuery) return { query: (statement) => run(statement.text, statement.values) as never };
  return {
    async query<T>(statement: Prisma.Sql): Promise<T[]> {
      const started = Date.now();
      try {
        return (await run(statement.text, statement.values)) as T[];
      } finally {
        onQuery({
          timestamp: new Date(started),
          query: statement.text,
          params: JSON.stringify(statement.values),
          duration: Date.now() - started,
          target: 'warden.sql',
        });
      }
    },
  };
}

function createClient(adapter: PrismaPg | PrismaPGlite, onQuery: OpenDatabaseOptions['onQuery']): PrismaClient {
  if (!onQuery) return new PrismaClient({ adapter });
  const prisma = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  prisma.$on('query', onQuery);
  return prisma;
}

async function runMigrations(target: MigrationTarget, logger: Logger, where: string): Promise<void> {
  try {
    const applied = await withTimeout(applyMigrations(target), 60_000, 'migrations did not finish within 60s');
    if (applied.length > 0) logger.info({ applied }, 'applied database migrations');
  } catch (error) {
    const message = (error as Error).message;
    throw new DatabaseStartError(`Cannot migrate ${where}: ${message}`);
  }
}
