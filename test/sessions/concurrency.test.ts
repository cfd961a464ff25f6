/**
 * N parallel refreshes with one token yield exactly one successor (the session's generation moves
 * once), never a 5xx — on the embedded PGlite (one connection) and on PostgreSQL (a pool, row locks).
 */
import { decodeRefreshToken, refresh, rowCounts, sessionRow, tokenState, withSlowRotation } from './support';
import { pairOf, ME, errorCode, sessionIdOf, signupUser, startTestServer, type TestServer } from '../kit';

const PARALLEL = 20;

const backends: Array<[string, Record<string, string>]> = [['PGlite', { DATABASE_URL: '' }]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', {}]);

describe.each(backends)('%s', (_backend, backendEnv) => {
  describe('with a grace window', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({ env: { ...backendEnv, REFRESH_REUSE_GRACE: '10s' } });
    });
    afterAll(() => server.close());

    it(`${PARALLEL} parallel refreshes with one token all get the same single successor`, async () => {
      const user = await signupUser(server);
      const results = await withSlowRotation(server, sessionIdOf(user.accessToken), 50, () =>
        Promise.all(Array.from({ length: PARALLEL }, () => refresh(server, user.refreshToken))),
      );
      expect(results.map((r) => r.status)).toEqual(Array(PARALLEL).fill(200));
      const pairs = results.map(pairOf);
      expect(new Set(pairs.map((p) => p.refreshToken)).size).toBe(1);
      // Every access token is valid and of the same session (the replays get fresh ones).
      const sid = sessionIdOf(user.accessToken);
      expect(new Set(pairs.map((p) => sessionIdOf(p.accessToken)))).toEqual(new Set([sid]));
      for (const pair of pairs.slice(0, 3))
        expect((await server.gql(ME, {}, { token: pair.accessToken })).body.data!.me.id).toBe(user.user.id);

      // One rotation: the generation moved once, and the successor is its token.
      expect((await tokenState(server, sid))!.generation).toBe(1);
      expect(decodeRefreshToken(pairs[0].refreshToken).generation).toBe(1);

      // The one successor works, and the session is intact.
      const next = pairOf(await refresh(server, pairs[0].refreshToken));
      expect((await server.gql(ME, {}, { token: next.accessToken })).body.data!.me.id).toBe(user.user.id);
    });

    it('parallel refreshes of different sessions do not block each other into errors', async () => {
      const users = await Promise.all(Array.from({ length: 5 }, () => signupUser(server)));
      const results = await Promise.all(users.flatMap((u) => [refresh(server, u.refreshToken), refresh(server, u.refreshToken)]));
      expect(results.every((r) => r.status === 200 && !r.body.errors)).toBe(true);
    });
  });

  describe('with REFRESH_REUSE_GRACE=0', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({ env: { ...backendEnv, REFRESH_REUSE_GRACE: '0' } });
    });
    afterAll(() => server.close());

    it(`of ${PARALLEL} parallel refreshes one rotates and the rest are reuse, which ends the session`, async () => {
      const user = await signupUser(server);
      const results = await withSlowRotation(server, sessionIdOf(user.accessToken), 50, () =>
        Promise.all(Array.from({ length: PARALLEL }, () => refresh(server, user.refreshToken))),
      );
      expect(results.map((r) => r.status)).toEqual(Array(PARALLEL).fill(200));
      const codes = results.map((r) => (r.body.errors ? errorCode(r) : 'ok'));
      expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
      expect(codes.filter((c) => c === 'REFRESH_TOKEN_REUSED')).toHaveLength(PARALLEL - 1);

      const sid = sessionIdOf(user.accessToken);
      expect((await tokenState(server, sid))!.generation).toBe(1);
      expect((await sessionRow(server, sid))!.revokedReason).toBe('reuse');
      expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBe('SESSION_REVOKED');
    });

    it('a sequential repeat is reuse too, and no row is added for it', async () => {
      const user = await signupUser(server);
      pairOf(await refresh(server, user.refreshToken));
      const before = await rowCounts(server);
      expect(errorCode(await refresh(server, user.refreshToken))).toBe('REFRESH_TOKEN_REUSED');
      const after = await rowCounts(server);
      // Only the audit trail grows (the reuse event); no table holds a row per token.
      expect(after.tables).toEqual({ ...before.tables, AuthEvent: after.authEvents });
      expect(after.authEvents).toBe(before.authEvents + 1);
    });
  });
});
