import { randomBytes, randomUUID } from 'node:crypto';
import { auditEvents, expiredCopy, refresh, sessionRow } from './support';
import {
  pairOf,
  LOGIN,
  LOGOUT,
  ME,
  metric,
  errorCode,
  sessionIdOf,
  signupUser,
  startTestServer,
  type SignedUp,
  type TestServer,
} from '../kit';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const MY_SESSIONS = 'query { mySessions { id createdAt lastUsedAt expiresAt userAgent ip current } }';
const REVOKE = 'mutation($id: ID!) { revokeSession(id: $id) }';
const CHANGE_PASSWORD = `mutation($current: String!, $next: String!) {
  changePassword(currentPassword: $current, newPassword: $next) { accessToken refreshToken refreshTokenExpiresAt user { id email } }
}`;

/** Another sign-in of the same user: a second session. */
async function loginAgain(user: SignedUp, userAgent = 'second-device/2.0') {
  const res = await server.gql(LOGIN, { input: { email: user.email, password: user.password } }, { headers: { 'user-agent': userAgent } });
  if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
  return res.body.data!.login as { accessToken: string; refreshToken: string };
}

const works = async (accessToken: string) => (await server.gql(ME, {}, { token: accessToken })).body.data?.me?.id;

describe('mySessions', () => {
  it('lists the viewer’s live sessions with the current one marked, user agent, IP and last use', async () => {
    const user = await signupUser(server);
    const second = await loginAgain(user);
    const stranger = await signupUser(server);
    const res = await server.gql(MY_SESSIONS, {}, { token: second.accessToken });
    expect(res.body.errors).toBeUndefined();
    const sessions = res.body.data!.mySessions as Array<Record<string, unknown>>;
    expect(sessions.map((s) => s.id).sort()).toEqual([sessionIdOf(user.accessToken), sessionIdOf(second.accessToken)].sort());
    expect(sessions.map((s) => s.id)).not.toContain(sessionIdOf(stranger.accessToken));
    const current = sessions.find((s) => s.current)!;
    expect(current).toMatchObject({ id: sessionIdOf(second.accessToken), userAgent: 'second-device/2.0', ip: '127.0.0.1' });
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    for (const s of sessions) {
      expect(Date.parse(s.lastUsedAt as string)).toBeGreaterThan(0);
      expect(Date.parse(s.expiresAt as string)).toBeGreaterThan(Date.now());
    }
  });

  it('moves lastUsedAt on refresh and leaves ended sessions out', async () => {
    const user = await signupUser(server);
    const second = await loginAgain(user);
    const before = (await server.gql(MY_SESSIONS, {}, { token: user.accessToken })).body.data!.mySessions;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const next = pairOf(await refresh(server, user.refreshToken));
    await server.gql(LOGOUT, { scope: 'LOCAL' }, { token: second.accessToken });
    const after = (await server.gql(MY_SESSIONS, {}, { token: next.accessToken })).body.data!.mySessions as Array<{
      id: string;
      lastUsedAt: string;
    }>;
    expect(after.map((s) => s.id)).toEqual([sessionIdOf(user.accessToken)]);
    const old = before.find((s: { id: string }) => s.id === after[0].id);
    expect(Date.parse(after[0].lastUsedAt)).toBeGreaterThan(Date.parse(old.lastUsedAt));
  });

  it('answers UNAUTHENTICATED without a token', async () => {
    expect(errorCode(await server.gql(MY_SESSIONS))).toBe('UNAUTHENTICATED');
  });
});

