/**
 * Cookie transport (REFRESH_TOKEN_TRANSPORT=cookie): the refresh token never reaches the client's
 * code or its token store; the refresh call relies on the `refresh_token` cookie alone.
 */
import { ErrorCode, LoginDocument, MeDocument, memoryTokenStore } from '@warden/client';
import { ManualClock } from '../../src/lib/clock';
import { CookieJar, countingFetch, DRIVERS, refreshMetric, SHORT_TTL_ENV, expireAccessToken } from './support';
import { signupUser, startTestServer, type TestServer } from '../kit';

/** The expiry server's clock: tests move it past a token's expiry instead of waiting. */
const clock = new ManualClock();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { ...SHORT_TTL_ENV, REFRESH_TOKEN_TRANSPORT: 'cookie' }, clock });
});
afterAll(() => server.close());

describe.each(Object.keys(DRIVERS) as Array<keyof typeof DRIVERS>)('%s in cookie transport', (kind) => {
  const makeDriver = DRIVERS[kind];

  it('refreshes from the cookie after expiry, storing no refresh token', async () => {
    const { email, password } = await signupUser(server);
    const jar = new CookieJar();
    const counter = countingFetch({ jar });
    const store = memoryTokenStore();
    const client = makeDriver({ server, fetch: counter.fetch, tokenStore: store });

    const login = await client.mutate(LoginDocument, { input: { email, password } });
    expect(login.error).toBeUndefined();
    const payload = login.data!.login;
    expect(payload.refreshToken).toBeNull();
    const firstCookie = jar.cookies.get('refresh_token');
    expect(firstCookie).toBeDefined();
    // The client kept the access token of the login it carried (captureTokens), no signIn needed.
    expect(client.auth.accessToken).toBe(payload.accessToken);
    expireAccessToken(clock, payload.accessTokenExpiresAt);
    const rotationsBefore = await refreshMetric(server);

    const me = await client.query(MeDocument);

    expect(me.error).toBeUndefined();
    expect(me.data?.me.email).toBe(email);
    expect(counter.refreshCalls()).toBe(1);
    expect(await refreshMetric(server)).toBe(rotationsBefore + 1);
    expect(await store.load()).toEqual({ accessToken: expect.any(String), refreshToken: null });
    expect(jar.cookies.get('refresh_token')).not.toBe(firstCookie);
    expect(client.signedOut).toEqual([]);

    // A reload: a new client with an empty store restores the session from the cookie.
    const reloaded = makeDriver({ server, fetch: counter.fetch });
    await reloaded.auth.refresh();
    const again = await reloaded.query(MeDocument);
    expect(again.data?.me.email).toBe(email);
  });

  it('signs out when there is no cookie to refresh with', async () => {
    const client = makeDriver({ server, fetch: countingFetch({ jar: new CookieJar() }).fetch });
    await expect(client.auth.refresh()).rejects.toMatchObject({ code: ErrorCode.REFRESH_TOKEN_INVALID, signedOut: true });
    expect(client.signedOut).toEqual([expect.objectContaining({ code: ErrorCode.REFRESH_TOKEN_INVALID })]);
  });
});
