import { randomBytes, randomUUID } from 'node:crypto';
import { ManualClock } from '../../src/lib/clock';
import { RefreshTokenCodec } from '../../src/lib/refresh-token';
import { createTestDatabase, type TestDatabase } from '../support/db-template';
import { auditEvents, expiredCopy, prismaOf, decodeRefreshToken, refresh, rowCounts, sessionRow, sqlOf, tokenState } from './support';
import { pairOf, LOGIN, ME, metric, errorCode, sessionIdOf, signupUser, startTestServer, TEST_JWT_SECRET, type TestServer } from '../kit';

const HOUR = 3600_000;
const MINUTE = 60_000;
const clock = new ManualClock();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    clock,
    // Access tokens outlive every step the clock takes here, so a test can hold one across them.
    env: { REFRESH_TOKEN_TTL: '1h', SESSION_MAX_AGE: '150m', REFRESH_REUSE_GRACE: '10s', ACCESS_TOKEN_TTL: '3h' },
  });
});
afterAll(() => server.close());

describe('rotation', () => {
  it('rotates the refresh token within the session and rejects the spent one later', async () => {
    const user = await signupUser(server);
    const sid = sessionIdOf(user.accessToken);
    const next = pairOf(await refresh(server, user.refreshToken));
    expect(next.refreshToken).toMatch(/^[A-Za-z0-9_-]{60}$/);
    expect(decodeRefreshToken(next.refreshToken)).toMatchObject({ version: 1, sessionId: sid, generation: 1 });
    expect(next.refreshToken).not.toBe(user.refreshToken);
    expect(sessionIdOf(next.accessToken)).toBe(sid);
    const me = await server.gql(ME, {}, { token: next.accessToken });
    expect(me.body.data!.me.id).toBe(user.user.id);

    clock.advance(11_000); // past REFRESH_REUSE_GRACE
    expect(errorCode(await refresh(server, user.refreshToken))).toBe('REFRESH_TOKEN_REUSED');
  });

  it('keeps no token: the session row holds a salt and a counter, which make no token without the secret', async () => {
    const user = await signupUser(server);
    const next = pairOf(await refresh(server, user.refreshToken));
    const sid = sessionIdOf(user.accessToken);
    const row = (await sessionRow(server, sid))!;
    expect(row.generation).toBe(1);
    expect(row.tokenSalt).toHaveLength(16);
    const text = Buffer.from(JSON.stringify(row)).toString('latin1') + Buffer.from(row.tokenSalt).toString('latin1');
    for (const secret of [user.refreshToken, next.refreshToken, next.accessToken]) {
      expect(text.includes(secret)).toBe(false);
      // Nor the token's authenticator (bytes 21..37), in any encoding.
      const tag = decodeRefreshToken(secret.length === 60 ? secret : next.refreshToken).bytes.subarray(21, 37);
      expect(text.includes(tag.toString('latin1'))).toBe(false);
      expect(text.includes(tag.toString('base64url'))).toBe(false);
    }
    // With the row's salt but another secret the token cannot be made; with the secret and
    // another salt neither. Only both together make it.
    expect(new RefreshTokenCodec(['x'.repeat(32)]).mint(sid, row.tokenSalt, 1)).not.toBe(next.refreshToken);
    expect(new RefreshTokenCodec([TEST_JWT_SECRET]).mint(sid, new Uint8Array(16), 1)).not.toBe(next.refreshToken);
    expect(new RefreshTokenCodec([TEST_JWT_SECRET]).mint(sid, row.tokenSalt, 1)).toBe(next.refreshToken);
  });

  it('storage per session is constant: 500 rotations add no row anywhere', async () => {
    const user = await signupUser(server);
    const sid = sessionIdOf(user.accessToken);
    let token = pairOf(await refresh(server, user.refreshToken)).refreshToken;
    const after1 = await rowCounts(server);
    for (let i = 0; i < 499; i += 1) token = pairOf(await refresh(server, token)).refreshToken;
    expect(await rowCounts(server)).toEqual(after1);
    expect((await tokenState(server, sid))!.generation).toBe(500);
    expect(decodeRefreshToken(token).generation).toBe(500);
  }, 120_000);

  it('renews the idle lifetime at each rotation, never past SESSION_MAX_AGE', async () => {
    const t0 = clock.now();
    const user = await signupUser(server);
    const sid = sessionIdOf(user.accessToken);
    const absolute = (await sessionRow(server, sid))!.absoluteExpiresAt.getTime();
    expect(absolute).toBe(t0 + 150 * MINUTE);

    clock.advance(50 * MINUTE);
    const second = pairOf(await refresh(server, user.refreshToken));
    expect(new Date(second.refreshTokenExpiresAt).getTime()).toBe(t0 + 50 * MINUTE + HOUR);
    expect((await sessionRow(server, sid))!.expiresAt.getTime()).toBe(t0 + 50 * MINUTE + HOUR);

    clock.advance(50 * MINUTE);
    const third = pairOf(await refresh(server, second.refreshToken));
    expect(new Date(third.refreshTokenExpiresAt).getTime()).toBe(absolute); // capped

    clock.advance(51 * MINUTE); // past the absolute lifetime
    expect(errorCode(await refresh(server, third.refreshToken))).toBe('REFRESH_TOKEN_EXPIRED');
  });

  it('answers REFRESH_TOKEN_EXPIRED past the idle lifetime, and the token stays unspent', async () => {
    const user = await signupUser(server);
    clock.advance(HOUR + 1000);
    const res = await refresh(server, user.refreshToken);
    expect(errorCode(res)).toBe('REFRESH_TOKEN_EXPIRED');
    const state = (await tokenState(server, sessionIdOf(user.accessToken)))!;
    expect(state).toMatchObject({ generation: 0, rotatedAt: null, revokedAt: null });
  });

  it('writes no audit row for a plain rotation by default, but counts it in /metrics', async () => {
    const okBefore = await metric(server, 'warden_refresh_total{result="ok"}');
    const user = await signupUser(server);
    pairOf(await refresh(server, user.refreshToken));
    expect((await auditEvents(server, user.user.id)).filter((e) => e.type === 'refresh')).toHaveLength(0);
    expect(await metric(server, 'warden_refresh_total{result="ok"}')).toBe(okBefore + 1);
  });

  it('AUDIT_REFRESH=true: records a refresh audit event with user, session, IP and user agent', async () => {
    const audited = await startTestServer({ env: { AUDIT_REFRESH: 'true', DATABASE_URL: '' } });
    try {
      const user = await signupUser(audited);
      const next = pairOf(
        await audited.gql(
          `mutation($t: String) { refreshToken(refreshToken: $t) { accessToken refreshToken refreshTokenExpiresAt } }`,
          { t: user.refreshToken },
          { headers: { 'user-agent': 'rotation-test/1.0' } },
        ),
      );
      pairOf(await refresh(audited, user.refreshToken)); // a grace replay
      const events = (await auditEvents(audited, user.user.id)).filter((e) => e.type === 'refresh');
      expect(events).toHaveLength(2);
      expect(events[0]).toMatchObject({
        sessionId: sessionIdOf(user.accessToken),
        ip: '127.0.0.1',
        userAgent: 'rotation-test/1.0',
        detail: null,
      });
      expect(events[1]).toMatchObject({ detail: { grace: true } });
      expect(events[0].createdAt).toBeInstanceOf(Date);
      expect(next.refreshToken).toBeTruthy();
    } finally {
      await audited.close();
    }
  });

  it('counts refreshes by result in warden_refresh_total', async () => {
    const before = await metric(server, 'warden_refresh_total{result="ok"}');
    const invalidBefore = await metric(server, 'warden_refresh_total{result="invalid"}');
    const user = await signupUser(server);
    pairOf(await refresh(server, user.refreshToken));
    await refresh(server, 'nonsense');
    expect(await metric(server, 'warden_refresh_total{result="ok"}')).toBe(before + 1);
    expect(await metric(server, 'warden_refresh_total{result="invalid"}')).toBe(invalidBefore + 1);
  });
});

