/**
 * Soak: 200 simulated clients × 20 refresh cycles each over two instances, at random moments and
 * on random instances, about a quarter of the cycles with two "tabs" presenting the same token at
 * the same moment. Nobody may be signed out: every refresh succeeds (tabs through the grace
 * replay), no REFRESH_TOKEN_REUSED, no 5xx, and every session ends with exactly one usable
 * refresh token — the one its client holds. Prints rotations/s and the session tables' size.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { outOfStep, startProcessPair, type Instance, type Pair, type WardenProcess } from './support';
import { describeNeeding, ME, metric, REFRESH, refreshedPair, errorCode, SIGNUP, sleep, uniqueEmail, type GqlResponse } from '../kit';

const CLIENTS = 200;
const CYCLES = 20;
const TWO_TABS_SHARE = 0.25;
/** Most cycles start at once with others; some wait a little, so the concurrency keeps changing. */
const MAX_PAUSE_MS = 15;

interface Client {
  userId: string;
  accessToken: string;
  refreshToken: string;
}

describeNeeding({ redis: true, postgres: true, onePass: true }, 'soak: 200 clients × 20 refresh cycles over two instances', () => {
  let pair: Pair<WardenProcess>;
  beforeAll(async () => {
    // A generous grace window: on a loaded machine the second tab's request can reach the server
    // seconds after the first one rotated; what is tested here is that nobody is signed out.
    pair = await startProcessPair({ REFRESH_REUSE_GRACE: '60s' });
  });
  afterAll(() => pair?.close());

  it('keeps every client signed in, with one live refresh token per session', async () => {
    const servers = [pair.a, pair.b];
    const pick = (): Instance => servers[Math.floor(Math.random() * servers.length)];
    const clients: Client[] = await inBatches(CLIENTS, 50, async (i) => {
      const answer = await servers[i % 2].gql(SIGNUP, {
        input: { email: uniqueEmail('soak'), password: 'soak password 1', name: `Soak ${i}` },
      });
      const signup = answer.body.data?.signup;
      if (!signup) throw new Error(`signup failed: ${JSON.stringify(answer.body)}`);
      return { userId: signup.user.id, accessToken: signup.accessToken, refreshToken: signup.refreshToken };
    });

    // The session table, and the audit table (which a plain rotation no longer writes to), in bytes.
    const tableBytes = async (): Promise<string> => {
      const [row] = await pair.sql<{ session: string; audit: string }>(
        `SELECT pg_total_relation_size('"Session"') AS session, pg_total_relation_size('"AuthEvent"') AS audit`,
      );
      return `"Session" ${row.session} bytes, "AuthEvent" ${row.audit} bytes`;
    };
    const bytesBefore = await tableBytes();

    const failures: string[] = [];
    let statuses5xx = 0;
    let reused = 0;
    let requests = 0;
    let tabPairs = 0;
    const refresh = async (token: string): Promise<GqlResponse> => {
      requests++;
      const answer = await pick().gql(REFRESH, { refreshToken: token });
      if (answer.status >= 500) statuses5xx++;
      if (errorCode(answer) === ErrorCode.REFRESH_TOKEN_REUSED) reused++;
      return answer;
    };

    const started = performance.now();
    await Promise.all(
      clients.map(async (client, index) => {
        for (let cycle = 0; cycle < CYCLES; cycle++) {
          if (Math.random() < 0.5) await sleep(Math.random() * MAX_PAUSE_MS);
          const token = client.refreshToken;
          if (Math.random() < TWO_TABS_SHARE) {
            tabPairs++;
            // Two tabs, the same token, the same moment, maybe different instances.
            const [first, second] = await Promise.all([refresh(token), refresh(token)]);
            const one = refreshedPair(first);
            const other = refreshedPair(second);
            if (!one || !other) {
              failures.push(`client ${index} cycle ${cycle} (two tabs): ${JSON.stringify([first.body.errors, second.body.errors])}`);
              return;
            }
            if (one.refreshToken !== other.refreshToken)
              failures.push(`client ${index} cycle ${cycle}: the two tabs got different successors`);
            Object.assign(client, one);
          } else {
            const answer = await refresh(token);
            const next = refreshedPair(answer);
            if (!next) {
              failures.push(`client ${index} cycle ${cycle}: ${JSON.stringify(answer.body.errors)}`);
              return;
            }
            Object.assign(client, next);
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const rotations = CLIENTS * CYCLES;
    console.log(
      `soak: ${rotations} rotations (${requests} refresh requests, ${tabPairs} two-tab cycles) over 2 instances in ` +
        `${seconds.toFixed(1)} s = ${Math.round(rotations / seconds)} rotations/s (${Math.round(requests / seconds)} requests/s)`,
    );

    expect(failures.slice(0, 5)).toEqual([]);
    expect(statuses5xx).toBe(0);
    expect(reused).toBe(0);

    // Each cycle rotated exactly once; each second tab was a grace replay of that rotation.
    const sum = async (name: string, labels: Record<string, string>) =>
      (await metric(pair.a, name, labels)) + (await metric(pair.b, name, labels));
    expect(await sum('warden_refresh_total', { result: 'ok' })).toBe(rotations);
    expect(await sum('warden_refresh_total', { result: 'grace' })).toBe(tabPairs);
    expect(await sum('warden_refresh_total', { result: 'reused' })).toBe(0);

    // In the database: one live session per client, at the generation of the token it holds.
    const userIds = clients.map((client) => client.userId);
    expect(await outOfStep(pair, clients)).toEqual([]);
    const live = await pair.sql(`SELECT id FROM "Session" WHERE "userId" = ANY($1::uuid[]) AND "revokedAt" IS NULL`, [userIds]);
    expect(live).toHaveLength(CLIENTS);
    const bytesAfter = await tableBytes();
    console.log(`soak: total relation sizes after sign-up: ${bytesBefore}; after ${rotations} rotations: ${bytesAfter}`);

    // And the access tokens the clients ended with work on both instances.
    // A failed read names its client, instance and answer, so a failure says why.
    const badReads = await inBatches(CLIENTS, 50, async (i) => {
      const answer = await servers[i % 2].gql(ME, {}, { token: clients[i].accessToken });
      if (answer.body.data?.me.id === userIds[i]) return null;
      return `client ${i} on ${i % 2 === 0 ? 'a' : 'b'}: ${answer.status} ${JSON.stringify(answer.body.errors)}`;
    });
    expect(badReads.filter((read) => read !== null)).toEqual([]);
  }, 110_000);
});

/** Runs `work(i)` for i in 0..count-1, at most `width` at a time, keeping the order of results. */
async function inBatches<T>(count: number, width: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}
