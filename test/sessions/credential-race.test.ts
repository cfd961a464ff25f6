/**
 * A credential change racing a rotation of the same session must not leave the rotating party
 * with a usable refresh token (the attacker who stole the refresh token is exactly who rotates).
 * changePassword re-keys the session in one statement; a rotation that read the old key either
 * fails its conditional write, or committed first and its successor dies with the old key.
 *
 * Both orders are forced with hooks, on PGlite and PostgreSQL; on PostgreSQL also a burst of
 * parallel rotations around a changePassword. The "rotation commits inside changePassword" order
 * is the one that let the successor live on before counter tokens.
 */
import { beforeRotationWrite, forgetKnownSalts, refresh } from './support';
import { pairOf, ME, errorCode, sessionIdOf, signupUser, startTestServer, type SignedUp, type TestServer } from '../kit';

const CHANGE_PASSWORD = `mutation($current: String!, $next: String!) {
  changePassword(currentPassword: $current, newPassword: $next) { accessToken refreshToken }
}`;

const backends: Array<[string, Record<string, string>]> = [['PGlite', { DATABASE_URL: '' }]];
if (process.env.DATABASE_URL) backends.push(['PostgreSQL', {}]);

describe.each(backends)('%s: changePassword racing a rotation', (backend, backendEnv) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...backendEnv, REFRESH_REUSE_GRACE: '10s' } });
  });
  afterAll(() => server.close());

  const change = (user: SignedUp) =>
    server.gql(CHANGE_PASSWORD, { current: user.password, next: 'a new passphrase 42' }, { token: user.accessToken });

  /** After the race: what the attacker got cannot refresh, the owner's new token can. */
  async function expectOnlyOwnerKeepsSession(
    user: SignedUp,
    attacker: Array<{ refreshToken: string } | null>,
    owner: { accessToken: string; refreshToken: string },
  ) {
    for (const got of attacker) {
      if (!got) continue;
      const answer = await refresh(server, got.refreshToken);
      expect(errorCode(answer)).toBe('REFRESH_TOKEN_INVALID');
    }
    expect(errorCode(await refresh(server, user.refreshToken))).toBe('REFRESH_TOKEN_INVALID');
    const next = pairOf(await refresh(server, owner.refreshToken));
    expect(sessionIdOf(next.accessToken)).toBe(sessionIdOf(user.accessToken));
    expect((await server.gql(ME, {}, { token: next.accessToken })).body.data!.me.id).toBe(user.user.id);
  }

  it.each([
    ['its one statement (salt known)', false],
    ['its read (salt not known)', true],
  ])('a rotation that began before changePassword (%s) and writes after it gets nothing', async (_path, readFirst) => {
    const user = await signupUser(server);
    if (readFirst) forgetKnownSalts(server);
    let owner: { accessToken: string; refreshToken: string } | undefined;
    // Between the rotation's read and its write (or before its one statement), the owner changes the password.
    const hook = beforeRotationWrite(server, () => change(user).then((answer) => (owner = answer.body.data!.changePassword)));
    let rotation;
    try {
      rotation = await refresh(server, user.refreshToken);
    } finally {
      hook.restore();
    }
    expect(hook.fired()).toBe(true);
    expect(errorCode(rotation)).toBe('REFRESH_TOKEN_INVALID');
    await expectOnlyOwnerKeepsSession(user, [], owner!);
  });

  it('a rotation that commits while changePassword runs (before its re-key) leaves a successor that no longer works', async () => {
    const user = await signupUser(server);
    const sessions = server.app.services.sessions;
    const rekey = sessions.rekey.bind(sessions);
    let rotation: Promise<Awaited<ReturnType<typeof refresh>>> | undefined;
    const spy = jest.spyOn(sessions, 'rekey').mockImplementation(async (...args) => {
      // changePassword has checked the password, set it and ended the other sessions; its
      // transaction is open. The attacker's rotation runs now. PostgreSQL lets it commit at once
      // (nothing it touches is locked yet); PGlite queues it behind the transaction.
      rotation = refresh(server, user.refreshToken);
      if (backend === 'PostgreSQL') await rotation;
      return rekey(...args);
    });
    let changed;
    try {
      changed = await change(user);
    } finally {
      spy.mockRestore();
    }
    const owner = changed.body.data!.changePassword;
    const attacker = await rotation!;
    expect(attacker.status).toBe(200);
    if (backend === 'PostgreSQL') expect(attacker.body.errors).toBeUndefined(); // it did rotate, before the re-key
    await expectOnlyOwnerKeepsSession(user, [attacker.body.data?.refreshToken ?? null], owner);
  });

  if (backend === 'PostgreSQL') {
    it('a burst of parallel rotations around a changePassword: none of their successors works afterwards', async () => {
      for (let round = 0; round < 5; round += 1) {
        const user = await signupUser(server);
        const rotations = Array.from({ length: 8 }, (_, i) =>
          new Promise((resolve) => setTimeout(resolve, i * 3)).then(() => refresh(server, user.refreshToken)),
        );
        const changed = await change(user);
        const answers = await Promise.all(rotations);
        expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
        await expectOnlyOwnerKeepsSession(
          user,
          answers.map((answer) => answer.body.data?.refreshToken ?? null),
          changed.body.data!.changePassword,
        );
      }
    });
  }
});
