/**
 * A rotation takes one read and one conditional write, outside any transaction; a token spent
 * between that read and that write (the write changes nothing) is read again and answered as the
 * previous generation: the winner's successor (grace) or the end of the session (reuse).
 */
import { auditEvents, prismaOf, refresh, sessionRow, tokenState } from './support';
import { pairOf, ME, metric, errorCode, sessionIdOf, signupUser, startTestServer, type TestServer } from '../kit';

const backends: Array<[string, Record<string, string>]> = [['PGlite', { DATABASE_URL: '' }]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', {}]);

/**
 * Runs `hook` just before the fast path's first conditional write (told apart from its read by
 * the text) goes to the database, as a rival request would between the read and the write.
 * Every other $executeRaw passes through untouched, a transaction's included (`this` is its client).
 * @returns a function that removes the hook
 */
function beforeFastWrite(server: TestServer, hook: () => Promise<unknown>): () => void {
  const prisma = prismaOf(server);
  const original = prisma.$executeRaw;
  let fired = false;
  const spy = jest.spyOn(prisma, '$executeRaw').mockImplementation(function (this: unknown, strings: TemplateStringsArray, ...values: unknown[]) {
    if (fired || !strings.join('?').includes('SET generation')) return original.call(this, strings, ...values);
    fired = true;
    return hook().then(() => original.call(this, strings, ...values));
  } as typeof prisma.$executeRaw);
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

    expect(sent.filter((sql) => /^\s*UPDATE/.test(sql))).toHaveLength(1);
    expect(sent.join('\n')).not.toMatch(/INSERT/);

    // The one write did all of it: the generation moved, the session renewed; no audit row by default.
    const sid = sessionIdOf(user.accessToken);
    expect(await tokenState(server, sid)).toMatchObject({ generation: 1, rotatedAt: expect.any(Date), expiresAt: new Date(next.refreshTokenExpiresAt) });
    expect((await auditEvents(server, user.user.id)).filter((e) => e.type === 'refresh')).toHaveLength(0);
    expect((await server.gql(ME, {}, { token: next.accessToken })).body.data!.me.id).toBe(user.user.id);
  });

  it('a token spent between the read and the write is read again and replays the winner’s successor', async () => {
    const user = await signupUser(server);
    const okBefore = await metric(server, 'warden_refresh_total{result="ok"}');
    const graceBefore = await metric(server, 'warden_refresh_total{result="grace"}');
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
    const loser = pairOf(late);
    expect(loser.refreshToken).toBe(winner.refreshToken);
    expect(sessionIdOf(loser.accessToken)).toBe(sessionIdOf(winner.accessToken));
    expect((await server.gql(ME, {}, { token: loser.accessToken })).body.data!.me.id).toBe(user.user.id);
    // No transaction at all, and one rotation.
    expect(transactions).toBe(0);
    expect((await tokenState(server, sessionIdOf(user.accessToken)))!.generation).toBe(1);
    expect(await metric(server, 'warden_refresh_total{result="ok"}')).toBe(okBefore + 1);
    expect(await metric(server, 'warden_refresh_total{result="grace"}')).toBe(graceBefore + 1);
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
    expect((await tokenState(server, sid))!.generation).toBe(0);
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
    expect((await tokenState(server, sid))!.generation).toBe(1);
    expect((await sessionRow(server, sid))!.revokedReason).toBe('reuse');
  });
});
