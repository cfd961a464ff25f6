/**
 * A rotation takes one read and one conditional write, outside any transaction — or, when the
 * server minted the token and still knows the salt, the conditional write alone. A token spent
 * before that write (the write changes nothing) is read again and answered as the previous
 * generation: the winner's successor (grace) or the end of the session (reuse). Each race runs
 * on both paths: "known salt" (one statement) and "read first" (the salts forgotten, as on an
 * instance that did not mint the token).
 */
import { auditEvents, beforeRotationWrite, forgetKnownSalts, prismaOf, refresh, sessionRow, tokenState } from './support';
import { pairOf, ME, metric, errorCode, sessionIdOf, signupUser, startTestServer, type TestServer } from '../kit';

const backends: Array<[string, Record<string, string>]> = [['PGlite', { DATABASE_URL: '' }]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', {}]);

const paths: Array<[string, boolean]> = [
  ['known salt', false],
  ['read first', true],
];
const cases = backends.flatMap(([backend, env]) => paths.map(([path, readFirst]) => [`${backend}, ${path}`, env, readFirst] as const));

describe.each(backends)('%s', (_backend, backendEnv) => {
  let statements: string[] = [];
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { ...backendEnv, REFRESH_REUSE_GRACE: '10s' },
      onQuery: (event) => statements.push(event.query),
    });
  });
  afterAll(() => server.close());

  /** One rotation of a new session, counting its statements. */
  async function countedRotation(readFirst: boolean) {
    const user = await signupUser(server);
    await server.app.services.background.idle(); // the sign-up's mail work, so only the rotation is counted
    if (readFirst) forgetKnownSalts(server);
    const transaction = jest.spyOn(prismaOf(server), '$transaction');
    statements = [];
    let next;
    try {
      next = pairOf(await refresh(server, user.refreshToken));
      expect(transaction).not.toHaveBeenCalled();
    } finally {
      transaction.mockRestore();
    }
    const sent = [...statements]; // this rotation's, not the checks' below
    expect(sent.join('\n')).not.toMatch(/FOR UPDATE|BEGIN|COMMIT/);
    expect(sent.filter((sql) => /^\s*UPDATE/.test(sql))).toHaveLength(1);
    expect(sent.join('\n')).not.toMatch(/INSERT/);

    // The one write did all of it: the generation moved, the session renewed; no audit row by default.
    const sid = sessionIdOf(user.accessToken);
    expect(await tokenState(server, sid)).toMatchObject({
      generation: 1,
      rotatedAt: expect.any(Date),
      expiresAt: new Date(next.refreshTokenExpiresAt),
    });
    expect((await auditEvents(server, user.user.id)).filter((e) => e.type === 'refresh')).toHaveLength(0);
    expect((await server.gql(ME, {}, { token: next.accessToken })).body.data!.me.id).toBe(user.user.id);
    return { sent, next };
  }

  it('a rotation of a token this server minted is one statement, in no transaction', async () => {
    const { sent, next } = await countedRotation(false);
    expect(sent).toHaveLength(1);
    // The successor's salt is known too: the next rotation is one statement again.
    statements = [];
    pairOf(await refresh(server, next.refreshToken));
    expect(statements).toHaveLength(1);
  });

  it('a rotation of a token whose salt this server does not know reads the row, then writes: two statements', async () => {
    const { sent } = await countedRotation(true);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^\s*SELECT/);
  });
});

describe.each(cases)('%s', (_name, backendEnv, readFirst) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...backendEnv, REFRESH_REUSE_GRACE: '10s' } });
  });
  afterAll(() => server.close());
  const signup = async () => {
    const user = await signupUser(server);
    if (readFirst) forgetKnownSalts(server);
    return user;
  };

  it('a token spent between the read and the write is read again and replays the winner’s successor', async () => {
    const user = await signup();
    const okBefore = await metric(server, 'warden_refresh_total{result="ok"}');
    const graceBefore = await metric(server, 'warden_refresh_total{result="grace"}');
    const transaction = jest.spyOn(prismaOf(server), '$transaction');
    // The first fast write waits while a rival refresh of the same token reads, writes and wins.
    let rival: ReturnType<typeof refresh> | undefined;
    const hook = beforeRotationWrite(server, () => (rival = refresh(server, user.refreshToken)));
    let late;
    let transactions: number;
    try {
      late = await refresh(server, user.refreshToken);
      await rival;
      transactions = transaction.mock.calls.length;
    } finally {
      hook.restore();
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
    const user = await signup();
    const sid = sessionIdOf(user.accessToken);
    const hook = beforeRotationWrite(server, () =>
      prismaOf(server).session.update({ where: { id: sid }, data: { revokedAt: new Date(), revokedReason: 'logout' } }),
    );
    try {
      expect(errorCode(await refresh(server, user.refreshToken))).toBe('SESSION_REVOKED');
    } finally {
      hook.restore();
    }
    expect(hook.fired()).toBe(true);
    expect((await tokenState(server, sid))!.generation).toBe(0);
  });
});

describe.each(cases)('%s with REFRESH_REUSE_GRACE=0', (_name, backendEnv, readFirst) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...backendEnv, REFRESH_REUSE_GRACE: '0' } });
  });
  afterAll(() => server.close());

  it('a token spent between the read and the write is reuse, which ends the session', async () => {
    const user = await signupUser(server);
    if (readFirst) forgetKnownSalts(server);
    let rival: ReturnType<typeof refresh> | undefined;
    const hook = beforeRotationWrite(server, () => (rival = refresh(server, user.refreshToken)));
    let late;
    try {
      late = await refresh(server, user.refreshToken);
    } finally {
      hook.restore();
    }
    expect(hook.fired()).toBe(true);
    pairOf(await rival!);
    expect(errorCode(late)).toBe('REFRESH_TOKEN_REUSED');
    const sid = sessionIdOf(user.accessToken);
    expect((await tokenState(server, sid))!.generation).toBe(1);
    expect((await sessionRow(server, sid))!.revokedReason).toBe('reuse');
  });
});
