/**
 * Apollo Client and urql against a running Warden whose access tokens live two seconds (and one
 * with the default lifetime, for the tests that are not about expiry): the refresh is
 * transparent, single-flight, retried once, and a dead session ends in onSignedOut.
 */
import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  MeDocument,
  UserDocument,
  UsersDocument,
  CreatePostDocument,
  ChangePasswordDocument,
  memoryTokenStore,
  type AuthPayloadFieldsFragment,
} from '@warden/client';
import { ManualClock } from '../../src/lib/clock';
import { refresh } from '../sessions/support';
import { countingFetch, DRIVERS, graphqlResponse, refreshMetric, SHORT_TTL_ENV, expireAccessToken } from './support';
import { pairOf, LOGOUT, signupUser, startTestServer, type TestServer } from '../kit';

/** Access tokens that live two seconds, for the tests about expiry. */
/** The expiry server's clock: tests move it past a token's expiry instead of waiting. */
const clock = new ManualClock();
let server: TestServer;
/** The default fifteen minutes, for the tests that must not meet an expiry on a slow machine. */
let steady: TestServer;
beforeAll(async () => {
  [server, steady] = await Promise.all([startTestServer({ env: SHORT_TTL_ENV, clock }), startTestServer()]);
});
afterAll(() => Promise.all([server.close(), steady.close()]));

/** Signs a user up through the API and returns the whole AuthPayload. */
async function signUp(on: TestServer = server): Promise<AuthPayloadFieldsFragment> {
  const { email, password } = await signupUser(on);
  const login = await on.gql(
    `mutation($input: LoginInput!) { login(input: $input) { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt user { id name email emailVerified role avatarUrl bio createdAt } } }`,
    { input: { email, password } },
  );
  return login.body.data!.login as AuthPayloadFieldsFragment;
}

