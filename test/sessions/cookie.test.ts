/** REFRESH_TOKEN_TRANSPORT: the `refresh_token` cookie (HttpOnly, SameSite=Strict, Path=/graphql). */
import { cookieValue, refresh, refreshCookie } from './support';
import { LOGOUT, ME, errorCode, sessionIdOf, SIGNUP, signupUser, startTestServer, uniqueEmail, type TestServer } from '../kit';

const signupVia = (server: TestServer) =>
  server.gql(SIGNUP, { input: { email: uniqueEmail(), password: 'correct horse battery', name: 'Cookie' } });

describe('REFRESH_TOKEN_TRANSPORT=cookie', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { REFRESH_TOKEN_TRANSPORT: 'cookie' } });
  });
  afterAll(() => server.close());

  it('sets the refresh_token cookie with the right attributes and leaves AuthPayload.refreshToken null', async () => {
    const res = await signupVia(server);
    expect(res.body.data!.signup.refreshToken).toBeNull();
    const cookie = refreshCookie(res)!;
    expect(cookie).toBeDefined();
    expect(cookieValue(cookie)).toMatch(/^[A-Za-z0-9_-]{60}$/);
    expect(cookie).toMatch(/; HttpOnly/i);
    expect(cookie).toMatch(/; SameSite=Strict/i);
    expect(cookie).toMatch(/; Path=\/graphql(;|$)/);
    expect(cookie).not.toMatch(/; Secure/i); // COOKIE_SECURE defaults to false outside production
    expect(Date.parse(cookie.match(/Expires=([^;]+)/i)![1])).toBe(
      Math.floor(Date.parse(res.body.data!.signup.refreshTokenExpiresAt) / 1000) * 1000,
    );
  });

  it('refreshToken reads the cookie when no argument is given, and rotates it', async () => {
    const res = await signupVia(server);
    const token = cookieValue(refreshCookie(res)!);
    const rotated = await refresh(server, null, { cookie: token });
    expect(rotated.body.errors).toBeUndefined();
    expect(rotated.body.data!.refreshToken.refreshToken).toBeNull();
    const next = cookieValue(refreshCookie(rotated)!);
    expect(next).not.toBe(token);
    expect(sessionIdOf(rotated.body.data!.refreshToken.accessToken)).toBe(sessionIdOf(res.body.data!.signup.accessToken));
    expect((await refresh(server, null, { cookie: next })).body.errors).toBeUndefined();
  });

  it('logout ends the session named by the cookie and clears the cookie', async () => {
    const res = await signupVia(server);
    const token = cookieValue(refreshCookie(res)!);
    const out = await server.gql(LOGOUT, {}, { headers: { cookie: `refresh_token=${token}` } });
    expect(out.body.data!.logout).toBe(true);
    const cleared = refreshCookie(out)!;
    expect(cookieValue(cleared)).toBe('');
    expect(Date.parse(cleared.match(/Expires=([^;]+)/i)![1])).toBeLessThan(Date.now());
    expect(cleared).toMatch(/; Path=\/graphql/);
    expect(errorCode(await server.gql(ME, {}, { token: res.body.data!.signup.accessToken }))).toBe('SESSION_REVOKED');
  });

  it('clears a cookie that can never work again', async () => {
    const res = await refresh(server, null, { cookie: 'x'.repeat(43) });
    expect(errorCode(res)).toBe('REFRESH_TOKEN_INVALID');
    expect(cookieValue(refreshCookie(res)!)).toBe('');
  });
});

describe('REFRESH_TOKEN_TRANSPORT=both with COOKIE_SECURE=true', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { REFRESH_TOKEN_TRANSPORT: 'both', COOKIE_SECURE: 'true' } });
  });
  afterAll(() => server.close());

  it('returns the token in the body and in a Secure cookie', async () => {
    const res = await signupVia(server);
    const cookie = refreshCookie(res)!;
    expect(cookieValue(cookie)).toBe(res.body.data!.signup.refreshToken);
    expect(cookie).toMatch(/; Secure/i);
  });

  it('reads the argument first, then the cookie; a bad argument does not clear a good cookie', async () => {
    const user = await signupUser(server);
    const res = await refresh(server, 'garbage', { cookie: user.refreshToken });
    expect(errorCode(res)).toBe('REFRESH_TOKEN_INVALID');
    expect(refreshCookie(res)).toBeUndefined();
    expect((await refresh(server, null, { cookie: user.refreshToken })).body.errors).toBeUndefined();
  });
});

describe('REFRESH_TOKEN_TRANSPORT=body', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { REFRESH_TOKEN_TRANSPORT: 'body' } });
  });
  afterAll(() => server.close());

  it('sets no cookie and ignores one that is sent', async () => {
    const res = await signupVia(server);
    expect(refreshCookie(res)).toBeUndefined();
    const token = res.body.data!.signup.refreshToken;
    expect(errorCode(await refresh(server, null, { cookie: token }))).toBe('REFRESH_TOKEN_INVALID');
    const rotated = await refresh(server, token);
    expect(rotated.body.errors).toBeUndefined();
    expect(refreshCookie(rotated)).toBeUndefined();
  });
});
