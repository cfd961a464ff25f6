/**
 * Passkey challenges live in the shared store (docs/api.md §3, §6): a ceremony started on one instance
 * finishes on another, exactly once; the start/finish mutations count toward the per-IP limit;
 * and with Redis down they fail closed (INTERNAL_SERVER_ERROR within 5 s, no token, nothing
 * stored). The two-instance and rate-limit tests run on both passes; the Redis outage runs in the
 * PostgreSQL + Redis pass only (it needs a private redis-server it can stop).
 */
import { randomInt } from 'node:crypto';
import { ErrorCode } from '../../src/errors/error-code';
import { RedisServer } from '../support/redis-server';
import { SoftwareAuthenticator } from '../support/webauthn-authenticator';
import { errorCode, signupUser, startTestServer, type TestServer, describeNeeding } from '../kit';

const ORIGIN = 'http://localhost:4000';
const FAIL_CLOSED_MS = 5_000;
const START_REGISTRATION = 'mutation { startPasskeyRegistration }';
const FINISH_REGISTRATION = 'mutation ($response: JSONObject!) { finishPasskeyRegistration(response: $response) { id } }';
const START_LOGIN = 'mutation ($email: String) { startPasskeyLogin(email: $email) }';
const FINISH_LOGIN = 'mutation ($response: JSONObject!) { finishPasskeyLogin(response: $response) { accessToken refreshToken } }';

describe('passkey challenges across instances', () => {
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    a = await startTestServer();
    b = await startTestServer({ shareWith: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('finishes on one instance what another started, and only once', async () => {
    const user = await signupUser(a);
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    const options = (await a.gql(START_REGISTRATION, undefined, { token: user.accessToken })).body.data!.startPasskeyRegistration;
    const { response: registration, credential } = authenticator.register(options);
    expect((await b.gql(FINISH_REGISTRATION, { response: registration }, { token: user.accessToken })).body.errors).toBeUndefined();
    expect(errorCode(await a.gql(FINISH_REGISTRATION, { response: registration }, { token: user.accessToken }))).toBe(
      ErrorCode.INVALID_CREDENTIALS,
    );

    const loginOptions = (await b.gql(START_LOGIN, { email: user.email })).body.data!.startPasskeyLogin;
    const assertion = authenticator.assert(loginOptions, credential);
    // Both instances at once: exactly one signs in.
    const results = await Promise.all([a.gql(FINISH_LOGIN, { response: assertion }), b.gql(FINISH_LOGIN, { response: assertion })]);
    expect(results.map((r) => errorCode(r) ?? 'ok').sort()).toEqual([ErrorCode.INVALID_CREDENTIALS, 'ok']);
    expect(errorCode(await b.gql(FINISH_LOGIN, { response: assertion }))).toBe(ErrorCode.INVALID_CREDENTIALS);
  });
});

describe('passkey mutations and the per-IP limit', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { IP_RATE_LIMIT: '3', TRUST_PROXY: 'true' } });
  });
  afterAll(() => server?.close());

  it('counts startPasskeyLogin and finishPasskeyLogin per client IP, each on its own budget', async () => {
    // A fresh address per run: the PostgreSQL + Redis pass may keep counts between runs.
    const ip = `198.51.100.${randomInt(1, 255)}`;
    const other = `203.0.113.${randomInt(1, 255)}`;
    const headers = { 'x-forwarded-for': ip };
    const starts = [];
    for (let i = 0; i < 4; i++) starts.push(errorCode(await server.gql(START_LOGIN, {}, { headers })) ?? 'ok');
    expect(starts).toEqual(['ok', 'ok', 'ok', ErrorCode.RATE_LIMITED]);
    const finishes = [];
    for (let i = 0; i < 4; i++) finishes.push(errorCode(await server.gql(FINISH_LOGIN, { response: { id: 'x' } }, { headers })));
    expect(finishes).toEqual([ErrorCode.BAD_USER_INPUT, ErrorCode.BAD_USER_INPUT, ErrorCode.BAD_USER_INPUT, ErrorCode.RATE_LIMITED]);
    expect(errorCode(await server.gql(START_LOGIN, {}, { headers: { 'x-forwarded-for': other } }))).toBeUndefined();
  });
});

// A private redis-server that the test stops: CI's PostgreSQL + Redis pass only.
describeNeeding({ redis: true, onePass: true }, 'passkey mutations with Redis down', () => {
  let redis: RedisServer;
  let server: TestServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
    server = await startTestServer({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  it('fails closed within 5 s with INTERNAL_SERVER_ERROR, issuing no token and storing nothing', async () => {
    const user = await signupUser(server);
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    const options = (await server.gql(START_REGISTRATION, undefined, { token: user.accessToken })).body.data!.startPasskeyRegistration;
    const pendingRegistration = authenticator.register(options).response;
    const loginOptions = (await server.gql(START_LOGIN, { email: user.email })).body.data!.startPasskeyLogin;
    await redis.stop();
    const calls: Array<[string, string, Record<string, unknown> | undefined, string | undefined]> = [
      ['startPasskeyRegistration', START_REGISTRATION, undefined, user.accessToken],
      ['finishPasskeyRegistration', FINISH_REGISTRATION, { response: pendingRegistration }, user.accessToken],
      ['startPasskeyLogin', START_LOGIN, { email: user.email }, undefined],
      [
        'finishPasskeyLogin',
        FINISH_LOGIN,
        { response: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: loginOptions } },
        undefined,
      ],
    ];
    for (const [label, query, variables, token] of calls) {
      const started = Date.now();
      const result = await server.gql(query, variables, { token });
      expect([label, errorCode(result)]).toEqual([label, ErrorCode.INTERNAL_SERVER_ERROR]);
      expect(Date.now() - started).toBeLessThan(FAIL_CLOSED_MS);
      expect(JSON.stringify(result.body)).not.toMatch(/redis|ECONNREFUSED|eyJ/i);
    }
    expect(await server.app.infra.database.prisma.passkey.count({ where: { userId: user.user.id } })).toBe(0);
  });
});
