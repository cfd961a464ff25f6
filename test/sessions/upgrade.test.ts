/**
 * Upgrading a database made by the version before counter refresh tokens, with live sessions in
 * it (docs/refresh-tokens.md, "Upgrading from hashed refresh tokens"). The migration that drops
 * the hashed-token table refuses while a live session still holds a token in it — naming the
 * count and what to do, applying nothing, through Warden's migrator and through its own SQL (for
 * `prisma migrate deploy`) — and applies once those have lapsed or been deleted on purpose (the
 * cut-over). After it, every session has its own salt, an old-format token answers
 * REFRESH_TOKEN_INVALID without a write, and counter tokens work. On PGlite and (when
 * DATABASE_URL is set) PostgreSQL.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { loadConfig } from '../../src/config';
import { MigrationError, applyMigrations, defaultMigrationsDir, type MigrationTarget } from '../../src/infra/migrate';
import { DROP_LEGACY_REFRESH_TOKENS } from '../../src/infra/migration-guards';
import { createWarden } from '../../src/bootstrap';
import { withClient, withDatabase } from '../support/db-template';
import { decodeRefreshToken, refresh, tokenState } from './support';
import { pairOf, gqlAt, LOGOUT, ME, errorCode, sessionIdOf, signupUser, startTestServer, TEST_JWT_SECRET, type TestServer } from '../kit';

jest.setTimeout(60_000);

const FIRST_MIGRATION = readdirSync(defaultMigrationsDir(), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()[0];

const HOUR = 3600_000;
const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** prisma/migrations as the version before had it: the first migration only. */
function oldMigrations(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-old-migrations-'));
  tempDirs.push(dir);
  cpSync(path.join(defaultMigrationsDir(), 'migration_lock.toml'), path.join(dir, 'migration_lock.toml'));
  mkdirSync(path.join(dir, FIRST_MIGRATION));
  cpSync(path.join(defaultMigrationsDir(), FIRST_MIGRATION), path.join(dir, FIRST_MIGRATION), { recursive: true });
  return dir;
}

/** An old-format token and the hash the old version kept of it. */
function oldToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: createHash('sha256').update(token, 'utf8').digest() };
}

interface OldState {
  userId: string;
  /** name → { sessionId, tokens (oldest first; the last is the unspent one) } */
  sessions: Record<string, { sessionId: string; tokens: string[] }>;
}

/** Writes what the old version left behind, with plain SQL: a user and sessions with token chains. */
async function seedOldState(query: (sql: string, params: unknown[]) => Promise<unknown>): Promise<OldState> {
  const userId = randomUUID();
  const now = Date.now();
  await query(
    `INSERT INTO "User" (id, email, name, "passwordHash", "avatarUrl", bio, "updatedAt") VALUES ($1, $2, 'Old User', 'x', '', '', now())`,
    [userId, `old-${userId.slice(0, 8)}@example.test`],
  );
  const sessions: OldState['sessions'] = {};
  const plan: Array<[string, { chain: number; revoked?: boolean; idle?: boolean }]> = [
    ['live', { chain: 2 }],
    ['replayed', { chain: 1 }],
    ['reused', { chain: 1 }],
    ['ancestor', { chain: 3 }],
    ['revoked', { chain: 1, revoked: true }],
    ['idle', { chain: 1, idle: true }],
    ['loggedOut', { chain: 1 }],
  ];
  for (const [name, { chain, revoked, idle }] of plan) {
    const sessionId = randomUUID();
    const expiresAt = new Date(idle ? now - 1000 : now + HOUR);
    await query(
      `INSERT INTO "Session" (id, "userId", "expiresAt", "absoluteExpiresAt", "revokedAt", "revokedReason") VALUES ($1, $2, $3, $4, $5, $6)`,
      [sessionId, userId, expiresAt, new Date(now + 24 * HOUR), revoked ? new Date(now - 1000) : null, revoked ? 'logout' : null],
    );
    const tokens = Array.from({ length: chain }, oldToken);
    const ids = tokens.map(() => randomUUID());
    // Newest first, so each spent row can name its successor.
    for (let i = chain - 1; i >= 0; i -= 1) {
      const spent = i < chain - 1;
      await query(
        `INSERT INTO "RefreshToken" (id, "sessionId", "tokenHash", "expiresAt", "spentAt", "successorId") VALUES ($1, $2, $3, $4, $5, $6)`,
        [ids[i], sessionId, tokens[i].hash, expiresAt, spent ? new Date(now - 60_000) : null, spent ? ids[i + 1] : null],
      );
    }
    sessions[name] = { sessionId, tokens: tokens.map((t) => t.token) };
  }
  return { userId, sessions };
}

