/**
 * The plain rotation (the token unspent, its session live) takes one read and one conditional
 * write, outside any transaction; a token spent between that read and that write falls back to
 * the locked transaction, which replays the winner's pair (grace) or ends the session (reuse).
 */
import { errorCode, signupUser, startTestServer, type TestServer } from '../support/harness';
import { ME, auditEvents, metricValue, pairOf, prismaOf, refresh, sessionIdOf, sessionRow, tokenRows } from './support';

const backends: Array<[string, Record<string, string>]> = [['PGlite', { DATABASE_URL: '' }]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', {}]);

/**
 * Runs `hook` just before the fast path's first conditional write (told apart from its read by
 * the text) goes to the database, as a rival request would between the read and the write.
 * Every other $queryRaw passes through untouched, a transaction's included (`this` is its client).
 * @returns a function that removes the hook
 */
function beforeFastWrite(server: TestServer, hook: () => Promise<unknown>): () => void {
  const prisma = prismaOf(server);
  const original = prisma.$queryRaw;
  let fired = false;
  const spy = jest.spyOn(prisma, '$queryRaw').mockImplementation(function (this: unknown, strings: TemplateStringsArray, ...values: unknown[]) {
    if (fired || !strings.join('?').includes('UPDATE "RefreshToken"')) return original.call(this, strings, ...values);
    fired = true;
    return hook().then(() => original.call(this, strings, ...values));
  } as typeof prisma.$queryRaw);
  return () => spy.mockRestore();
}

describe.each(backends)('%s', (_backend, backendEnv) => {
  let statements: string[] = [];
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...backendEnv, REFRESH_REUSE_GRACE: '10s' }, onQuery: (event) => statements.push(event.query) });
  });
  afterAll(() => server.close());

  it('a plain rotation sends two statements, in no transaction', async () => {
    const user = await signupUser(server);
    await server.app.services.background.idle(); // the sign-up's mail work, so only the rotation is counted
    const transaction = jest.spyOn(prismaOf(server), '$transaction');
    statements = [];
    let next;
    try {
      next = pairOf(await refresh(server, user.refreshToken));
      expect(transaction).not.toHaveBeenCalled();
    } finally {
      transaction.mockRestore();
    }
    const sent = statements;
    expect(sent.length).toBeLessThanOrEqual(2);
    expect(sent.join('\n')).not.toMatch(/FOR UPDATE|BEGIN|COMMIT/);

    // The one write did all of it: the token spent and sealed, the successor, the session, the audit row.
    const sid = sessionIdOf(user.accessToken);
    const rows = await tokenRows(server, sid);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ successorId: rows[1].id, spentAt: expect.any(Date), successorSealed: expect.anything() });
    expect(rows[1]).toMatchObject({ spentAt: null, successorId: null, expiresAt: new Date(next.refreshTokenExpiresAt) });
    expect((await sessionRow(server, sid))!.expiresAt).toEqual(new Date(next.refreshTokenExpiresAt));
    const events = (await auditEvents(server, user.user.id)).filter((e) => e.type === 'refresh');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ sessionId: sid, ip: '127.0.0.1', detail: null });
    expect((await server.gql(ME, {}, { token: next.accessToken })).body.data!.me.id).toBe(user.user.id);
  });

  it('a token spent between the read and the write falls back to the lock and replays the winner’s pair', async () => {
    const user = await signupUser(server);
    const okBefore = await metricValue(server, 'warden_refresh_total', 'result="ok"');
    const graceBefore = await metricValue(server, 'warden_refresh_total', 'result="grace"');
    const transaction = jest.spyOn(prismaOf(server), '$transaction');
    // The first fast write waits while a rival refresh of the same token reads, writes and wins.
    let rival: ReturnType<typeof refresh> | undefined;
    const unhook = beforeFastWrite(server, () => (rival = refresh(server, user.refreshToken)));
    let late;
    let transactions: number;
    try {
      late = await refresh(server, user.refreshToken);
      await rival;
      transactions = transaction.mock.calls.length;
    } finally {
      unhook();
      transaction.mockRestore();
    }
    const winner = pairOf(await rival!);
    expect(pairOf(late)).toMatchObject({ refreshToken: winner.refreshToken, accessToken: winner.accessToken });
    // Only the loser took the lock, after its conditional write changed nothing.
    expect(transactions).toBe(1);
    expect(await tokenRows(server, sessionIdOf(user.accessToken))).toHaveLength(2);
    expect(await metricValue(server, 'warden_refresh_total', 'result="ok"')).toBe(okBefore + 1);
    expect(await metricValue(server, 'warden_refresh_total', 'result="grace"')).toBe(graceBefore + 1);
    const events = (await auditEvents(server, user.user.id)).filter((e) => e.type === 'refresh');
    expect(events.map((e) => e.detail)).toEqual(expect.arrayContaining([null, { grace: true }]));
    expect(events).toHaveLength(2);
  });

  it('a session ended between the read and the write issues nothing', async () => {
    const user = await signupUser(server);
    const sid = sessionIdOf(user.accessToken);
    const unhook = beforeFastWrite(server, () =>
      prismaOf(server).session.update({ where: { id: sid }, data: { revokedAt: new Date(), revokedReason: 'logout' } }),
    );
    try {
      expect(errorCode(await refresh(server, user.refreshToken))).toBe('SESSION_REVOKED');
    } finally {
      unhook();
    }
    const rows = await tokenRows(server, sid);
    expect(rows).toHaveLength(1);
    expect(rows[0].spentAt).toBeNull();
  });
});

describe.each(backends)('%s with REFRESH_REUSE_GRACE=0', (_backend, backendEnv) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...backendEnv, REFRESH_REUSE_GRACE: '0' } });
  });
  afterAll(() => server.close());

  it('a token spent between the read and the write is reuse, which ends the session', async () => {
    const user = await signupUser(server);
    let rival: ReturnType<typeof refresh> | undefined;
    const unhook = beforeFastWrite(server, () => (rival = refresh(server, user.refreshToken)));
    let late;
    try {
      late = await refresh(server, user.refreshToken);
    } finally {
      unhook();
    }
    pairOf(await rival!);
    expect(errorCode(late)).toBe('REFRESH_TOKEN_REUSED');
    const sid = sessionIdOf(user.accessToken);
    expect(await tokenRows(server, sid)).toHaveLength(2);
    expect((await sessionRow(server, sid))!.revokedReason).toBe('reuse');
  });
});
