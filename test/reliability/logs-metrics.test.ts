/**
 * What an operator sees: after a scripted scenario (sign-ups, logins good and bad, a lockout,
 * rotations, a two-tab grace replay, a reuse, a logout, a revoked session, an unexpected error),
 * every log line is pino JSON naming its request, no secret is in the logs, and /metrics counts
 * exactly what happened.
 */
import { Writable } from 'node:stream';
import jwt from 'jsonwebtoken';
import { ErrorCode } from '../../src/errors/error-code';
import {
  LOGIN,
  metric,
  REFRESH,
  refreshedPair,
  errorCode,
  SIGNUP,
  startTestServer,
  uniqueEmail,
  type SignedUp,
  type TestServer,
} from '../kit';

const MAX_FAILURES = 3;

let server: TestServer;
const lines: string[] = [];
let captured = false;

beforeAll(async () => {
  server = await startTestServer({
    env: { LOG_LEVEL: 'debug', LOGIN_MAX_FAILURES: String(MAX_FAILURES) },
    logDestination: new Writable({
      write(chunk, _encoding, done) {
        if (captured) lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    }),
  });
});
afterAll(() => server?.close());

let step = 0;
/** Each request of the scenario names itself in X-Request-Id, which Warden adopts as its id. */
const as = (label: string, token?: string) => ({ token, headers: { 'x-request-id': `scenario-${++step}-${label}` } });

const secrets: string[] = [];
const remember = (user: SignedUp) => {
  secrets.push(user.password, user.refreshToken, user.accessToken.split('.')[2]);
  return user;
};

it('counts logins, lockouts, rotations, reuse and revocations in /metrics, and logs each line with its request id', async () => {
  captured = true;
  const signup = async (label: string, password: string): Promise<SignedUp> => {
    const email = uniqueEmail(label);
    const answer = await server.gql(SIGNUP, { input: { email, password, name: label } }, as('signup'));
    const payload = answer.body.data!.signup;
    return remember({ email, password, accessToken: payload.accessToken, refreshToken: payload.refreshToken, user: payload.user });
  };
  const ada = await signup('ada', 'ada secret password');
  const bob = await signup('bob', 'bob secret password');

  // Logins: 2 ok, MAX_FAILURES failed (the last one locks bob), 1 refused while locked.
  const login = (user: SignedUp, password: string, label: string) =>
    server.gql(LOGIN, { input: { email: user.email, password } }, as(label));
  const adaLogin = await login(ada, ada.password, 'login-ok');
  expect(adaLogin.body.data?.login.accessToken).toEqual(expect.any(String));
  secrets.push(adaLogin.body.data!.login.refreshToken, adaLogin.body.data!.login.accessToken.split('.')[2]);
  expect((await login(bob, bob.password, 'login-ok')).body.data?.login).toBeTruthy();
  for (let i = 0; i < MAX_FAILURES; i++) {
    expect(errorCode(await login(bob, 'not bob secret password', 'login-failed'))).toBe(ErrorCode.INVALID_CREDENTIALS);
  }
  expect(errorCode(await login(bob, bob.password, 'login-locked'))).toBe(ErrorCode.ACCOUNT_LOCKED);

  // Rotations: 3 ok; the last two at once from two tabs, so one of them is a grace replay.
  const first = refreshedPair(await server.gql(REFRESH, { refreshToken: ada.refreshToken }, as('refresh')))!;
  const second = refreshedPair(await server.gql(REFRESH, { refreshToken: first.refreshToken }, as('refresh')))!;
  const tabs = await Promise.all([
    server.gql(REFRESH, { refreshToken: second.refreshToken }, as('tab-1')),
    server.gql(REFRESH, { refreshToken: second.refreshToken }, as('tab-2')),
  ]);
  expect(refreshedPair(tabs[0])!.refreshToken).toBe(refreshedPair(tabs[1])!.refreshToken);
  secrets.push(first.refreshToken, second.refreshToken, refreshedPair(tabs[0])!.refreshToken);

  // Reuse: an older ancestor ends ada's first session.
  expect(errorCode(await server.gql(REFRESH, { refreshToken: ada.refreshToken }, as('reuse')))).toBe(ErrorCode.REFRESH_TOKEN_REUSED);

  // Revocations: one logout, one revokeSession.
  expect((await server.gql('mutation { logout }', {}, as('logout', bob.accessToken))).body.data?.logout).toBe(true);
  const adaAccess = adaLogin.body.data!.login.accessToken as string;
  const carol = { email: uniqueEmail('carol'), password: 'carol secret password' };
  const carolSignup = (await server.gql(SIGNUP, { input: { ...carol, name: 'Carol' } }, as('signup'))).body.data!.signup;
  const carolLogin = (await server.gql(LOGIN, { input: carol }, as('login-ok'))).body.data!.login;
  secrets.push(carol.password, carolSignup.refreshToken, carolLogin.refreshToken, carolLogin.accessToken.split('.')[2]);
  const revokeId = (jwt.decode(carolLogin.accessToken) as { sid: string }).sid;
  const revoked = await server.gql(
    'mutation($id: ID!) { revokeSession(id: $id) }',
    { id: revokeId },
    as('revoke', carolSignup.accessToken),
  );
  expect(revoked.body.data?.revokeSession).toBe(true);

  // An unexpected error inside a service: masked for the client, logged with the request id.
  const feed = server.app.services.posts.feed.bind(server.app.services.posts);
  server.app.services.posts.feed = async () => {
    throw new Error('boom from the feed');
  };
  try {
    const boom = await server.gql('{ feed { edges { cursor } } }', {}, as('boom', adaAccess));
    expect(errorCode(boom)).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
  } finally {
    server.app.services.posts.feed = feed;
  }
  captured = false;

  // /metrics: exactly what the scenario did.
  expect(await metric(server, 'warden_logins_total', { result: 'ok' })).toBe(3);
  expect(await metric(server, 'warden_logins_total', { result: 'failed' })).toBe(MAX_FAILURES);
  expect(await metric(server, 'warden_logins_total', { result: 'locked' })).toBe(1);
  expect(await metric(server, 'warden_lockouts_total')).toBe(1);
  expect(await metric(server, 'warden_refresh_total', { result: 'ok' })).toBe(3);
  expect(await metric(server, 'warden_refresh_total', { result: 'grace' })).toBe(1);
  expect(await metric(server, 'warden_refresh_total', { result: 'reused' })).toBe(1);
  expect(await metric(server, 'warden_sessions_revoked_total', { reason: 'reuse' })).toBe(1);
  expect(await metric(server, 'warden_sessions_revoked_total', { reason: 'logout' })).toBe(1);
  expect(await metric(server, 'warden_sessions_revoked_total', { reason: 'revoked' })).toBe(1);

  // Logs: JSON, each line naming the request it belongs to, once.
  const scenarioLines = lines;
  expect(scenarioLines.length).toBeGreaterThan(2 * step);
  const parsed = scenarioLines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(parsed.filter((entry) => typeof entry.reqId !== 'string' || !entry.reqId.startsWith('scenario-'))).toEqual([]);
  expect(scenarioLines.filter((line) => line.split('"reqId"').length !== 2)).toEqual([]);
  // Lines that services log, not Fastify, carry it too.
  const reuseLine = parsed.find((entry) => entry.msg === 'refresh token reuse: session ended');
  expect(reuseLine?.reqId).toMatch(/^scenario-\d+-reuse$/);
  const boomLine = parsed.find((entry) => entry.msg === 'unexpected error in a GraphQL operation');
  expect(boomLine?.reqId).toMatch(/^scenario-\d+-boom$/);
  expect(JSON.stringify(boomLine)).toContain('boom from the feed');

  // And no secret: passwords, refresh tokens and access-token signatures never appear.
  const text = lines.join('\n');
  expect(secrets.filter((secret) => text.includes(secret))).toEqual([]);
});