const ALL_MIGRATIONS = readdirSync(defaultMigrationsDir(), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const DROP_SQL = readFileSync(path.join(defaultMigrationsDir(), DROP_LEGACY_REFRESH_TOKENS, 'migration.sql'), 'utf8');
/** Old-format token rows of live sessions in the seed: every chain but the revoked and the idle session's. */
const LIVE_OLD_TOKENS = 2 + 1 + 1 + 3 + 1;

const backends: Array<[string, boolean]> = [['PGlite', false]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', true]);

describe.each(backends)('upgrading a %s database with live sessions', (_name, postgres) => {
  let server: TestServer;
  let state: OldState;
  let target: MigrationTarget;
  let query: <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;
  let cleanup: () => Promise<void>;
  let config: ReturnType<typeof loadConfig> | undefined;
  let pglite: PGlite | undefined;
  let url: string | undefined;

  beforeAll(async () => {
    if (postgres) {
      const base = process.env.DATABASE_URL!;
      const name = `warden_upgrade_${randomBytes(6).toString('hex')}`;
      await withClient(base, (client) => client.query(`CREATE DATABASE "${name}"`));
      url = withDatabase(base, name);
      target = { kind: 'postgres', url };
      query = async (sql, params = []) => (await withClient(url!, (client) => client.query(sql, params))).rows;
      cleanup = async () => {
        await server?.close();
        await withClient(base, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      };
    } else {
      pglite = await PGlite.create();
      target = { kind: 'pglite', client: pglite };
      query = async (sql, params = []) => (await pglite!.query(sql, params)).rows as never;
      cleanup = async () => {
        if (server) await server.close();
        else await pglite!.close();
      };
    }
    await applyMigrations(target, { migrationsDir: oldMigrations() });
    state = await seedOldState((sql, params) => query(sql, params));
  });
  afterAll(() => cleanup?.());

  const applied = async () =>
    (await query<{ migration_name: string }>(`SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1`)).map(
      (row) => row.migration_name,
    );
  const tableExists = async () =>
    (await query<{ name: string | null }>(`SELECT to_regclass('"RefreshToken"')::text AS name`))[0].name !== null;
  const refusal = async (): Promise<MigrationError> => {
    const error = await applyMigrations(target).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(MigrationError);
    return error as MigrationError;
  };

  it('refuses while live sessions hold old-format tokens: names the count and what to do, applies nothing', async () => {
    const error = await refusal();
    expect(error.migrationName).toBe(DROP_LEGACY_REFRESH_TOKENS);
    expect(error.message).toContain(`${LIVE_OLD_TOKENS} old-format refresh tokens of live sessions remain`);
    expect(error.message).toContain('DELETE FROM "RefreshToken"');
    expect(error.message).toContain('Nothing was migrated');
    // Nothing applied, nothing recorded as failed: the next start tries again from the same place.
    expect(await applied()).toEqual([FIRST_MIGRATION]);
    expect(await query(`SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NULL`)).toEqual([]);
    expect(await tableExists()).toBe(true);
    expect(Number((await query<{ n: string }>(`SELECT count(*) AS n FROM "RefreshToken"`))[0].n)).toBe(LIVE_OLD_TOKENS + 2);
  });

  it('its own SQL refuses the same way for `prisma migrate deploy`, and the transaction leaves the table', async () => {
    const run = postgres
      ? () =>
          withClient(url!, async (client) => {
            await client.query(DROP_SQL);
          })
      : () => pglite!.exec(DROP_SQL);
    await expect(run()).rejects.toThrow(new RegExp(`${LIVE_OLD_TOKENS} old-format refresh tokens of live sessions remain`));
    expect(await tableExists()).toBe(true);
  });

  it('the count falls as old tokens lapse (or their sessions end), and still refuses while one is left', async () => {
    // Time passing: every chain but the "live" session's lapses; the "loggedOut" session ends.
    const live = state.sessions.live.sessionId;
    await query(`UPDATE "RefreshToken" SET "expiresAt" = now() - interval '1 second' WHERE "sessionId" <> $1`, [live]);
    expect((await refusal()).message).toContain('2 old-format refresh tokens of live sessions remain');
    await query(`UPDATE "RefreshToken" SET "expiresAt" = now() + interval '1 hour' WHERE "sessionId" = $1`, [
      state.sessions.loggedOut.sessionId,
    ]);
    await query(`UPDATE "Session" SET "revokedAt" = now(), "revokedReason" = 'logout' WHERE id = $1`, [state.sessions.loggedOut.sessionId]);
    expect((await refusal()).message).toContain('2 old-format refresh tokens of live sessions remain');
    expect(await applied()).toEqual([FIRST_MIGRATION]);
  });

  it('applies after the cut-over (DELETE FROM "RefreshToken"): the table is gone, every session has its own salt', async () => {
    await query(`DELETE FROM "RefreshToken"`);
    expect(await applyMigrations(target)).toEqual(ALL_MIGRATIONS.slice(1));
    expect(await applied()).toEqual(ALL_MIGRATIONS);
    expect(await tableExists()).toBe(false);
    expect(await applyMigrations(target)).toEqual([]);

    if (postgres) {
      server = await startTestServer({ env: { DATABASE_URL: url!, REFRESH_REUSE_GRACE: '10s' } });
    } else {
      // The harness always makes a fresh database; this one is the upgraded one.
      config = loadConfig({
        NODE_ENV: 'test',
        JWT_SECRET: TEST_JWT_SECRET,
        BCRYPT_COST: '4',
        LOG_LEVEL: 'silent',
        IP_RATE_LIMIT: '0',
        REFRESH_REUSE_GRACE: '10s',
        DATA_DIR: mkdtempSync(path.join(tmpdir(), 'warden-upgrade-')),
      });
      tempDirs.push(config.dataDir);
      const warden = await createWarden(config, { databaseOptions: { pglite: pglite!, ownsPGlite: true, migrate: false } });
      const app = warden.app;
      const { port } = await warden.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${port}`;
      server = {
        url: base,
        graphqlUrl: `${base}/graphql`,
        app,
        config,
        gql: gqlAt(`${base}/graphql`),
        close: () => app.close(),
      };
    }
    const salts = new Set<string>();
    for (const { sessionId } of Object.values(state.sessions)) {
      const row = (await tokenState(server, sessionId))!;
      expect(row.generation).toBe(0);
      expect(row.tokenSalt).toHaveLength(16);
      salts.add(Buffer.from(row.tokenSalt).toString('hex'));
    }
    expect(salts.size).toBe(Object.keys(state.sessions).length);
  });

  it('after it an old-format token answers REFRESH_TOKEN_INVALID and changes nothing; logout with one is a no-op', async () => {
    const before = await query(`SELECT id, generation, "revokedAt", "lastUsedAt" FROM "Session" ORDER BY id`);
    for (const { tokens } of Object.values(state.sessions)) {
      for (const token of tokens) {
        const answer = await refresh(server, token);
        expect(answer.status).toBe(200);
        expect(errorCode(answer)).toBe('REFRESH_TOKEN_INVALID');
      }
    }
    const loggedOut = await server.gql(LOGOUT, { refreshToken: state.sessions.live.tokens[1] });
    expect(loggedOut.body.data).toEqual({ logout: true });
    expect(await query(`SELECT id, generation, "revokedAt", "lastUsedAt" FROM "Session" ORDER BY id`)).toEqual(before);
  });

  it('counter tokens work on the upgraded database: sign-up, rotation, reuse', async () => {
    const user = await signupUser(server);
    const next = pairOf(await refresh(server, user.refreshToken));
    expect(decodeRefreshToken(next.refreshToken)).toMatchObject({ sessionId: sessionIdOf(user.accessToken), generation: 1 });
    expect((await server.gql(ME, {}, { token: next.accessToken })).body.data!.me.id).toBe(user.user.id);
    pairOf(await refresh(server, next.refreshToken));
    expect(errorCode(await refresh(server, user.refreshToken))).toBe('REFRESH_TOKEN_REUSED');
  });
});