describe('reuse and grace', () => {
  it('within the grace window, the previous token returns the same successor and a valid access token of the session', async () => {
    const graceBefore = await metric(server, 'warden_refresh_total{result="grace"}');
    const user = await signupUser(server);
    const first = pairOf(await refresh(server, user.refreshToken));
    clock.advance(5_000);
    const again = pairOf(await refresh(server, user.refreshToken));
    expect(again.refreshToken).toBe(first.refreshToken);
    expect(sessionIdOf(again.accessToken)).toBe(sessionIdOf(user.accessToken));
    expect((await server.gql(ME, {}, { token: again.accessToken })).body.data!.me.id).toBe(user.user.id);
    expect(again.refreshTokenExpiresAt).toBe(first.refreshTokenExpiresAt);
    expect((await tokenState(server, sessionIdOf(user.accessToken)))!.generation).toBe(1); // one successor, not a fork
    expect(await metric(server, 'warden_refresh_total{result="grace"}')).toBe(graceBefore + 1);
    // The shared successor goes on working.
    pairOf(await refresh(server, first.refreshToken));
  });

  it('an older ancestor inside the window is reuse, not grace, and ends the session', async () => {
    const user = await signupUser(server);
    const second = pairOf(await refresh(server, user.refreshToken));
    const third = pairOf(await refresh(server, second.refreshToken));
    expect(errorCode(await refresh(server, user.refreshToken))).toBe('REFRESH_TOKEN_REUSED');
    expect(errorCode(await server.gql(ME, {}, { token: third.accessToken }))).toBe('SESSION_REVOKED');
    expect(errorCode(await refresh(server, third.refreshToken))).toBe('SESSION_REVOKED');
  });

  it('a spent token after the window ends that session only, audited, and its access tokens answer SESSION_REVOKED', async () => {
    const revokedBefore = await metric(server, 'warden_sessions_revoked_total{reason="reuse"}');
    const user = await signupUser(server);
    const other = await server.gql(LOGIN, { input: { email: user.email, password: user.password } });
    const otherPair = other.body.data!.login;
    const next = pairOf(await refresh(server, user.refreshToken));
    clock.advance(10_001);

    const res = await refresh(server, user.refreshToken);
    expect(res.status).toBe(200);
    expect(errorCode(res)).toBe('REFRESH_TOKEN_REUSED');
    expect(errorCode(await server.gql(ME, {}, { token: next.accessToken }))).toBe('SESSION_REVOKED');
    expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBe('SESSION_REVOKED');
    expect(errorCode(await refresh(server, next.refreshToken))).toBe('SESSION_REVOKED');

    // The user's other session lives on.
    expect((await server.gql(ME, {}, { token: otherPair.accessToken })).body.data!.me.id).toBe(user.user.id);
    pairOf(await refresh(server, otherPair.refreshToken));

    const sid = sessionIdOf(user.accessToken);
    expect((await sessionRow(server, sid))!.revokedReason).toBe('reuse');
    const events = await auditEvents(server, user.user.id);
    expect(events.find((e) => e.type === 'refresh_reuse_detected')).toMatchObject({ sessionId: sid, ip: '127.0.0.1' });
    expect(await metric(server, 'warden_sessions_revoked_total{reason="reuse"}')).toBe(revokedBefore + 1);
  });
});

