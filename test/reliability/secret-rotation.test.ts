/**
 * Rotating JWT_SECRET across instances that restart one at a time (docs/operations.md,
 * "Rotating JWT_SECRET across instances"): three phases, each a rolling restart, and at every moment of each roll a token
 * signed by any instance verifies on every other. Skipping phase 1 is shown to fail, which is why
 * it is there. This is the HS256 procedure; with ES256 the secret only seals the signing keys
 * (test/security/jwt-keys.test.ts).
 */
import { ErrorCode } from '../../src/errors/error-code';
import { createTestDatabase } from '../support/db-template';
import { startPair, type Pair } from './support';
import {
  describeNeeding,
  ME,
  postgresServerUrl,
  REFRESH,
  refreshedPair,
  errorCode,
  signupUser,
  startTestServer,
  type TestServer,
} from '../kit';

const OLD = 'the-old-secret-that-is-at-least-32-bytes!';
const NEW = 'the-new-secret-that-is-at-least-32-bytes!';

/** A (restarted already) and B (not yet) each sign a token; each must verify on the other. */
async function crossCheck(pair: Pair): Promise<unknown[]> {
  const onA = await signupUser(pair.a);
  const onB = await signupUser(pair.b);
  return [
    (await pair.b.gql(ME, {}, { token: onA.accessToken })).body.data?.me.id === onA.user.id ||
      errorCode(await pair.b.gql(ME, {}, { token: onA.accessToken })),
    (await pair.a.gql(ME, {}, { token: onB.accessToken })).body.data?.me.id === onB.user.id ||
      errorCode(await pair.a.gql(ME, {}, { token: onB.accessToken })),
    // Refresh tokens are keyed by the secret too: A's on B and B's on A.
    await refreshes(pair.b, onA.refreshToken),
    await refreshes(pair.a, onB.refreshToken),
  ];
}

/** true when `token` rotates on `on`, else the error code. */
async function refreshes(on: Pair['a'], token: string): Promise<unknown> {
  const answer = await on.gql(REFRESH, { refreshToken: token });
  return Boolean(refreshedPair(answer)) || errorCode(answer);
}

describeNeeding({ redis: true, postgres: true, onePass: true }, 'rotating JWT_SECRET with a rolling restart', () => {
  const phases: Array<[string, Record<string, string>, Record<string, string>]> = [
    // [phase, A (restarted), B (still on the settings before)]
    ['1: the new key verifies everywhere', { JWT_SECRET: OLD, JWT_SECRET_PREVIOUS: NEW }, { JWT_SECRET: OLD }],
    ['2: the new key signs', { JWT_SECRET: NEW, JWT_SECRET_PREVIOUS: OLD }, { JWT_SECRET: OLD, JWT_SECRET_PREVIOUS: NEW }],
    ['3: the old key goes, after ACCESS_TOKEN_TTL', { JWT_SECRET: NEW }, { JWT_SECRET: NEW, JWT_SECRET_PREVIOUS: OLD }],
  ];

  it.each(phases)('phase %s: tokens from either instance verify on both during the roll', async (_phase, a, b) => {
    const pair = await startPair({ JWT_ALGORITHM: 'HS256', ...a }, { envB: b });
    try {
      expect(await crossCheck(pair)).toEqual([true, true, true, true]);
    } finally {
      await pair.close();
    }
  });

  it('without phase 1, a token the restarted instance signs is refused by the others', async () => {
    const pair = await startPair({ JWT_ALGORITHM: 'HS256', JWT_SECRET: NEW, JWT_SECRET_PREVIOUS: OLD }, { envB: { JWT_SECRET: OLD } });
    try {
      expect(await crossCheck(pair)).toEqual([ErrorCode.UNAUTHENTICATED, true, ErrorCode.REFRESH_TOKEN_INVALID, true]);
    } finally {
      await pair.close();
    }
  });

  it('a session opened before the roll keeps refreshing through all three phases and after: nobody is signed out', async () => {
    const database = await createTestDatabase(postgresServerUrl());
    const servers: TestServer[] = [];
    const start = async (env: Record<string, string>) => {
      const server = await startTestServer({ env: { DATABASE_URL: database.url, ...env } });
      servers.push(server);
      return server;
    };
    try {
      const user = await signupUser(await start({ JWT_SECRET: OLD }));
      let token = user.refreshToken;
      // In the order the roll reaches them: in each phase B still has the settings before, A the new ones.
      const settings = [...phases.flatMap(([, a, b]) => [b, a]), { JWT_SECRET: NEW }];
      // Its token (made under whatever signed last) rotates on every instance of every phase.
      for (const env of settings) {
        const answer = await (await start(env)).gql(REFRESH, { refreshToken: token });
        const next = refreshedPair(answer);
        if (!next) throw new Error(`refresh failed under ${JSON.stringify(env)}: ${JSON.stringify(answer.body.errors)}`);
        token = next.refreshToken;
      }
      // A token last made under a secret no instance knows any more is refused, not honoured: a
      // session idle through the whole roll signs in again (docs/refresh-tokens.md).
      const old = await signupUser(servers[0]);
      expect(errorCode(await servers[servers.length - 1].gql(REFRESH, { refreshToken: old.refreshToken }))).toBe(
        ErrorCode.REFRESH_TOKEN_INVALID,
      );
    } finally {
      await Promise.allSettled(servers.map((server) => server.close()));
      await database.drop();
    }
  });
});
