/**
 * Graceful shutdown of the real process (`node dist/src/main.js`): SIGTERM while 50 logins are
 * in flight. All 50 complete, new connections are refused meanwhile, and the process exits 0
 * within SHUTDOWN_TIMEOUT — on keep-alive connections too, as a load balancer holds them.
 *
 * Runs on PostgreSQL and a private redis-server when they are there (so closing the pool and the
 * Redis client is part of it), else on the embedded defaults.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../support/db-template';
import { RedisServer } from '../support/redis-server';
import { WardenProcess } from './support';
import { LOGIN, postgresServerUrl, redisServerAvailable, SIGNUP, sleep, uniqueEmail } from '../kit';

const IN_FLIGHT = 50;
const SHUTDOWN_TIMEOUT_MS = 30_000;

let database: TestDatabase | undefined;
let redis: RedisServer | undefined;
let warden: WardenProcess;

beforeAll(async () => {
  const pgServer = postgresServerUrl();
  database = pgServer ? await createTestDatabase(pgServer) : undefined;
  redis = redisServerAvailable ? await RedisServer.start() : undefined;
  console.log(`shutdown test on ${database ? 'PostgreSQL' : 'embedded PGlite'} and ${redis ? 'redis-server' : 'the in-process store'}`);
  warden = await WardenProcess.start({
    ...(database ? { DATABASE_URL: database.url } : {}),
    ...(redis ? { REDIS_URL: redis.url } : {}),
    // Info: Fastify logs "incoming request" as it accepts each one.
    LOG_LEVEL: 'info',
    // bcrypt at cost 11 (over 100 ms each, three at a time) keeps the logins in flight for seconds.
    BCRYPT_COST: '11',
    LOGIN_MAX_FAILURES: '1000',
    IP_RATE_LIMIT: '0',
    SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS / 1000}s`,
  });
}, 60_000);

afterAll(async () => {
  await warden?.stop();
  await redis?.stop();
  await database?.drop();
});

/** POST over a keep-alive agent, like a proxy that pools its upstream connections. */
function post(url: string, agent: Agent, body: object): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/graphql`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Resolves 'refused' when a new TCP connection to the port is refused, else 'accepted'. */
function tryConnect(port: number): Promise<'refused' | 'accepted'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', () => resolve('refused'));
  });
}

it('SIGTERM with 50 requests in flight: all complete, new connections are refused, exit 0 within SHUTDOWN_TIMEOUT', async () => {
  const email = uniqueEmail('drain');
  const password = 'drain password 1';
  const signup = await warden.gql(SIGNUP, { input: { email, password, name: 'Drain' } });
  expect(signup.body.errors).toBeUndefined();

  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const accepted = () => (warden.output().match(/"msg":"incoming request"/g) ?? []).length;
  const before = accepted();
  let completed = 0;
  const logins = Array.from({ length: IN_FLIGHT }, () =>
    post(warden.url, agent, { query: LOGIN, variables: { input: { email, password } } }).then((answer) => {
      completed++;
      return answer;
    }),
  );
  const deadline = Date.now() + 15_000;
  while (accepted() - before < IN_FLIGHT) {
    if (Date.now() > deadline) throw new Error(`only ${accepted() - before} requests were accepted`);
    await sleep(5);
  }
  expect(completed).toBeLessThan(IN_FLIGHT);

  const signalled = performance.now();
  warden.child.kill('SIGTERM');
  const port = Number(new URL(warden.url).port);
  while ((await tryConnect(port)) === 'accepted') await sleep(5);
  const refusedWhileDraining = completed < IN_FLIGHT;

  const answers = await Promise.all(logins);
  const code = await warden.exited;
  const ms = performance.now() - signalled;
  agent.destroy();
  console.log(`shutdown: ${IN_FLIGHT} in-flight logins answered, exit ${code} ${Math.round(ms)} ms after SIGTERM`);

  expect(answers.map((answer) => answer.status)).toEqual(Array(IN_FLIGHT).fill(200));
  expect(answers.filter((answer) => answer.json.data?.login?.user?.email !== email)).toEqual([]);
  expect(refusedWhileDraining).toBe(true);
  expect(await tryConnect(port)).toBe('refused');
  expect(code).toBe(0);
  expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  expect(warden.output()).not.toContain('shutdown timed out');
  expect(warden.output()).toContain('"msg":"stopped"');
}, 90_000);