describe('the four cases of docs/api.md §4', () => {
  it('valid access + valid refresh: the request is served', async () => {
    const user = await signupUser(server);
    const res = await server.gql(ME, {}, { token: user.accessToken });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.me.id).toBe(user.user.id);
  });

  it('expired access + valid refresh: @auth answers ACCESS_TOKEN_EXPIRED, refreshToken works with the expired token in the header, the retry is served', async () => {
    const user = await signupUser(server);
    const expired = expiredCopy(user.accessToken);
    expect(errorCode(await server.gql(ME, {}, { token: expired }))).toBe('ACCESS_TOKEN_EXPIRED');
    const next = pairOf(await refresh(server, user.refreshToken, { bearer: expired }));
    const retry = await server.gql(ME, {}, { token: next.accessToken });
    expect(retry.body.data!.me.id).toBe(user.user.id);
  });

  it('valid access + idle-expired refresh: renewed with that session’s access token, capped by SESSION_MAX_AGE', async () => {
    const t0 = clock.now();
    const user = await signupUser(server);
    const sid = sessionIdOf(user.accessToken);
    // ACCESS_TOKEN_TTL is 3h here: the access token is still valid.
    clock.advance(2 * HOUR);
    expect(errorCode(await refresh(server, user.refreshToken))).toBe('REFRESH_TOKEN_EXPIRED');

    // Another session's access token of the same user does not renew this one.
    const other = (await server.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.data!.login;
    expect(errorCode(await refresh(server, user.refreshToken, { bearer: other.accessToken }))).toBe('REFRESH_TOKEN_EXPIRED');

    const renewed = pairOf(await refresh(server, user.refreshToken, { bearer: user.accessToken }));
    expect(sessionIdOf(renewed.accessToken)).toBe(sid);
    // now + REFRESH_TOKEN_TTL would be t0 + 3h; SESSION_MAX_AGE caps it at t0 + 150m.
    expect(new Date(renewed.refreshTokenExpiresAt).getTime()).toBe(t0 + 150 * MINUTE);
    pairOf(await refresh(server, renewed.refreshToken));

    // Past the absolute lifetime, not even a valid access token renews it.
    clock.advance(31 * MINUTE);
    expect(errorCode(await refresh(server, renewed.refreshToken, { bearer: renewed.accessToken }))).toBe('REFRESH_TOKEN_EXPIRED');
  });

  it('expired access + expired refresh: REFRESH_TOKEN_EXPIRED', async () => {
    const user = await signupUser(server);
    clock.advance(2 * HOUR);
    const res = await refresh(server, user.refreshToken, { bearer: expiredCopy(user.accessToken) });
    expect(errorCode(res)).toBe('REFRESH_TOKEN_EXPIRED');
  });
});