describe.each(Object.keys(DRIVERS) as Array<keyof typeof DRIVERS>)('%s', (kind) => {
  const makeDriver = DRIVERS[kind];

  it('runs a query after expiry transparently, with exactly one refreshToken call', async () => {
    const counter = countingFetch();
    const client = makeDriver({ server, fetch: counter.fetch });
    const payload = await signUp();
    await client.auth.signIn(payload);
    expireAccessToken(clock, payload.accessTokenExpiresAt);
    const rotationsBefore = await refreshMetric(server);

    const result = await client.query(MeDocument);

    expect(result.error).toBeUndefined();
    expect(result.data?.me.id).toBe(payload.user.id);
    expect(counter.refreshCalls()).toBe(1);
    expect(await refreshMetric(server)).toBe(rotationsBefore + 1);
    // The first attempt really met ACCESS_TOKEN_EXPIRED; the retry went out with the new token.
    expect(counter.seen.filter((r) => r.operationName === 'Me').map((r) => r.code)).toEqual([ErrorCode.ACCESS_TOKEN_EXPIRED, null]);
    expect(client.auth.accessToken).not.toBe(payload.accessToken);
    expect(client.auth.refreshTokenValue).not.toBe(payload.refreshToken);
    expect(client.signedOut).toEqual([]);
  });

  it('refreshes once for ten concurrent queries after expiry, and retries each', async () => {
    const counter = countingFetch();
    const client = makeDriver({ server, fetch: counter.fetch });
    const payload = await signUp();
    await client.auth.signIn(payload);
    expireAccessToken(clock, payload.accessTokenExpiresAt);
    const before = { ok: await refreshMetric(server), grace: await refreshMetric(server, 'grace') };

    // Ten different operations (different variables), so neither client merges them into one.
    const ids = [payload.user.id, ...Array.from({ length: 9 }, () => randomUUID())];
    const results = await Promise.all(ids.map((id) => client.query(UserDocument, { id })));

    expect(results.map((r) => r.error)).toEqual(Array(10).fill(undefined));
    expect(results[0].data?.user?.id).toBe(payload.user.id);
    expect(results.slice(1).map((r) => r.data?.user)).toEqual(Array(9).fill(null));
    expect(counter.refreshCalls()).toBe(1);
    expect(await refreshMetric(server)).toBe(before.ok + 1);
    expect(await refreshMetric(server, 'grace')).toBe(before.grace);
    const attempts = counter.seen.filter((r) => r.operationName === 'User');
    expect(attempts.filter((r) => r.code === ErrorCode.ACCESS_TOKEN_EXPIRED)).toHaveLength(10);
    expect(attempts.filter((r) => r.code === null)).toHaveLength(10);
  });

  it('ends in onSignedOut when the refresh token was already reused', async () => {
    const counter = countingFetch();
    const client = makeDriver({ server, fetch: counter.fetch });
    const payload = await signUp();
    await client.auth.signIn(payload);
    // Someone else spends the token twice, so the client's copy is no longer the immediately
    // previous one and the grace window does not cover it.
    const stolen = pairOf(await refresh(server, payload.refreshToken));
    const stolenAgain = pairOf(await refresh(server, stolen.refreshToken));
    expireAccessToken(clock, payload.accessTokenExpiresAt);

    const result = await client.query(MeDocument);

    expect(result.code).toBe(ErrorCode.REFRESH_TOKEN_REUSED);
    expect(client.signedOut).toEqual([expect.objectContaining({ code: ErrorCode.REFRESH_TOKEN_REUSED })]);
    expect(client.auth.accessToken).toBeNull();
    expect(client.auth.refreshTokenValue).toBeNull();
    expect(counter.refreshCalls()).toBe(1);
    // Reuse ended the session, so the thief's newest token is dead too.
    expect((await refresh(server, stolenAgain.refreshToken)).body.errors?.[0]?.extensions?.code).toBe(ErrorCode.SESSION_REVOKED);

    // Signed out stays signed out: the next operation goes without a token and calls onSignedOut no more.
    const after = await client.query(MeDocument);
    expect(after.code).toBe(ErrorCode.UNAUTHENTICATED);
    expect(client.signedOut).toHaveLength(1);
    expect(counter.refreshCalls()).toBe(1);
  });

  it('signs out on SESSION_REVOKED without trying a refresh', async () => {
    const counter = countingFetch();
    const client = makeDriver({ server: steady, fetch: counter.fetch });
    const payload = await signUp(steady);
    await client.auth.signIn(payload);
    const logout = await steady.gql(LOGOUT, {}, { token: payload.accessToken });
    expect(logout.body.data?.logout).toBe(true);

    const results = await Promise.all([client.query(MeDocument), client.query(UserDocument, { id: payload.user.id })]);

    expect(results.map((r) => r.code)).toEqual([ErrorCode.SESSION_REVOKED, ErrorCode.SESSION_REVOKED]);
    expect(client.signedOut).toEqual([expect.objectContaining({ code: ErrorCode.SESSION_REVOKED })]);
    expect(client.auth.accessToken).toBeNull();
    expect(counter.refreshCalls()).toBe(0);
  });

  it('shows Warden’s codes in the client’s own error objects, and keeps the session', async () => {
    const client = makeDriver({ server: steady, fetch: countingFetch().fetch });
    await client.auth.signIn(await signUp(steady));

    const forbidden = await client.query(UsersDocument, { first: 5 });
    expect(forbidden.code).toBe(ErrorCode.FORBIDDEN);
    const invalid = await client.mutate(CreatePostDocument, { input: { title: '', body: 'text' } });
    expect(invalid.code).toBe(ErrorCode.BAD_USER_INPUT);
    const errors =
      kind === 'apollo'
        ? (invalid.error as { errors: Array<{ extensions: Record<string, unknown> }> }).errors
        : (invalid.error as { graphQLErrors: Array<{ extensions: Record<string, unknown> }> }).graphQLErrors;
    expect(errors[0].extensions.fields).toEqual({ title: expect.any(String) });
    expect(client.signedOut).toEqual([]);
    expect(client.auth.accessToken).not.toBeNull();
  });

  it('keeps the new tokens that changePassword returns through the client', async () => {
    const counter = countingFetch();
    const client = makeDriver({ server: steady, fetch: counter.fetch });
    const payload = await signUp(steady);
    await client.auth.signIn(payload);

    const changed = await client.mutate(ChangePasswordDocument, {
      currentPassword: 'correct horse battery',
      newPassword: 'another horse battery',
    });

    expect(changed.error).toBeUndefined();
    expect(client.auth.accessToken).toBe(changed.data!.changePassword.accessToken);
    expect(client.auth.refreshTokenValue).toBe(changed.data!.changePassword.refreshToken);
    // The refresh token the client held before is dead; the one it keeps now works.
    expect((await refresh(steady, payload.refreshToken)).body.errors?.[0]?.extensions?.code).toBe(ErrorCode.REFRESH_TOKEN_INVALID);
    await client.auth.refresh();
    expect(counter.refreshCalls()).toBe(1);
    expect(client.signedOut).toEqual([]);
  });

  it('sends anonymous operations past CSRF prevention and reports UNAUTHENTICATED once', async () => {
    const counter = countingFetch();
    const client = makeDriver({ server: steady, fetch: counter.fetch });

    const first = await client.query(MeDocument);
    const second = await client.query(UserDocument, { id: randomUUID() });

    // urql sends these queries as GET: without Apollo-Require-Preflight Warden would answer 400.
    expect([first.code, second.code]).toEqual([ErrorCode.UNAUTHENTICATED, ErrorCode.UNAUTHENTICATED]);
    expect(client.signedOut).toEqual([expect.objectContaining({ code: ErrorCode.UNAUTHENTICATED })]);
    expect(counter.refreshCalls()).toBe(0);
  });

  it('retries an operation once only, then hands over the error', async () => {
    // A server that keeps answering ACCESS_TOKEN_EXPIRED to `Me` (a clock far off, say); the
    // refresh itself reaches the real Warden.
    const expired = {
      data: null,
      errors: [{ message: 'The access token has expired.', path: ['me'], extensions: { code: 'ACCESS_TOKEN_EXPIRED' } }],
    };
    const counter = countingFetch({ intercept: (name) => (name === 'Me' ? graphqlResponse(expired) : undefined) });
    const client = makeDriver({ server: steady, fetch: counter.fetch });
    await client.auth.signIn(await signUp(steady));

    const result = await client.query(MeDocument);

    expect(result.code).toBe(ErrorCode.ACCESS_TOKEN_EXPIRED);
    expect(counter.count('Me')).toBe(2);
    expect(counter.refreshCalls()).toBe(1);
    expect(client.signedOut).toEqual([]);
  });

  it('keeps the session and fails the operation when the refresh cannot reach Warden', async () => {
    const expired = {
      data: null,
      errors: [{ message: 'The access token has expired.', path: ['me'], extensions: { code: 'ACCESS_TOKEN_EXPIRED' } }],
    };
    const counter = countingFetch({
      intercept: (name) => {
        if (name === 'Me') return graphqlResponse(expired);
        if (name === 'WardenRefreshToken')
          return new Response('<html>502 Bad Gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } });
        return undefined;
      },
    });
    const store = memoryTokenStore();
    const client = makeDriver({ server: steady, fetch: counter.fetch, tokenStore: store });
    const payload = await signUp(steady);
    await client.auth.signIn(payload);

    const result = await client.query(MeDocument);

    expect(result.error).toBeDefined();
    expect(result.code).toBeUndefined();
    expect(client.signedOut).toEqual([]);
    expect(await store.load()).toEqual({ accessToken: payload.accessToken, refreshToken: payload.refreshToken });
  });
});
