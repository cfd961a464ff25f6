/**
 * What the reliability tests share: two real Warden instances (each with its own connection pool
 * and Redis client) over one PostgreSQL database and one private redis-server, and the checks
 * they all make.
 *
 * PostgreSQL: the server of DATABASE_URL, else of WARDEN_TEST_PG_ADMIN_URL (.ci/run sets it, so
 * these tests run in the embedded pass too). Each test file gets its own database there, copied
 * from the migrated template, so a shared database's other rows never enter the counts.
 * Redis: a private redis-server per test file (test/support/redis-server.ts), never REDIS_URL's,
 * so a test can stop it and no other test sees its counters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { unverifiedFields } from '../../src/lib/refresh-token';
import { createTestDatabase, withClient, type TestDatabase } from '../support/db-template';
import { RedisServer } from '../support/redis-server';
import { freePort } from '../support/ports';
import { gqlAt, postgresServerUrl, PG_SKIP_REASON, sleep, startTestServer, TEST_JWT_SECRET, type Gql, type TestServer } from '../kit';

/** What the tests need of an instance, in-process (TestServer) or a spawned process (WardenProcess). */
export interface Instance {
  url: string;
  gql: TestServer['gql'];
}

export interface Pair<I extends Instance = TestServer> {
  a: I;
  b: I;
  database: TestDatabase;
  redis: RedisServer;
  /** A plain pg client on the same database, for checks the API cannot make. */
  sql<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

/**
 * Two Warden instances on different ports sharing one new database and one private redis-server.
 * Each opens its own PostgreSQL pool and Redis connection, as two processes would.
 */
export async function startPair(
  env: Record<string, string> = {},
  options: { postgresUrl?: string; /** Settings only B gets (a rolling change caught half way). */ envB?: Record<string, string> } = {},
): Promise<Pair> {
  const baseUrl = options.postgresUrl ?? postgresServerUrl();
  if (!baseUrl) throw new Error(PG_SKIP_REASON);
  const database = await createTestDatabase(baseUrl);
  const redis = await RedisServer.start();
  const shared = { DATABASE_URL: database.url, REDIS_URL: redis.url, IP_RATE_LIMIT: '0', ...env };
  const servers: TestServer[] = [];
  const close = async () => {
    await Promise.allSettled(servers.map((server) => server.close()));
    await redis.stop();
    await database.drop();
  };
  try {
    servers.push(await startTestServer({ env: shared }));
    servers.push(await startTestServer({ env: { ...shared, ...options.envB } }));
  } catch (error) {
    await close();
    throw error;
  }
  const [a, b] = servers;
  return {
    a,
    b,
    database,
    redis,
    sql: async (text, values) => withClient(database.url, async (client) => (await client.query(text, values)).rows),
    close,
  };
}

/**
 * The same pair, as two `node dist/src/main.js` processes: each instance gets a core of its own,
 * as in production, instead of sharing the test's event loop.
 */
export async function startProcessPair(env: Record<string, string> = {}): Promise<Pair<WardenProcess>> {
  const baseUrl = postgresServerUrl();
  if (!baseUrl) throw new Error(PG_SKIP_REASON);
  const database = await createTestDatabase(baseUrl);
  const redis = await RedisServer.start();
  const shared = { DATABASE_URL: database.url, REDIS_URL: redis.url, IP_RATE_LIMIT: '0', ...env };
  const started = await Promise.allSettled([WardenProcess.start(shared), WardenProcess.start(shared)]);
  const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const close = async () => {
    await Promise.allSettled(servers.map((server) => server.stop()));
    await redis.stop();
    await database.drop();
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  return {
    a: servers[0],
    b: servers[1],
    database,
    redis,
    sql: async (text, values) => withClient(database.url, async (client) => (await client.query(text, values)).rows),
    close,
  };
}

export const MAIN_JS = path.join(__dirname, '..', '..', 'dist', 'src', 'main.js');

/** The real server process, `node dist/src/main.js` (npm test builds it first), on a free port. */
export class WardenProcess implements Instance {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    private readonly log: { text: string },
    readonly exited: Promise<number | null>,
    private readonly dataDir: string,
  ) {}

  get graphqlUrl(): string {
    return `${this.url}/graphql`;
  }

  /** Everything the process wrote to stdout and stderr so far (pino JSON lines). */
  output(): string {
    return this.log.text;
  }

  get gql(): Gql {
    return gqlAt(this.graphqlUrl);
  }

  static async start(env: Record<string, string>): Promise<WardenProcess> {
    if (!existsSync(MAIN_JS)) throw new Error('dist/src/main.js is missing: run `npm run build` (npm test does)');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'warden-proc-'));
    // A chosen port, so the process can log at any level (the "ready at" line is info).
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [MAIN_JS], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        JWT_SECRET: TEST_JWT_SECRET,
        BCRYPT_COST: '4',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: dataDir,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = { text: '' };
    child.stdout.on('data', (chunk) => (log.text += chunk));
    child.stderr.on('data', (chunk) => (log.text += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const healthy = await fetch(`${url}/healthz`).then(
        (response) => response.ok,
        () => false,
      );
      if (healthy) return new WardenProcess(child, url, log, exited, dataDir);
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dataDir, { recursive: true, force: true });
        throw new Error(`Warden did not start:\n${log.text}`);
      }
      await sleep(50);
    }
  }

  /** SIGTERM, and the exit code once it has exited. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const code = await this.exited;
    rmSync(this.dataDir, { recursive: true, force: true });
    return code;
  }
}

/** Readiness of an instance. */
export async function readyz(server: Instance): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
}

/**
 * Clients whose refresh token is not their session's current one: its session must be live, of
 * that client, and at the token's generation. Empty when every client holds the one usable
 * refresh token of its session.
 */
export async function outOfStep(pair: Pick<Pair, 'sql'>, clients: Array<{ userId: string; refreshToken: string }>): Promise<string[]> {
  const rows = await pair.sql<{ id: string; userId: string; generation: number }>(
    `SELECT s.id, s."userId", s.generation
       FROM "Session" s WHERE s."userId" = ANY($1::uuid[]) AND s."revokedAt" IS NULL`,
    [clients.map((client) => client.userId)],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  const problems: string[] = [];
  for (const client of clients) {
    const claimed = unverifiedFields(client.refreshToken);
    const row = claimed && byId.get(claimed.sessionId);
    if (!claimed || !row || row.userId !== client.userId) problems.push(`${client.userId}: its token names no live session of its own`);
    else if (row.generation !== claimed.generation)
      problems.push(`${client.userId}: holds generation ${claimed.generation}, the session is at ${row.generation}`);
  }
  return problems;
}

export { freePort };
