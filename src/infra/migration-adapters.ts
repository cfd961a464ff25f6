/**
 * The driver adapters the schema engine migrates through, PGlite or PostgreSQL, and the quirks
 * corrected on them (see `fixExecuteScript` and `fixCharColumns`):
 * - pglite-prisma-adapter 0.7.2 does not await `executeScript`: a failing migration would be
 *   recorded as applied and its error surface as an unhandled rejection.
 * - @prisma/adapter-pg splits scripts on every `;` and runs the pieces one by one on a pool, which
 *   breaks `$$ … ; … $$` bodies and loses atomicity. The native engine sends the whole script as
 *   one simple query (one implicit transaction); so do we, on both targets.
 * - @prisma/adapter-pg cannot type PostgreSQL's internal `"char"` columns.
 */
import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  DriverAdapterError,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';

export type MigrationTarget = { kind: 'pglite'; client: PGlite } | { kind: 'postgres'; url: string };

export interface OpenTarget {
  factory: ReturnType<typeof bindMigrationAwareSqlAdapterFactory>;
  close(): Promise<void>;
}

/** Driver-adapter factories for the engine on `target`, with the fixes above; close() ends what they opened. */
export function openTarget(target: MigrationTarget): OpenTarget {
  const cleanups: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  let raw: SqlMigrationAwareDriverAdapterFactory;
  if (target.kind === 'pglite') {
    const main = new PrismaPGlite(target.client);
    raw = {
      provider: main.provider,
      adapterName: main.adapterName,
      connect: async () => fixExecuteScript(await main.connect(), (script) => target.client.exec(script)),
      connectToShadowDb: async () => {
        const shadow = new PGlite();
        const closeShadow = once(() => shadow.close());
        cleanups.push(closeShadow);
        const adapter = fixExecuteScript(await new PrismaPGlite(shadow).connect(), (script) => shadow.exec(script));
        return onDispose(adapter, closeShadow);
      },
    };
  } else {
    // idleTimeoutMillis 0: the engine holds Prisma's advisory lock on one pooled connection while
    // it runs scripts on another; the pool must not close it as idle mid-run. Ended by close().
    const poolOptions = { max: 4, idleTimeoutMillis: 0, connectionTimeoutMillis: 10_000 };
    const pool = new pg.Pool({ ...poolOptions, connectionString: target.url });
    pool.on('error', () => undefined); // idle client errors surface on the next query instead
    cleanups.push(() => pool.end());
    const main = new PrismaPg(pool as unknown as PgPoolForAdapter);
    raw = {
      provider: main.provider,
      adapterName: main.adapterName,
      connect: async () => fixCharColumns(fixExecuteScript(await main.connect(), (script) => simpleQuery(pool, script))),
      // Not PrismaPg#connectToShadowDb: its shadow pool keeps the connectionString, which wins
      // over the `database` it sets, so the "shadow" would be the main database.
      connectToShadowDb: async () => {
        const database = `prisma_migrate_shadow_db_${randomUUID()}`;
        await pool.query(`CREATE DATABASE "${database}"`);
        const url = new URL(target.url);
        url.pathname = `/${database}`;
        const shadowPool = new pg.Pool({ ...poolOptions, connectionString: url.toString() });
        shadowPool.on('error', () => undefined);
        const drop = once(async () => {
          await shadowPool.end();
          await pool.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
        });
        cleanups.push(drop);
        const adapter = fixCharColumns(
          fixExecuteScript(await new PrismaPg(shadowPool as unknown as PgPoolForAdapter).connect(), (script) =>
            simpleQuery(shadowPool, script),
          ),
        );
        return onDispose(adapter, drop);
      },
    };
  }
  return { factory: bindMigrationAwareSqlAdapterFactory(raw), close };
}

/** @prisma/adapter-pg bundles its own @types/pg; the runtime Pool class is the same. */
type PgPoolForAdapter = ConstructorParameters<typeof PrismaPg>[0];

/** Runs a whole script as one simple query on one connection: one implicit transaction. */
async function simpleQuery(pool: pg.Pool, script: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(script);
  } finally {
    client.release();
  }
}

function fixExecuteScript(adapter: SqlDriverAdapter, exec: (script: string) => Promise<unknown>): SqlDriverAdapter {
  adapter.executeScript = async (script: string) => {
    try {
      await exec(script);
    } catch (error) {
      throw toDriverAdapterError(error);
    }
  };
  return adapter;
}

type SqlQueryable = Pick<SqlDriverAdapter, 'queryRaw'>;
type PgQueryableInternals = SqlQueryable & {
  performIO: (query: unknown) => Promise<{ fields: Array<{ dataTypeID: number }> }>;
};
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

/**
 * @prisma/adapter-pg has no column type for PostgreSQL's internal `"char"` (pg_constraint.contype,
 * pg_class.relkind…), so every schema description the engine runs fails with "Column type 'char'
 * could not be deserialized". Report such columns as Character, as pglite-prisma-adapter does.
 */
function fixCharColumns<T extends SqlQueryable>(queryable: T): T {
  const internals = queryable as unknown as PgQueryableInternals;
  const performIO = internals.performIO;
  const queryRaw = internals.queryRaw;
  if (typeof performIO !== 'function') return queryable; // adapter internals changed: leave it be
  internals.queryRaw = async (query) => {
    const charColumns: number[] = [];
    // A per-call `this` whose performIO maps "char" to text before the adapter types the columns.
    const self = Object.create(internals, {
      performIO: {
        value: async (q: unknown) => {
          const result = await performIO.call(internals, q);
          const fields = result.fields.map((field, i) => {
            if (field.dataTypeID !== PG_CHAR_OID) return field;
            charColumns.push(i);
            return { ...field, dataTypeID: PG_TEXT_OID };
          });
          return { ...result, fields };
        },
      },
    }) as PgQueryableInternals;
    const result = await queryRaw.call(self, query);
    for (const i of charColumns) result.columnTypes[i] = ColumnTypeEnum.Character;
    return result;
  };
  const adapter = queryable as unknown as Partial<SqlDriverAdapter>;
  if (typeof adapter.startTransaction === 'function') {
    const startTransaction = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (...args) => fixCharColumns(await startTransaction(...args));
  }
  return queryable;
}

function onDispose(adapter: SqlDriverAdapter, after: () => Promise<void>): SqlDriverAdapter {
  const dispose = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    try {
      await dispose();
    } finally {
      await after();
    }
  };
  return adapter;
}

/** Keeps PostgreSQL's own message (e.g. `relation "x" does not exist`) rather than a paraphrase. */
function toDriverAdapterError(error: unknown): unknown {
  const e = error as { code?: unknown; severity?: unknown; message?: unknown; detail?: unknown; column?: unknown; hint?: unknown };
  if (!(error instanceof Error) || typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code)) return error;
  return new DriverAdapterError({
    kind: 'postgres',
    code: e.code,
    severity: typeof e.severity === 'string' ? e.severity : 'ERROR',
    message: error.message,
    detail: typeof e.detail === 'string' ? e.detail : undefined,
    column: typeof e.column === 'string' ? e.column : undefined,
    hint: typeof e.hint === 'string' ? e.hint : undefined,
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