describe('bad input', () => {
  // A database of its own, so "writes nothing" can be checked by counting rows.
  let own: TestDatabase | undefined;
  let quiet: TestServer;
  beforeAll(async () => {
    own = process.env.DATABASE_URL ? await createTestDatabase() : undefined;
    quiet = await startTestServer({ env: { DATABASE_URL: own?.url ?? '' } });
    await signupUser(quiet);
  });
  afterAll(async () => {
    await quiet?.close();
    await own?.drop();
  });

  const cases: Array<[string, string | null]> = [
    ['no token at all', null],
    ['an empty token', ''],
    ['garbage', 'garbage'],
    ['10 KB', 'A'.repeat(10 * 1024)],
    ['non-base64url characters of the right length', '!'.repeat(43)],
    ['standard base64 (+ and /)', randomBytes(32).toString('base64').slice(0, 43).replace(/^./, '+')],
    ['whitespace around a token', ` ${randomBytes(32).toString('base64url')} `],
    ['unicode', 'ü'.repeat(43)],
    // 256 random bits in base64url: the shape of a token from before counter tokens.
    ['a token of the format before counter tokens', randomBytes(32).toString('base64url')],
  ];

  it.each(cases)('%s → REFRESH_TOKEN_INVALID, no 5xx, no database access', async (_what, token) => {
    const prisma = prismaOf(quiet);
    const transaction = jest.spyOn(prisma, '$transaction');
    const queryRaw = jest.spyOn(prisma, '$queryRaw');
    const executeRaw = jest.spyOn(prisma, '$executeRaw');
    const sql = jest.spyOn(sqlOf(quiet), 'query');
    try {
      const res = await refresh(quiet, token);
      expect(res.status).toBe(200);
      expect(errorCode(res)).toBe('REFRESH_TOKEN_INVALID');
      expect(transaction).not.toHaveBeenCalled();
      // Only statements on the session table count: other tests' background work shares the client.
      const onSessions = (spy: jest.SpyInstance) =>
        spy.mock.calls.filter(([strings]) => String((strings as string[]).join('?')).includes('"Session"'));
      expect(onSessions(queryRaw)).toEqual([]);
      expect(onSessions(executeRaw)).toEqual([]);
      expect(sql.mock.calls.filter(([statement]) => statement.text.includes('"Session"'))).toEqual([]);
    } finally {
      transaction.mockRestore();
      queryRaw.mockRestore();
      executeRaw.mockRestore();
      sql.mockRestore();
    }
  });

  it('an unknown token of the right shape (either format) → REFRESH_TOKEN_INVALID and writes nothing', async () => {
    const before = await rowCounts(quiet);
    expect(before.sessions > 0 && before.authEvents > 0).toBe(true);
    for (const token of [randomBytes(32).toString('base64url'), randomBytes(45).toString('base64url')]) {
      const res = await refresh(quiet, token);
      expect(errorCode(res)).toBe('REFRESH_TOKEN_INVALID');
    }
    expect(await rowCounts(quiet)).toEqual(before);
  });
});

describe('a database error mid-rotation', () => {
  it('changes nothing: the presented token stays current, and it works once the database does', async () => {
    const user = await signupUser(server);
    const sid = sessionIdOf(user.accessToken);
    const fn = `warden_test_fail_${randomUUID().replace(/-/g, '')}`;
    const prisma = prismaOf(server);
    // Fails the rotation's one write (the session update) for this one session only.
    await prisma.$executeRawUnsafe(
      `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
    );
    await prisma.$executeRawUnsafe(
      `CREATE TRIGGER ${fn} BEFORE UPDATE ON "Session" FOR EACH ROW WHEN (OLD.id = '${sid}'::uuid) EXECUTE FUNCTION ${fn}()`,
    );
    try {
      const res = await refresh(server, user.refreshToken);
      expect(res.status).toBe(200);
      expect(errorCode(res)).toBe('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(res.body)).not.toContain('injected failure');
      expect(await tokenState(server, sid)).toMatchObject({ generation: 0, rotatedAt: null, revokedAt: null });
    } finally {
      await prisma.$executeRawUnsafe(`DROP TRIGGER IF EXISTS ${fn} ON "Session"`);
      await prisma.$executeRawUnsafe(`DROP FUNCTION IF EXISTS ${fn}()`);
    }
    const next = pairOf(await refresh(server, user.refreshToken));
    expect((await server.gql(ME, {}, { token: next.accessToken })).body.data!.me.id).toBe(user.user.id);
  });
});