describe('revokeSession', () => {
  it('ends one of the viewer’s own sessions at once: its access and refresh tokens answer SESSION_REVOKED', async () => {
    const user = await signupUser(server);
    const second = await loginAgain(user);
    const res = await server.gql(REVOKE, { id: sessionIdOf(second.accessToken) }, { token: user.accessToken });
    expect(res.body.data!.revokeSession).toBe(true);
    expect(errorCode(await server.gql(ME, {}, { token: second.accessToken }))).toBe('SESSION_REVOKED');
    expect(errorCode(await refresh(server, second.refreshToken))).toBe('SESSION_REVOKED');
    expect(await works(user.accessToken)).toBe(user.user.id);
    const event = (await auditEvents(server, user.user.id)).find((e) => e.type === 'session_revoked');
    expect(event).toMatchObject({ sessionId: sessionIdOf(second.accessToken), ip: '127.0.0.1' });
  });

  it.each([
    ['another user’s session', 'other'],
    ['an unknown id', randomUUID()],
    ['a malformed id', 'not-a-uuid'],
  ])('answers NOT_FOUND for %s and changes nothing', async (_what, which) => {
    const user = await signupUser(server);
    const other = await signupUser(server);
    const id = which === 'other' ? sessionIdOf(other.accessToken) : which;
    const res = await server.gql(REVOKE, { id }, { token: user.accessToken });
    expect(errorCode(res)).toBe('NOT_FOUND');
    expect(await works(other.accessToken)).toBe(other.user.id);
    expect((await sessionRow(server, sessionIdOf(other.accessToken)))!.revokedAt).toBeNull();
  });

  it('answers UNAUTHENTICATED without a token', async () => {
    expect(errorCode(await server.gql(REVOKE, { id: randomUUID() }))).toBe('UNAUTHENTICATED');
  });
});

describe('logout', () => {
  it('LOCAL (the default) ends the session of the access token only, and is idempotent', async () => {
    const user = await signupUser(server);
    const second = await loginAgain(user);
    const res = await server.gql('mutation { logout }', {}, { token: user.accessToken });
    expect(res.body.data!.logout).toBe(true);
    expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBe('SESSION_REVOKED');
    expect(errorCode(await refresh(server, user.refreshToken))).toBe('SESSION_REVOKED');
    expect(await works(second.accessToken)).toBe(user.user.id);
    const again = await server.gql('mutation { logout }', {}, { token: user.accessToken });
    expect(again.body.data!.logout).toBe(true);
    const event = (await auditEvents(server, user.user.id)).find((e) => e.type === 'logout');
    expect(event).toMatchObject({ sessionId: sessionIdOf(user.accessToken), ip: '127.0.0.1' });
    expect(event!.detail).toMatchObject({ scope: 'LOCAL', sessionsEnded: 1 });
  });

  it('works from the refresh token alone (argument), even with an expired access token in the header', async () => {
    const user = await signupUser(server);
    const res = await server.gql(LOGOUT, { refreshToken: user.refreshToken }, { token: expiredCopy(user.accessToken) });
    expect(res.body.data!.logout).toBe(true);
    expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBe('SESSION_REVOKED');
  });

  it('accepts the immediately previous refresh token within the grace window', async () => {
    const user = await signupUser(server);
    const next = pairOf(await refresh(server, user.refreshToken));
    expect((await server.gql(LOGOUT, { refreshToken: user.refreshToken })).body.data!.logout).toBe(true);
    expect(errorCode(await server.gql(ME, {}, { token: next.accessToken }))).toBe('SESSION_REVOKED');
  });

  it('OTHERS ends every other session of the user and keeps this one', async () => {
    const user = await signupUser(server);
    const second = await loginAgain(user);
    const third = await loginAgain(user);
    const stranger = await signupUser(server);
    const res = await server.gql(LOGOUT, { scope: 'OTHERS' }, { token: second.accessToken });
    expect(res.body.data!.logout).toBe(true);
    expect(await works(second.accessToken)).toBe(user.user.id);
    pairOf(await refresh(server, second.refreshToken));
    expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBe('SESSION_REVOKED');
    expect(errorCode(await server.gql(ME, {}, { token: third.accessToken }))).toBe('SESSION_REVOKED');
    expect(await works(stranger.accessToken)).toBe(stranger.user.id);
    const event = (await auditEvents(server, user.user.id)).find((e) => e.type === 'logout');
    expect(event!.detail).toMatchObject({ scope: 'OTHERS', sessionsEnded: 2 });
  });

  it('GLOBAL ends all of the user’s sessions, from the refresh token alone', async () => {
    const revokedBefore = await metric(server, 'warden_sessions_revoked_total{reason="logout"}');
    const user = await signupUser(server);
    const second = await loginAgain(user);
    const stranger = await signupUser(server);
    const res = await server.gql(LOGOUT, { scope: 'GLOBAL', refreshToken: second.refreshToken });
    expect(res.body.data!.logout).toBe(true);
    expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBe('SESSION_REVOKED');
    expect(errorCode(await server.gql(ME, {}, { token: second.accessToken }))).toBe('SESSION_REVOKED');
    expect(await works(stranger.accessToken)).toBe(stranger.user.id);
    expect(await metric(server, 'warden_sessions_revoked_total{reason="logout"}')).toBe(revokedBefore + 2);
  });

  it('returns true and changes nothing with no credential, a garbage token or an unknown one', async () => {
    const user = await signupUser(server);
    for (const variables of [
      {},
      { refreshToken: 'garbage' },
      { refreshToken: randomBytes(32).toString('base64url') },
      { scope: 'GLOBAL', refreshToken: '' },
    ]) {
      const res = await server.gql(LOGOUT, variables);
      expect(res.body.data!.logout).toBe(true);
    }
    expect(await works(user.accessToken)).toBe(user.user.id);
  });

  it('a spent token outside the grace window logs nothing out (it names no live session)', async () => {
    const user = await signupUser(server);
    const second = await loginAgain(user);
    const next = pairOf(await refresh(server, user.refreshToken));
    pairOf(await refresh(server, next.refreshToken));
    // user.refreshToken is now an older ancestor: not accepted as a logout credential.
    expect((await server.gql(LOGOUT, { scope: 'GLOBAL', refreshToken: user.refreshToken })).body.data!.logout).toBe(true);
    expect(await works(second.accessToken)).toBe(user.user.id);
  });
});

