/**
 * Redis Cluster and Redis Sentinel, as node-redis connects to them (createCluster,
 * createSentinel): Warden's counters work on both — login, lockout at the configured count, the
 * per-IP limit, /readyz — and with Sentinel, Warden follows a failover to the promoted replica
 * without a restart. Private redis-server processes on free loopback ports.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ErrorCode } from '../../src/errors/error-code';
import { freePort, readyz } from './support';
import {
  describeNeeding,
  LOGIN,
  errorCode,
  SIGNUP,
  signupUser,
  sleep,
  startTestServer,
  uniqueEmail,
  eventually,
  type TestServer,
} from '../kit';

const describeIfRedis = (name: string, fn: () => void) => describeNeeding({ redis: true, redisCli: true, onePass: true }, name, fn);

const dir = mkdtempSync(path.join(tmpdir(), 'warden-redis-topo-'));
const processes: ChildProcess[] = [];

/** Resolves true when the port answers PING with PONG. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

async function redisServer(port: number, args: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: 'ignore', cwd: dir });
  processes.push(child);
  await eventually(async () => child.exitCode === null && (await pings(port)), 10_000, `redis-server on ${port}`);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

afterAll(async () => {
  await Promise.all(processes.map(stop));
  rmSync(dir, { recursive: true, force: true });
});

/** What the counters must do on any topology. */
async function expectCountersWork(server: TestServer, maxFailures: number, ipLimit: number) {
  expect(await readyz(server)).toEqual({ status: 200, body: { status: 'ok', checks: { database: 'ok', redis: 'ok', signingKey: 'ok' } } });
  const user = await signupUser(server);
  const login = (password: string) => server.gql(LOGIN, { input: { email: user.email, password } });
  expect((await login(user.password)).body.data?.login.accessToken).toEqual(expect.any(String));
  for (let i = 0; i < maxFailures; i++) expect(errorCode(await login('a wrong password'))).toBe(ErrorCode.INVALID_CREDENTIALS);
  expect(errorCode(await login(user.password))).toBe(ErrorCode.ACCOUNT_LOCKED);
  // The per-IP limit: this IP has used 2 + maxFailures + 1 logins; the rest of the quota, then RATE_LIMITED.
  const codes: unknown[] = [];
  for (let i = 0; i < ipLimit; i++)
    codes.push(errorCode(await server.gql(LOGIN, { input: { email: uniqueEmail('ip'), password: 'whatever password' } })));
  expect(codes.at(-1)).toBe(ErrorCode.RATE_LIMITED);
  expect(codes.filter((code) => code === ErrorCode.INVALID_CREDENTIALS)).toHaveLength(ipLimit - (maxFailures + 2));
}

describeIfRedis('Redis Cluster and Sentinel', () => {
  it('works on a three-node Redis Cluster (REDIS_CLUSTER_URLS)', async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    for (const port of ports) {
      await redisServer(port, [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
      ]);
    }
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(created.status).toBe(0);
    await eventually(
      async () =>
        spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8' }).stdout.includes('cluster_state:ok'),
      10_000,
      'cluster_state:ok',
    );

    // Two of the three nodes listed: the third is discovered.
    const server = await startTestServer({
      env: {
        REDIS_URL: '',
        REDIS_CLUSTER_URLS: `redis://127.0.0.1:${ports[0]},redis://127.0.0.1:${ports[1]}`,
        LOGIN_MAX_FAILURES: '3',
        IP_RATE_LIMIT: '10',
      },
    });
    try {
      expect(server.config.redis?.kind).toBe('cluster');
      await expectCountersWork(server, 3, 10);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('works through Redis Sentinel (REDIS_SENTINEL_URLS) and follows a failover without a restart', async () => {
    const [masterPort, replicaPort, sentinelPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const base = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const master = await redisServer(masterPort, ['--port', String(masterPort), ...base]);
    await redisServer(replicaPort, ['--port', String(replicaPort), ...base, '--replicaof', '127.0.0.1', String(masterPort)]);
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `sentinel monitor warden 127.0.0.1 ${masterPort} 1`,
        'sentinel down-after-milliseconds warden 1000',
        'sentinel failover-timeout warden 5000',
        '',
      ].join('\n'),
    );
    await redisServer(sentinelPort, [conf, '--sentinel']);

    const server = await startTestServer({
      env: {
        REDIS_URL: '',
        REDIS_SENTINEL_URLS: `redis://127.0.0.1:${sentinelPort}`,
        REDIS_SENTINEL_MASTER: 'warden',
        LOGIN_MAX_FAILURES: '3',
        IP_RATE_LIMIT: '10',
      },
    });
    try {
      expect(server.config.redis?.kind).toBe('sentinel');
      await expectCountersWork(server, 3, 10);
      // Let the replica catch up, then the master dies: the sentinel promotes the replica.
      await eventually(
        async () =>
          spawnSync('redis-cli', ['-p', String(replicaPort), 'info', 'replication'], { encoding: 'utf8' }).stdout.includes(
            'master_link_status:up',
          ),
        10_000,
        'replica in sync',
      );
      await stop(master);
      await eventually(
        async () => spawnSync('redis-cli', ['-p', String(replicaPort), 'role'], { encoding: 'utf8' }).stdout.startsWith('master'),
        20_000,
        'replica promoted',
      );
      await eventually(async () => (await readyz(server)).status === 200, 20_000, 'readyz 200 after the failover');
      // Signup needs the store (its per-IP counter): it works again, on the promoted master.
      let signup = await server.gql(SIGNUP, { input: { email: uniqueEmail('failover'), password: 'after the failover', name: 'After' } });
      for (let i = 0; i < 20 && signup.body.errors; i++) {
        await sleep(250);
        signup = await server.gql(SIGNUP, { input: { email: uniqueEmail('failover'), password: 'after the failover', name: 'After' } });
      }
      expect(signup.body.data?.signup.accessToken).toEqual(expect.any(String));
    } finally {
      await server.close();
    }
  }, 60_000);
});
