/**
 * Upgrading a database made by the version before counter refresh tokens, with live sessions in
 * it (docs/refresh-tokens.md): the migration gives every session a salt and generation, and each
 * old-format token is then answered as the old version would have, except that a live one is
 * exchanged once for a counter token. On PGlite and (when DATABASE_URL is set) PostgreSQL.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { loadConfig } from '../../src/config';
import { applyMigrations, defaultMigrationsDir, type MigrationTarget } from '../../src/infra/migrate';
import { createWarden } from '../../src/bootstrap';
import { withClient, withDatabase } from '../support/db-template';
import { decodeRefreshToken, refresh, tokenState } from './support';
import { pairOf, gqlAt, LOGOUT, ME, errorCode, sessionIdOf, startTestServer, TEST_JWT_SECRET, type TestServer } from '../kit';

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

const backends: Array<[string, boolean]> = [['PGlite', false]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', true]);

describe.each(backends)('upgrading a %s database with live sessions', (_name, postgres) => {
  let server: TestServer;
  let state: OldState;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    let target: MigrationTarget;
    let query: (sql: string, params: unknown[]) => Promise<unknown>;
    if (postgres) {
      const base = process.env.DATABASE_URL!;
      const name = `warden_upgrade_${randomBytes(6).toString('hex')}`;
      await withClient(base, (client) => client.query(`CREATE DATABASE "${name}"`));
      const url = withDatabase(base, name);
      target = { kind: 'postgres', url };
      query = (sql, params) => withClient(url, (client) => client.query(sql, params));
      await applyMigrations(target, { migrationsDir: oldMigrations() });
      state = await seedOldState(query);
      expect(await applyMigrations(target)).toHaveLength(readdirSync(defaultMigrationsDir(), { withFileTypes: true }).filter((e) => e.isDirectory()).length - 1);
      server = await startTestServer({ env: { DATABASE_URL: url, REFRESH_REUSE_GRACE: '10s' } });
      cleanup = async () => {
        await server.close();
        await withClient(base, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      };
    } else {
      const client = await PGlite.create();
      target = { kind: 'pglite', client };
      query = (sql, params) => client.query(sql, params);
      await applyMigrations(target, { migrationsDir: oldMigrations() });
      state = await seedOldState(query);
      await applyMigrations(target);
      // The harness always makes a fresh database; this one is the upgraded one.
      const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET, BCRYPT_COST: '4', LOG_LEVEL: 'silent', IP_RATE_LIMIT: '0', REFRESH_REUSE_GRACE: '10s', DATA_DIR: mkdtempSync(path.join(tmpdir(), 'warden-upgrade-')) });
      tempDirs.push(config.dataDir);
      const warden = await createWarden(config, { databaseOptions: { pglite: client, ownsPGlite: true, migrate: false } });
      const app = warden.app;
      const { port } = await warden.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${port}`;
      server = {
        url,
        graphqlUrl: `${url}/graphql`,
        app,
        config,
        gql: gqlAt(`${url}/graphql`),
        close: () => app.close(),
      };
      cleanup = () => app.close();
    }
  });
  afterAll(() => cleanup?.());

  it('gives every existing session its own random salt, at generation 0', async () => {
    const salts = new Set<string>();
    for (const { sessionId } of Object.values(state.sessions)) {
      const row = (await tokenState(server, sessionId))!;
      expect(row.generation).toBe(0);
      expect(row.tokenSalt).toHaveLength(16);
      salts.add(Buffer.from(row.tokenSalt).toString('hex'));
    }
    expect(salts.size).toBe(Object.keys(state.sessions).length);
  });

  it('a live session’s current old token is exchanged once for a counter token, which goes on rotating', async () => {
    const { sessionId, tokens } = state.sessions.live;
    const exchanged = pairOf(await refresh(server, tokens[1]));
    expect(exchanged.refreshToken).toHaveLength(60);
    expect(decodeRefreshToken(exchanged.refreshToken)).toMatchObject({ sessionId, generation: 1 });
    expect(sessionIdOf(exchanged.accessToken)).toBe(sessionId);
    expect((await server.gql(ME, {}, { token: exchanged.accessToken })).body.data!.me.id).toBe(state.userId);
    const next = pairOf(await refresh(server, exchanged.refreshToken));
    expect(decodeRefreshToken(next.refreshToken).generation).toBe(2);
    pairOf(await refresh(server, next.refreshToken));
  });

  it('within the grace window the same old token gets the same counter token again', async () => {
    const { tokens } = state.sessions.replayed;
    const first = pairOf(await refresh(server, tokens[0]));
    const again = pairOf(await refresh(server, tokens[0]));
    expect(again.refreshToken).toBe(first.refreshToken);
    pairOf(await refresh(server, again.refreshToken));
  });

  it('the old token after its session moved on is reuse: the session ends', async () => {
    const { sessionId, tokens } = state.sessions.reused;
    const exchanged = pairOf(await refresh(server, tokens[0]));
    pairOf(await refresh(server, exchanged.refreshToken)); // the session moves past the exchange
    expect(errorCode(await refresh(server, tokens[0]))).toBe('REFRESH_TOKEN_REUSED');
    expect((await tokenState(server, sessionId))!.revokedReason).toBe('reuse');
    expect(errorCode(await server.gql(ME, {}, { token: exchanged.accessToken }))).toBe('SESSION_REVOKED');
  });

  it('an old token already spent before the upgrade is reuse, as it was', async () => {
    const { sessionId, tokens } = state.sessions.ancestor;
    expect(errorCode(await refresh(server, tokens[0]))).toBe('REFRESH_TOKEN_REUSED');
    expect((await tokenState(server, sessionId))!.revokedReason).toBe('reuse');
    expect(errorCode(await refresh(server, tokens[2]))).toBe('SESSION_REVOKED');
  });

  it('an ended session stays ended, an idle-expired token stays expired', async () => {
    expect(errorCode(await refresh(server, state.sessions.revoked.tokens[0]))).toBe('SESSION_REVOKED');
    expect(errorCode(await refresh(server, state.sessions.idle.tokens[0]))).toBe('REFRESH_TOKEN_EXPIRED');
  });

  it('logout with an old token ends its session', async () => {
    const { sessionId, tokens } = state.sessions.loggedOut;
    const res = await server.gql(LOGOUT, { refreshToken: tokens[0] });
    expect(res.body.data).toEqual({ logout: true });
    expect((await tokenState(server, sessionId))!.revokedAt).not.toBeNull();
    expect(errorCode(await refresh(server, tokens[0]))).toBe('SESSION_REVOKED');
  });
});
