/**
 * Redis stopped mid-run under two instances (docs/api.md §6): while signed-in users keep reading and
 * writing, the redis-server goes away. Login, signup and refresh fail closed within 5 s on both
 * instances and issue no token; @auth reads and Post mutations keep working, with revocation
 * still checked in the database; /readyz says 503. Redis comes back → both recover by
 * themselves, and the refresh token presented during the outage still rotates.
 *
 * The refreshes select the user as the SDK's do (its RefreshToken operation asks for the whole
 * AuthPayload), and the pair runs with REFRESH_REUSE_GRACE=0: a token spent during the outage
 * would then answer REFRESH_TOKEN_REUSED afterwards instead of hiding behind a grace replay.
 */
import { createWardenAuth, RefreshTokenDocument, WardenAuthError, memoryTokenStore, type SignedOutEvent } from '@warden/client';
import { ErrorCode } from '../../src/errors/error-code';
import { readyz, startPair, type Pair } from './support';
import {
  describeNeeding,
  LOGIN,
  ME,
  REFRESH,
  refreshedPair,
  errorCode,
  sessionIdOf,
  SIGNUP,
  signupUser,
  sleep,
  uniqueEmail,
  eventually,
  type SignedUp,
  type TestServer,
} from '../kit';

const FAIL_CLOSED_MS = 5_000;
const MASKED = 'Something went wrong; try again later.';

