/**
 * PostgreSQL restarted mid-run (`pg_ctl restart -m fast`, what `pg_ctlcluster … restart` does)
 * under two instances with clients refreshing and reading. On a private PostgreSQL instance, so
 * the shared cluster is never touched. What must hold:
 * - requests caught by the restart get masked errors: no host, port, SQL, Prisma or pg text;
 * - both instances recover without a restart (/readyz 200 again, requests served);
 * - no refresh chain is broken: no spent token without its successor, exactly one live token per
 *   session, and every client carries on with the token it holds (rolled back → it still
 *   rotates; committed but unanswered → the grace window replays its successor).
 */
import { ErrorCode } from '../../src/errors/error-code';
import { PostgresServer, privatePostgresUnavailable } from '../support/postgres-server';
import { outOfStep, readyz, startPair, type Pair } from './support';
import {
  describeUnless,
  ME,
  missing,
  ONE_PASS_REASON,
  REFRESH,
  refreshedPair,
  errorCode,
  servicesPass,
  signupUser,
  sleep,
  eventually,
  type GqlResponse,
  type SignedUp,
} from '../kit';

/**
 * Enough clients, back to back, that connections are busy at the moment PostgreSQL terminates
 * them: that once showed a connection emitting 'error' to no listener (which ends a process),
 * now handled in src/infra/database.ts.
 */
const CLIENTS = 60;
describeUnless(
  servicesPass() ? (privatePostgresUnavailable ?? missing({ redis: true })) : ONE_PASS_REASON,
  'PostgreSQL restarted mid-run under two instances',
  () => {
    let postgres: PostgresServer;
    let pair: Pair;
    let clients: Array<SignedUp & { userId: string }>;

    beforeAll(async () => {
      postgres = await PostgresServer.start();
      // A grace window long enough to cover the restart: a refresh whose commit reached the disk
      // but whose answer was lost is replayed to the same client when it retries.
      pair = await startPair({ REFRESH_REUSE_GRACE: '60s' }, { postgresUrl: postgres.url() });
      clients = await Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const user = await signupUser(i % 2 ? pair.a : pair.b);
          return { ...user, userId: user.user.id };
        }),
      );
    }, 90_000);
    afterAll(async () => {
      await pair?.close();
      await postgres?.stop();
    });

    it('masks the errors, recovers without a restart, and leaves every refresh chain whole', async () => {
      const errors: GqlResponse[] = [];
      let ok = 0;
      let running = true;
      const traffic = clients.map(async (client, i) => {
        for (let n = 0; running; n++) {
          const server = (i + n) % 2 ? pair.a : pair.b;
          const answer =
            n % 2 === 0
              ? await server.gql(REFRESH, { refreshToken: client.refreshToken })
              : await server.gql(ME, {}, { token: client.accessToken });
          const next = refreshedPair(answer);
          if (next) Object.assign(client, next);
          if (answer.body.errors) errors.push(answer);
          else ok++;
          await sleep(0);
        }
      });

      await sleep(1500);
      const okBefore = ok;
      await postgres.restart();
      // Both instances see the database again by themselves.
      for (const server of [pair.a, pair.b]) {
        await eventually(async () => (await readyz(server)).status === 200, 20_000, 'readyz 200 after the restart');
      }
      const okAfterRestart = ok;
      await sleep(1_000);
      running = false;
      await Promise.all(traffic);

      const statuses = [...new Set(errors.map((answer) => answer.status))].join('/');
      console.log(
        `PostgreSQL restart: ${okBefore} answers before, ${errors.length} errors around it (HTTP ${statuses}), ${ok - okAfterRestart} answers in the second after`,
      );
      expect(okBefore).toBeGreaterThan(0);
      expect(ok - okAfterRestart).toBeGreaterThan(0);
      // Masked: only the generic message and code reach clients.
      const port = String(postgres.port);
      for (const answer of errors) {
        const text = JSON.stringify(answer.body);
        expect(errorCode(answer)).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
        expect(answer.body.errors?.[0]?.message).toMatch(/^Something went wrong; try again later\.$/);
        expect(text).not.toContain(port);
        expect(text).not.toMatch(/127\.0\.0\.1|localhost|prisma|postgres|pg_|sql|ECONN|terminat|connection|stack/i);
      }
      // No false reuse: no session ended, nobody was signed out.
      expect(errors.filter((answer) => errorCode(answer) !== ErrorCode.INTERNAL_SERVER_ERROR)).toEqual([]);

      // Every client continues with the token it holds, on either instance.
      const retries = await Promise.all(
        clients.map((client, i) => (i % 2 ? pair.a : pair.b).gql(REFRESH, { refreshToken: client.refreshToken })),
      );
      expect(retries.filter((answer) => !refreshedPair(answer)).map((answer) => answer.body.errors)).toEqual([]);
      retries.forEach((answer, i) => Object.assign(clients[i], refreshedPair(answer)));

      // In the database: every client's token is its live session's current generation.
      expect(await outOfStep(pair, clients)).toEqual([]);
      const revoked = await pair.sql(`SELECT id FROM "Session" WHERE "revokedAt" IS NOT NULL`);
      expect(revoked).toEqual([]);
    }, 90_000);
  },
);
