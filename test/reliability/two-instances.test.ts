/**
 * Two Warden instances on different ports, each with its own PostgreSQL pool and Redis client,
 * sharing one database and one redis-server: what one instance does, the other enforces.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { startPair, type Pair } from './support';
import { describeNeeding, LOGIN, ME, metric, REFRESH, refreshedPair, errorCode, signupUser, sleep, uniqueEmail } from '../kit';

const MAX_FAILURES = 5;
const GRACE_MS = 1_000;

describeNeeding({ redis: true, postgres: true, onePass: true }, 'two instances sharing PostgreSQL and Redis', () => {
  let pair: Pair;

  beforeAll(async () => {
    pair = await startPair({ LOGIN_MAX_FAILURES: String(MAX_FAILURES), REFRESH_REUSE_GRACE: `${GRACE_MS / 1000}s` });
  });
  afterAll(() => pair?.close());

  it('runs as two servers with their own pools and Redis clients', () => {
    expect(pair.a.url).not.toBe(pair.b.url);
    expect(pair.a.app.infra.database.prisma).not.toBe(pair.b.app.infra.database.prisma);
    expect(pair.a.app.infra.store).not.toBe(pair.b.app.infra.store);
  });

  it('a token refreshed on A and presented again on B, after the grace window, is reuse and ends the session', async () => {
    const user = await signupUser(pair.a);
    const next = refreshedPair(await pair.a.gql(REFRESH, { refreshToken: user.refreshToken }))!;
    expect(next).not.toBeNull();
    await sleep(GRACE_MS + 200);

    expect(errorCode(await pair.b.gql(REFRESH, { refreshToken: user.refreshToken }))).toBe(ErrorCode.REFRESH_TOKEN_REUSED);
    // The session is over everywhere: its current token and access token no longer work.
    expect(errorCode(await pair.a.gql(REFRESH, { refreshToken: next.refreshToken }))).toBe(ErrorCode.SESSION_REVOKED);
    expect(errorCode(await pair.b.gql(ME, {}, { token: next.accessToken }))).toBe(ErrorCode.SESSION_REVOKED);
    expect(errorCode(await pair.a.gql(ME, {}, { token: next.accessToken }))).toBe(ErrorCode.SESSION_REVOKED);
  });

  it('an older ancestor presented on B is reuse even inside the grace window', async () => {
    const user = await signupUser(pair.b);
    const second = refreshedPair(await pair.a.gql(REFRESH, { refreshToken: user.refreshToken }))!;
    refreshedPair(await pair.b.gql(REFRESH, { refreshToken: second.refreshToken }));
    expect(errorCode(await pair.b.gql(REFRESH, { refreshToken: user.refreshToken }))).toBe(ErrorCode.REFRESH_TOKEN_REUSED);
    const revoked = await pair.sql('SELECT "revokedReason" FROM "Session" WHERE "userId" = $1', [user.user.id]);
    expect(revoked).toEqual([{ revokedReason: 'reuse' }]);
  });

  it('a logout on A makes B answer SESSION_REVOKED within 1 s', async () => {
    const user = await signupUser(pair.a);
    expect((await pair.b.gql(ME, {}, { token: user.accessToken })).body.data?.me.id).toBe(user.user.id);

    const logout = await pair.a.gql('mutation { logout }', {}, { token: user.accessToken });
    expect(logout.body.data?.logout).toBe(true);
    const loggedOutAt = performance.now();
    let code: unknown;
    while ((code = errorCode(await pair.b.gql(ME, {}, { token: user.accessToken }))) !== ErrorCode.SESSION_REVOKED) {
      if (performance.now() - loggedOutAt > 1_000) break;
      await sleep(20);
    }
    const ms = performance.now() - loggedOutAt;
    expect(code).toBe(ErrorCode.SESSION_REVOKED);
    expect(ms).toBeLessThan(1_000);
    expect(errorCode(await pair.b.gql(REFRESH, { refreshToken: user.refreshToken }))).toBe(ErrorCode.SESSION_REVOKED);
  });

  const login = (server: Pair['a'], email: string, password: string) => server.gql(LOGIN, { input: { email, password } });

  it('failures split across A and B lock the email at the configured count', async () => {
    const user = await signupUser(pair.a);
    for (let attempt = 1; attempt <= MAX_FAILURES; attempt++) {
      const server = attempt % 2 ? pair.a : pair.b;
      expect(errorCode(await login(server, user.email, 'wrong password!'))).toBe(ErrorCode.INVALID_CREDENTIALS);
    }
    // Locked on both, even for the right password.
    for (const server of [pair.a, pair.b]) {
      const locked = await login(server, user.email, user.password);
      expect(errorCode(locked)).toBe(ErrorCode.ACCOUNT_LOCKED);
      expect(locked.body.errors?.[0]?.extensions?.retryAfter).toEqual(expect.any(Number));
    }
  });

  it('one failure short of the count, the right password still signs in on the other instance', async () => {
    const user = await signupUser(pair.b);
    for (let attempt = 1; attempt < MAX_FAILURES; attempt++) {
      const server = attempt % 2 ? pair.b : pair.a;
      expect(errorCode(await login(server, user.email, 'wrong password!'))).toBe(ErrorCode.INVALID_CREDENTIALS);
    }
    expect((await login(pair.a, user.email, user.password)).body.data?.login.user.id).toBe(user.user.id);
  });

  it('parallel guesses split across A and B reach bcrypt at most the configured number of times', async () => {
    const email = uniqueEmail('parallel');
    const failedBefore =
      (await metric(pair.a, 'warden_logins_total', { result: 'failed' })) +
      (await metric(pair.b, 'warden_logins_total', { result: 'failed' }));
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => login(i % 2 ? pair.a : pair.b, email, `wrong guess ${i}`)));
    const codes = answers.map((answer) => errorCode(answer));
    const checked = codes.filter((code) => code === ErrorCode.INVALID_CREDENTIALS).length;
    expect(checked).toBeLessThanOrEqual(MAX_FAILURES);
    expect(codes.filter((code) => code === ErrorCode.ACCOUNT_LOCKED).length).toBe(24 - checked);
    const failedAfter =
      (await metric(pair.a, 'warden_logins_total', { result: 'failed' })) +
      (await metric(pair.b, 'warden_logins_total', { result: 'failed' }));
    expect(failedAfter - failedBefore).toBe(checked);
  });
});