describe('changePassword', () => {
  it('needs the current password, ends every other session and returns fresh tokens for this one', async () => {
    const user = await signupUser(server);
    const second = await loginAgain(user);
    const res = await server.gql(CHANGE_PASSWORD, { current: user.password, next: 'a brand new passphrase' }, { token: user.accessToken });
    expect(res.body.errors).toBeUndefined();
    const fresh = res.body.data!.changePassword;
    expect(fresh.user).toMatchObject({ id: user.user.id, email: user.email });
    expect(sessionIdOf(fresh.accessToken)).toBe(sessionIdOf(user.accessToken));
    expect(fresh.refreshToken).not.toBe(user.refreshToken);

    expect(errorCode(await server.gql(ME, {}, { token: second.accessToken }))).toBe('SESSION_REVOKED');
    expect(errorCode(await refresh(server, second.refreshToken))).toBe('SESSION_REVOKED');
    // This session goes on; its refresh token from before the change no longer works.
    expect(await works(fresh.accessToken)).toBe(user.user.id);
    expect(await works(user.accessToken)).toBe(user.user.id);
    expect(errorCode(await refresh(server, user.refreshToken))).toBe('REFRESH_TOKEN_INVALID');
    pairOf(await refresh(server, fresh.refreshToken));

    const oldLogin = await server.gql(LOGIN, { input: { email: user.email, password: user.password } });
    expect(errorCode(oldLogin)).toBe('INVALID_CREDENTIALS');
    const newLogin = await server.gql(LOGIN, { input: { email: user.email, password: 'a brand new passphrase' } });
    expect(newLogin.body.errors).toBeUndefined();

    const event = (await auditEvents(server, user.user.id)).find((e) => e.type === 'password_changed');
    expect(event).toMatchObject({ sessionId: sessionIdOf(user.accessToken), ip: '127.0.0.1' });
    expect(event!.detail).toMatchObject({ sessionsEnded: 1 });
  });

  it('answers INVALID_CREDENTIALS for a wrong current password and changes nothing', async () => {
    const user = await signupUser(server);
    const second = await loginAgain(user);
    const res = await server.gql(
      CHANGE_PASSWORD,
      { current: 'not the password', next: 'a brand new passphrase' },
      { token: user.accessToken },
    );
    expect(errorCode(res)).toBe('INVALID_CREDENTIALS');
    expect(await works(second.accessToken)).toBe(user.user.id);
    pairOf(await refresh(server, user.refreshToken));
    expect((await server.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.errors).toBeUndefined();
  });

  it('refuses a too-short or over-long new password with BAD_USER_INPUT on newPassword', async () => {
    const user = await signupUser(server);
    for (const next of ['short', 'é'.repeat(37)]) {
      const res = await server.gql(CHANGE_PASSWORD, { current: user.password, next }, { token: user.accessToken });
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      expect(res.body.errors![0].extensions!.fields).toHaveProperty('newPassword');
    }
    expect((await server.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.errors).toBeUndefined();
  });

  it('answers UNAUTHENTICATED without a token and SESSION_REVOKED from an ended session', async () => {
    expect(errorCode(await server.gql(CHANGE_PASSWORD, { current: 'whatever1', next: 'whatever2' }))).toBe('UNAUTHENTICATED');
    const user = await signupUser(server);
    await server.gql('mutation { logout }', {}, { token: user.accessToken });
    const res = await server.gql(CHANGE_PASSWORD, { current: user.password, next: 'a brand new passphrase' }, { token: user.accessToken });
    expect(errorCode(res)).toBe('SESSION_REVOKED');
  });
});

describe('audit trail', () => {
  it('records login ok and failed with user, session, IP, user agent and time', async () => {
    const user = await signupUser(server);
    const headers = { 'user-agent': 'audit-test/3.0' };
    await server.gql(LOGIN, { input: { email: user.email, password: 'wrong password' } }, { headers });
    const ok = (await server.gql(LOGIN, { input: { email: user.email, password: user.password } }, { headers })).body.data!.login;
    const events = await auditEvents(server, user.user.id);
    expect(events.find((e) => e.type === 'login_failed')).toMatchObject({
      ip: '127.0.0.1',
      userAgent: 'audit-test/3.0',
      createdAt: expect.any(Date),
    });
    expect(events.find((e) => e.type === 'login_ok')).toMatchObject({
      sessionId: sessionIdOf(ok.accessToken),
      ip: '127.0.0.1',
      userAgent: 'audit-test/3.0',
      createdAt: expect.any(Date),
    });
  });
});

describe('two instances sharing the store', () => {
  let second: TestServer;
  beforeAll(async () => {
    second = await startTestServer({ shareWith: server });
  });
  afterAll(() => second.close());

  it('a logout on one instance ends the session on the other at its next request', async () => {
    const user = await signupUser(server);
    expect((await second.gql(ME, {}, { token: user.accessToken })).body.data!.me.id).toBe(user.user.id);
    await server.gql('mutation { logout }', {}, { token: user.accessToken });
    expect(errorCode(await second.gql(ME, {}, { token: user.accessToken }))).toBe('SESSION_REVOKED');
  });

  it('reuse detected on one instance revokes the access tokens the other sees', async () => {
    const user = await signupUser(server);
    const next = pairOf(await refresh(second, user.refreshToken));
    const third = pairOf(await refresh(server, next.refreshToken));
    expect(errorCode(await refresh(second, user.refreshToken))).toBe('REFRESH_TOKEN_REUSED'); // an older ancestor
    expect(errorCode(await server.gql(ME, {}, { token: third.accessToken }))).toBe('SESSION_REVOKED');
    expect(errorCode(await second.gql(ME, {}, { token: third.accessToken }))).toBe('SESSION_REVOKED');
  });

  it('a grace replay on the other instance returns the same successor', async () => {
    const user = await signupUser(server);
    const [a, b] = await Promise.all([refresh(server, user.refreshToken), refresh(second, user.refreshToken)]);
    expect(pairOf(a).refreshToken).toBe(pairOf(b).refreshToken);
  });
});