describeNeeding({ redis: true, postgres: true, onePass: true }, 'Redis stopped mid-run under two instances', () => {
  let pair: Pair;
  let users: SignedUp[];

  beforeAll(async () => {
    pair = await startPair({ REFRESH_REUSE_GRACE: '0' });
    users = await Promise.all(Array.from({ length: 6 }, (_, i) => signupUser(i % 2 ? pair.a : pair.b)));
  });
  afterAll(() => pair?.close());

  /** Signed-in traffic on both instances until stopped: `me` and createPost, which need no Redis. */
  function backgroundTraffic() {
    let running = true;
    const failures: string[] = [];
    let served = 0;
    const loops = users.map(async (user, i) => {
      for (let n = 0; running; n++) {
        const server = (i + n) % 2 ? pair.a : pair.b;
        const answer =
          n % 3 === 2
            ? await server.gql(
                'mutation($input: CreatePostInput!) { createPost(input: $input) { id } }',
                { input: { title: `during the outage ${n}`, body: 'still writing' } },
                { token: user.accessToken },
              )
            : await server.gql(ME, {}, { token: user.accessToken });
        if (answer.status !== 200 || answer.body.errors) failures.push(JSON.stringify(answer.body.errors ?? answer.status));
        else served++;
        await sleep(20);
      }
    });
    return {
      async stop() {
        running = false;
        await Promise.all(loops);
        return { failures, served };
      },
    };
  }

  async function expectFailsClosed(server: TestServer, user: SignedUp) {
    const started = performance.now();
    const login = await server.gql(LOGIN, { input: { email: user.email, password: user.password } });
    const signup = await server.gql(SIGNUP, { input: { email: uniqueEmail('outage'), password: 'outage password', name: 'Outage' } });
    const refresh = await server.gql(REFRESH, { refreshToken: user.refreshToken });
    const sdkRefresh = await server.gql(RefreshTokenDocument, { refreshToken: user.refreshToken });
    expect(performance.now() - started).toBeLessThan(4 * FAIL_CLOSED_MS);
    for (const answer of [login, signup, refresh, sdkRefresh]) {
      expect(errorCode(answer)).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
      expect(answer.body.data ?? null).toBeNull();
      expect(answer.body.errors?.[0]?.message).toBe(MASKED);
      expect(JSON.stringify(answer.body)).not.toMatch(/redis|store|ECONNREFUSED|127\.0\.0\.1|eyJ/i);
    }
  }

  /** The generation of the session an access token names: a rotation moves it by one. */
  async function generationOf(accessToken: string): Promise<number> {
    const rows = await pair.sql<{ generation: number }>('SELECT generation FROM "Session" WHERE id = $1::uuid', [sessionIdOf(accessToken)]);
    return Number(rows[0].generation);
  }

  it('fails closed, keeps signed-in users working, and recovers without a restart', async () => {
    const generationBefore = await generationOf(users[1].accessToken);
    const traffic = backgroundTraffic();
    await sleep(300);
    await pair.redis.stop();

    // Each of the three operations, on each instance, answers within 5 s.
    for (const server of [pair.a, pair.b]) {
      const started = performance.now();
      const login = await server.gql(LOGIN, { input: { email: users[0].email, password: users[0].password } });
      expect(performance.now() - started).toBeLessThan(FAIL_CLOSED_MS);
      expect(errorCode(login)).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
      await expectFailsClosed(server, users[1]);
      expect(await readyz(server)).toEqual({
        status: 503,
        body: { status: 'degraded', checks: { database: 'ok', redis: 'down', signingKey: 'ok' } },
      });
    }

    // Revocation still holds: a logout on A (no Redis needed) ends the session on B at once.
    const leaving = users[5];
    expect((await pair.a.gql('mutation { logout }', {}, { token: leaving.accessToken })).body.data?.logout).toBe(true);
    expect(errorCode(await pair.b.gql(ME, {}, { token: leaving.accessToken }))).toBe(ErrorCode.SESSION_REVOKED);
    users = users.slice(0, 5);
    await sleep(500);

    await pair.redis.start();
    for (const server of [pair.a, pair.b]) {
      await eventually(async () => (await readyz(server)).status === 200, 15_000, 'readyz 200 after Redis is back');
    }
    const { failures, served } = await traffic.stop();
    // The leaving user's loop saw SESSION_REVOKED after the logout; everyone else was served throughout.
    expect(failures.filter((failure) => !failure.includes(ErrorCode.SESSION_REVOKED))).toEqual([]);
    expect(served).toBeGreaterThan(20);

    for (const server of [pair.a, pair.b]) {
      const login = await server.gql(LOGIN, { input: { email: users[0].email, password: users[0].password } });
      expect(login.body.data?.login.accessToken).toEqual(expect.any(String));
    }
    // The refresh token presented during the outage was not spent (the session did not move, and
    // with no grace a spent one would answer REFRESH_TOKEN_REUSED): it rotates now, an ordinary
    // rotation, and the session lives on with the successor.
    expect(await generationOf(users[1].accessToken)).toBe(generationBefore);
    const recovered = await pair.b.gql(REFRESH, { refreshToken: users[1].refreshToken });
    expect(recovered.body.errors).toBeUndefined();
    const rotated = refreshedPair(recovered)!;
    expect(rotated.refreshToken).toEqual(expect.any(String));
    expect((recovered.body.data as { refreshToken: { user: { id: string; email: string } } }).refreshToken.user).toEqual({
      id: users[1].user.id,
      email: users[1].email,
    });
    expect(await generationOf(users[1].accessToken)).toBe(generationBefore + 1);
    expect((await pair.a.gql(ME, {}, { token: rotated.accessToken })).body.data?.me.id).toBe(users[1].user.id);
    const next = refreshedPair(await pair.a.gql(RefreshTokenDocument, { refreshToken: rotated.refreshToken }));
    expect(next?.refreshToken).toEqual(expect.any(String));
    // The token spent just now is spent: with no grace it is reuse (the check can fail).
    expect(errorCode(await pair.a.gql(REFRESH, { refreshToken: users[1].refreshToken }))).toBe(ErrorCode.REFRESH_TOKEN_REUSED);
  }, 60_000);

  it("the SDK's refresh during the outage fails without signing out, and works once Redis is back", async () => {
    const user = await signupUser(pair.a);
    const signedOut: SignedOutEvent[] = [];
    const auth = createWardenAuth({
      url: pair.a.graphqlUrl,
      tokenStore: memoryTokenStore({ accessToken: user.accessToken, refreshToken: user.refreshToken }),
      onSignedOut: (event) => signedOut.push(event),
    });
    await auth.ready();
    await pair.redis.stop();
    try {
      const failure = await auth.refresh().then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(WardenAuthError);
      expect((failure as WardenAuthError).code).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
      expect((failure as WardenAuthError).signedOut).toBe(false);
      expect(auth.refreshTokenValue).toBe(user.refreshToken);
    } finally {
      await pair.redis.start();
    }
    await eventually(async () => (await readyz(pair.a)).status === 200, 15_000, 'readyz 200 after Redis is back');
    const accessToken = await auth.refresh();
    expect(accessToken).not.toBe(user.accessToken);
    expect(auth.refreshTokenValue).not.toBe(user.refreshToken);
    expect(signedOut).toEqual([]);
    expect((await pair.b.gql(ME, {}, { token: accessToken })).body.data?.me.id).toBe(user.user.id);
  }, 30_000);
});
