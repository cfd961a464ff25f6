/**
 * The cleanup job deletes sessions past their lifetimes (and legacy refresh-token rows). Each
 * server here has a database of its own (the job deletes whatever has lapsed, whoever made it).
 */
import { ManualClock } from '../../src/lib/clock';
import { createTestDatabase, type TestDatabase } from '../support/db-template';
import { refresh, sessionRow, tokenState } from './support';
import { pairOf, errorCode, sessionIdOf, signupUser, startTestServer, type TestServer } from '../kit';

const MINUTE = 60_000;
const ENV = { REFRESH_TOKEN_TTL: '1h', SESSION_MAX_AGE: '1d', ACCESS_TOKEN_TTL: '15m', CLOCK_SKEW: '5s', REFRESH_REUSE_GRACE: '10s' };

const backends: Array<[string, boolean]> = [['PGlite', false]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', true]);

describe.each(backends)('session cleanup on %s', (_name, postgres) => {
  const clock = new ManualClock();
  let database: TestDatabase | undefined;
  let server: TestServer;

  beforeAll(async () => {
    database = postgres ? await createTestDatabase() : undefined;
    server = await startTestServer({ clock, env: { ...ENV, DATABASE_URL: database?.url ?? '' } });
  });
  afterAll(async () => {
    await server?.close();
    await database?.drop();
  });

  it('runOnce() deletes ended and lapsed sessions, and keeps a rotated session to one row', async () => {
    const t0 = clock.now();
    const live = await signupUser(server);
    const revoked = await signupUser(server);
    const idle = await signupUser(server);
    const rotated = await signupUser(server);
    await server.gql('mutation { logout }', {}, { token: revoked.accessToken });
    const rotatedNext = pairOf(await refresh(server, rotated.refreshToken));
    expect((await tokenState(server, sessionIdOf(rotated.accessToken)))!.generation).toBe(1);

    // Just past the grace window: nothing to erase (no successor is kept), nothing lapsed yet.
    clock.advance(11_000);
    expect(await server.app.sessionCleanup.runOnce()).toMatchObject({ sessions: 0, oneTimeTokens: 0 });

    // An ended session is kept while its access tokens could still be presented (15m + 5s).
    clock.advance(14 * MINUTE);
    expect((await server.app.sessionCleanup.runOnce()).sessions).toBe(0);
    clock.advance(2 * MINUTE);
    expect((await server.app.sessionCleanup.runOnce()).sessions).toBe(1);
    expect(await sessionRow(server, sessionIdOf(revoked.accessToken))).toBeNull();

    // The live session rotates at t0+50m; its first token (idle expiry t0+1h) is spent.
    clock.advance(t0 + 50 * MINUTE - clock.now());
    const liveNext = pairOf(await refresh(server, live.refreshToken));

    // At t0+1h16m: the idle and the rotated-once sessions lapsed at t0+1h, beyond retention.
    clock.advance(t0 + 76 * MINUTE - clock.now());
    const result = await server.app.sessionCleanup.runOnce();
    expect(result.sessions).toBe(2);
    expect(await sessionRow(server, sessionIdOf(idle.accessToken))).toBeNull();
    expect(await sessionRow(server, sessionIdOf(rotatedNext.accessToken))).toBeNull();
    expect((await tokenState(server, sessionIdOf(live.accessToken)))!.generation).toBe(1);

    // The live session is untouched and goes on rotating; a deleted session's token is simply unknown.
    pairOf(await refresh(server, liveNext.refreshToken));
    expect(errorCode(await refresh(server, idle.refreshToken))).toBe('REFRESH_TOKEN_INVALID');
    expect(await server.app.sessionCleanup.runOnce()).toMatchObject({ sessions: 0, oneTimeTokens: 0 });

    // Its first token, past its own idle lifetime (t0+1h) and its row never kept, is still reuse.
    expect(errorCode(await refresh(server, live.refreshToken))).toBe('REFRESH_TOKEN_REUSED');
  });
});

describe('the cleanup timer', () => {
  const clock = new ManualClock();
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ clock, env: { ...ENV, DATABASE_URL: '', CLEANUP_INTERVAL: '1s' } });
  });
  afterAll(() => server?.close());

  it('runs by itself every CLEANUP_INTERVAL', async () => {
    const user = await signupUser(server);
    const sid = sessionIdOf(user.accessToken);
    clock.advance(2 * 3600_000);
    const deadline = Date.now() + 10_000;
    while ((await sessionRow(server, sid)) !== null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await sessionRow(server, sid)).toBeNull();
  });
});
