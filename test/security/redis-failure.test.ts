/**
 * Redis failure policy (docs/api.md §6), against a private redis-server this test stops, freezes
 * and restarts: login and signup fail closed with INTERNAL_SERVER_ERROR within 5 seconds and
 * issue no token; @auth reads keep working (revocation is checked in the database); /readyz
 * says Redis is down; Warden reconnects by itself when Redis is back.
 */
import { Writable } from 'node:stream';
import jwt from 'jsonwebtoken';
import { ErrorCode } from '../../src/errors/error-code';
import { RedisServer } from '../support/redis-server';
import { login } from './helpers';
import {
  describeNeeding,
  timed,
  REFRESH,
  errorCode,
  SIGNUP,
  signupUser,
  sleep,
  startTestServer,
  uniqueEmail,
  type SignedUp,
  type TestServer,
} from '../kit';

const FAIL_CLOSED_MS = 5_000;

// A private redis-server that the test stops: CI's PostgreSQL + Redis pass only.
describeNeeding({ redis: true, onePass: true }, 'when Redis is unavailable', () => {
  let redis: RedisServer;
  let server: TestServer;
  let user: SignedUp;
  const logs: string[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    server = await startTestServer({
      // IP_RATE_LIMIT=0: even with the per-IP limit off, login and signup must not run without the store.
      env: { REDIS_URL: redis.url, IP_RATE_LIMIT: '0', LOG_LEVEL: 'info' },
      logDestination: new Writable({
        write(chunk, _encoding, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    });
    user = await signupUser(server);
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  const readyz = async () => {
    const response = await fetch(`${server.url}/readyz`);
    return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
  };

  async function expectFailClosed() {
    const signin = await timed(() => login(server, user.email, user.password));
    expect(signin.ms).toBeLessThan(FAIL_CLOSED_MS);
    expect(errorCode(signin.value)).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
    expect(signin.value.body.data ?? null).toBeNull();
    // Masked: the generic message only; the cause stays in the server log.
    expect(signin.value.body.errors?.[0]?.message).toBe('Something went wrong; try again later.');
    expect(JSON.stringify(signin.value.body)).not.toMatch(/redis|store|ECONNREFUSED|timed out|eyJ/i);

    const email = uniqueEmail('closed');
    const signup = await timed(() => server.gql(SIGNUP, { input: { email, password: 'correct horse battery', name: 'Closed' } }));
    expect(signup.ms).toBeLessThan(FAIL_CLOSED_MS);
    expect(errorCode(signup.value)).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
    expect(signup.value.body.data ?? null).toBeNull();
    // Nothing was created either.
    expect(await server.app.infra.database.prisma.user.count({ where: { email } })).toBe(0);

    const refresh = await timed(() => server.gql(REFRESH, { refreshToken: user.refreshToken }));
    expect(refresh.ms).toBeLessThan(FAIL_CLOSED_MS);
    expect(errorCode(refresh.value)).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
    expect(refresh.value.body.data ?? null).toBeNull();
  }

  async function expectAuthReadsWork() {
    const me = await server.gql('{ me { id email } }', undefined, { token: user.accessToken });
    expect(me.body.errors).toBeUndefined();
    expect(me.body.data?.me.id).toBe(user.user.id);
  }

  async function expectRecovery() {
    const deadline = Date.now() + 15_000;
    let ready = await readyz();
    while (ready.status !== 200 && Date.now() < deadline) {
      await sleep(200);
      ready = await readyz();
    }
    expect(ready).toEqual({ status: 200, body: { status: 'ok', checks: { database: 'ok', redis: 'ok', signingKey: 'ok' } } });
    const signin = await login(server, user.email, user.password);
    expect(signin.body.errors).toBeUndefined();
    expect(signin.body.data?.login.accessToken).toEqual(expect.any(String));
    // The refresh token presented during the outage was not spent: it still rotates.
    const refreshed = await server.gql(REFRESH, { refreshToken: user.refreshToken });
    expect(refreshed.body.errors).toBeUndefined();
    user = {
      ...user,
      accessToken: refreshed.body.data!.refreshToken.accessToken,
      refreshToken: refreshed.body.data!.refreshToken.refreshToken,
    };
  }

  it('fails closed when Redis is stopped, keeps @auth reads working, and recovers on restart', async () => {
    expect((await readyz()).status).toBe(200);
    const other = await login(server, user.email, user.password);
    const otherToken: string = other.body.data!.login.accessToken;
    await redis.stop();

    await expectFailClosed();
    await expectAuthReadsWork();
    expect(await readyz()).toEqual({
      status: 503,
      body: { status: 'degraded', checks: { database: 'ok', redis: 'down', signingKey: 'ok' } },
    });

    // Revocation is still enforced without Redis: an ended session's token stops working.
    const otherSession = String((jwt.decode(otherToken) as { sid: string }).sid);
    await server.app.infra.database.prisma.session.update({ where: { id: otherSession }, data: { revokedAt: new Date() } });
    expect(errorCode(await server.gql('{ me { id } }', undefined, { token: otherToken }))).toBe(ErrorCode.SESSION_REVOKED);

    await redis.start();
    await expectRecovery();
  });

  it('fails closed within 5 s when Redis hangs (connection open, no answers), then recovers', async () => {
    redis.pause();
    try {
      await expectFailClosed();
      await expectAuthReadsWork();
      const ready = await timed(() => readyz());
      expect(ready.value).toEqual({
        status: 503,
        body: { status: 'degraded', checks: { database: 'ok', redis: 'down', signingKey: 'ok' } },
      });
      expect(ready.ms).toBeLessThan(FAIL_CLOSED_MS);
    } finally {
      redis.resume();
    }
    await expectRecovery();
  });

  it('never logs the password or a token while failing', () => {
    const text = logs.join('');
    expect(text).toContain('unexpected error in a GraphQL operation');
    expect(text).not.toContain(user.password);
    expect(text).not.toContain(user.refreshToken);
    expect(text).not.toContain(user.accessToken.split('.')[2]);
  });
});
