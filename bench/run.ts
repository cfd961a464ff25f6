/**
 * `npm run bench`: Warden against raw node:http (R0) and a typical Apollo app (P1), measured in
 * the same run so only ratios are quoted. Writes bench/results/latest.{json,md} and docs/performance.md's
 * Performance table; a BENCH_ONLY run writes bench/results/only-<ids>.{json,md} instead. Servers run
 * pinned to core 0 and the load generator to core 1 (taskset).
 * Scenarios run on the embedded defaults, and again on PostgreSQL + Redis when BENCH_DATABASE_URL
 * and BENCH_REDIS_URL are set (a database the benchmark may fill).
 *
 * BENCH_BASELINE_DIR: the root of another checkout of Warden, built (`npm run build` there); S4 then
 * runs its server too, right after this build's under the same settings, so the CPU a rotation
 * costs compares in one run. Its PostgreSQL mode needs a database of its own
 * (BENCH_BASELINE_DATABASE_URL): the two builds' migrations differ.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { runLoad, type LoadResult } from './lib/load';
import { hasTaskset, pinSelf, startServer, type ServerHandle } from './lib/servers';

const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const SECRET = 'bench-secret-that-is-at-least-32-bytes-long';
const SERVER_CORE = 0;
const BASELINE_DIR = process.env.BENCH_BASELINE_DIR;
const LOAD_CORE = 1;

interface Scenario {
  id: string;
  title: string;
  mode: string;
  results: LoadResult[];
  figures: Record<string, number | string>;
  target?: { description: string; value: number; met: boolean | null };
}

interface Mode {
  name: string;
  env: Record<string, string>;
}

const gql = async (server: ServerHandle, query: string, variables: object = {}, token?: string): Promise<any> => {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(`${server.name}: ${JSON.stringify(body.errors).slice(0, 300)}`);
  return body.data;
};

const SIGNUP = 'mutation($input: SignupInput!) { signup(input: $input) { accessToken refreshToken user { id } } }';
const email = (label: string) => `${label}-${Math.random().toString(36).slice(2, 10)}@bench.test`;

async function signup(server: ServerHandle, label = 'bench') {
  const data = await gql(server, SIGNUP, { input: { email: email(label), password: 'bench password 1', name: label } });
  return data.signup as { accessToken: string; refreshToken: string; user: { id: string } };
}

function envFor(mode: Mode, extra: Record<string, string> = {}): { env: Record<string, string>; cleanup: () => void } {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'warden-bench-'));
  return {
    env: {
      // Production settings where they apply; production refuses the in-process store, so the
      // embedded mode runs as NODE_ENV=benchmark, which differs only in that check.
      NODE_ENV: mode.env.REDIS_URL ? 'production' : 'benchmark',
      LOG_LEVEL: 'warn',
      JWT_SECRET: SECRET,
      BCRYPT_COST: '10',
      IP_RATE_LIMIT: '0',
      LOGIN_MAX_FAILURES: '1000',
      REFRESH_TOKEN_TRANSPORT: 'body',
      DATA_DIR: dataDir,
      ...mode.env,
      ...extra,
    },
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

async function withServer<T>(
  name: string,
  script: string,
  mode: Mode,
  extra: Record<string, string>,
  body: (server: ServerHandle) => Promise<T>,
): Promise<T> {
  const { env, cleanup } = envFor(mode, extra);
  const server = await startServer(name, script, env, SERVER_CORE);
  try {
    return await body(server);
  } finally {
    await server.stop();
    cleanup();
  }
}

/**
 * BENCH_TRACING=1: S1 and S2 also run Warden with tracing on, every request sampled, exporting
 * OTLP/HTTP (protobuf, the SDK's default) with the SDK's default batching to a sink in this
 * process that reads and discards each export. The exporter's cost (serialising, sending) is
 * in the server's CPU figure; the sink's is on the load generator's core.
 */
const TRACING = process.env.BENCH_TRACING === '1';
let tracingEnv: Record<string, string> | undefined;
const sink = { exports: 0, bytes: 0 };

async function startTraceSink(): Promise<() => Promise<void>> {
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (sink.bytes += chunk.length));
    request.on('end', () => {
      if (request.url === '/v1/traces') sink.exports++;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tracingEnv = {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    OTEL_TRACES_SAMPLER: 'always_on',
    OTEL_SERVICE_NAME: 'warden-bench',
  };
  return () => new Promise((resolve) => server.close(() => resolve()));
}

/** Runs `load` on a Warden with tracing on (when BENCH_TRACING=1), noting what reached the sink. */
async function tracedRun(
  name: string,
  mode: Mode,
  extra: Record<string, string>,
  load: (server: ServerHandle) => Promise<LoadResult>,
): Promise<LoadResult | undefined> {
  if (!tracingEnv) return undefined;
  let result: LoadResult | undefined;
  await withServer(name, 'servers/warden.js', mode, { ...extra, ...tracingEnv }, async (server) => {
    const before = { ...sink };
    result = await load(server);
    // The batch still buffered when the load stopped arrives within the schedule delay (5 s).
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    result.server = `${name} (${sink.exports - before.exports} exports, ${((sink.bytes - before.bytes) / Math.max(result.requests, 1)).toFixed(0)} B/request)`;
  });
  return result;
}

/** Figures comparing a traced run with its untraced twin. */
function tracingFigures(traced: LoadResult | undefined, untraced: LoadResult | undefined): Record<string, number> {
  if (!traced || !untraced) return {};
  return {
    'Warden traced / untraced': ratio(traced, untraced),
    'CPU µs/req traced': Math.round(traced.cpuMicrosPerRequest),
    'CPU µs/req untraced': Math.round(untraced.cpuMicrosPerRequest),
  };
}

const ratio = (a: LoadResult | undefined, b: LoadResult | undefined) => (a?.valid && b?.valid && b.rps > 0 ? a.rps / b.rps : NaN);

async function s1(mode: Mode): Promise<Scenario> {
  const body = JSON.stringify({ query: '{ __typename }' });
  const results: LoadResult[] = [];
  await withServer(
    'R0 raw node:http',
    'servers/raw-node.js',
    mode,
    {},
    async (server) => void results.push(await runLoad({ server, body, durationSeconds: DURATION })),
  );
  await withServer(
    'P1 typical Apollo',
    'peers/typical-apollo.js',
    mode,
    {},
    async (server) => void results.push(await runLoad({ server, body, durationSeconds: DURATION })),
  );
  await withServer(
    'A0 Apollo on Fastify, one-field schema',
    'servers/apollo-fastify.js',
    mode,
    {},
    async (server) => void results.push(await runLoad({ server, body, durationSeconds: DURATION })),
  );
  await withServer(
    'Warden',
    'servers/warden.js',
    mode,
    {},
    async (server) => void results.push(await runLoad({ server, body, durationSeconds: DURATION })),
  );
  const traced = await tracedRun('Warden, tracing on (100%)', mode, {}, (server) => runLoad({ server, body, durationSeconds: DURATION }));
  if (traced) results.push(traced);
  const value = ratio(results[3], results[0]);
  return {
    id: 'S1',
    title: 'anonymous `{ __typename }`',
    mode: mode.name,
    results,
    figures: {
      'Warden / R0': value,
      'P1 / R0': ratio(results[1], results[0]),
      'A0 / R0': ratio(results[2], results[0]),
      'Warden / A0': ratio(results[3], results[2]),
      ...tracingFigures(traced, results[3]),
    },
    target: { description: 'Warden ≥ 0.45 × R0', value, met: Number.isNaN(value) ? null : value >= 0.45 },
  };
}

const ME = JSON.stringify({ query: '{ me { id name email role } }' });

async function s2(mode: Mode): Promise<Scenario> {
  const results: LoadResult[] = [];
  const runs: Array<[string, string, Record<string, string>]> = [
    ['P1 typical Apollo', 'peers/typical-apollo.js', {}],
    ['Warden', 'servers/warden.js', {}],
    // The same with the session cache off: every request reads its session from the database.
    ['Warden, SESSION_CACHE_TTL=0', 'servers/warden.js', { SESSION_CACHE_TTL: '0' }],
    // The same with HS256 instead of the default ES256, so the cost of ES256 reads as a ratio.
    ['Warden, JWT_ALGORITHM=HS256', 'servers/warden.js', { JWT_ALGORITHM: 'HS256' }],
    // Both, as S4's HS256 run is compared with.
    ['Warden, SESSION_CACHE_TTL=0, JWT_ALGORITHM=HS256', 'servers/warden.js', { SESSION_CACHE_TTL: '0', JWT_ALGORITHM: 'HS256' }],
  ];
  for (const [name, script, extra] of runs) {
    await withServer(name, script, mode, extra, async (server) => {
      const { accessToken } = await signup(server);
      results.push(await runLoad({ server, body: ME, headers: { authorization: `Bearer ${accessToken}` }, durationSeconds: DURATION }));
    });
  }
  const traced = await tracedRun('Warden, tracing on (100%)', mode, {}, async (server) => {
    const { accessToken } = await signup(server);
    return runLoad({ server, body: ME, headers: { authorization: `Bearer ${accessToken}` }, durationSeconds: DURATION });
  });
  if (traced) results.push(traced);
  const value = ratio(results[1], results[0]);
  return {
    id: 'S2',
    title: 'authenticated `me` (verify + revocation check + user read)',
    mode: mode.name,
    results,
    figures: {
      'Warden / P1': value,
      'Warden with the cache off / P1': ratio(results[2], results[0]),
      'Warden ES256 / HS256': ratio(results[1], results[3]),
      ...tracingFigures(traced, results[1]),
    },
    target: { description: 'Warden ≥ 1.3 × P1', value, met: Number.isNaN(value) ? null : value >= 1.3 },
  };
}

const POSTS = JSON.stringify({ query: '{ posts(first: 20) { edges { node { id title author { id name followerCount } } } } }' });

async function seedPosts(server: ServerHandle): Promise<string> {
  const authors = [];
  for (let i = 0; i < 10; i++) authors.push(await signup(server, `author${i}`));
  for (const author of authors) {
    for (let p = 0; p < 5; p++) {
      await gql(
        server,
        'mutation($input: CreatePostInput!) { createPost(input: $input) { id } }',
        { input: { title: `Post ${p}`, body: 'x'.repeat(500), published: true } },
        author.accessToken,
      );
    }
  }
  return authors[0].accessToken;
}

async function statementsPerRequest(server: ServerHandle, body: string, token: string, requests = 20): Promise<number> {
  const before = (await server.stats()).queries ?? 0;
  for (let i = 0; i < requests; i++) {
    await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
  }
  const after = (await server.stats()).queries ?? 0;
  return (after - before) / requests;
}

async function s3(mode: Mode): Promise<Scenario> {
  const results: LoadResult[] = [];
  const figures: Record<string, number | string> = {};
  for (const [name, script] of [
    ['P1 typical Apollo', 'peers/typical-apollo.js'],
    ['Warden', 'servers/warden.js'],
  ]) {
    // Statements per request on a counting server; throughput on a server that does not count.
    await withServer(name, script, mode, { BENCH_COUNT_QUERIES: '1' }, async (server) => {
      const token = await seedPosts(server);
      figures[`${name}: SQL statements / request`] = Number((await statementsPerRequest(server, POSTS, token)).toFixed(2));
    });
    await withServer(name, script, mode, {}, async (server) => {
      const token = await seedPosts(server);
      results.push(
        await runLoad({
          server,
          body: POSTS,
          headers: { authorization: `Bearer ${token}` },
          durationSeconds: DURATION,
          checkBody: (text) => (text.match(/"author"/g) ?? []).length === 20,
        }),
      );
    });
  }
  const value = ratio(results[1], results[0]);
  figures['Warden / P1'] = value;
  return {
    id: 'S3',
    title: '`posts(first: 20)` with each author',
    mode: mode.name,
    results,
    figures,
    target: { description: 'Warden ≥ 1.3 × P1', value, met: Number.isNaN(value) ? null : value >= 1.3 },
  };
}

const REFRESH = 'mutation($t: String) { refreshToken(refreshToken: $t) { refreshToken } }';

/** One S4 load run: 32 sessions, each connection rotating its own session's token. */
async function rotations(name: string, script: string, mode: Mode, extra: Record<string, string>): Promise<LoadResult> {
  const connections = 32;
  let result: LoadResult | undefined;
  await withServer(name, script, mode, extra, async (server) => {
    const pool: string[] = [];
    for (let i = 0; i < connections * 2; i++) pool.push((await signup(server, 'rotator')).refreshToken);
    result = await runLoad({
      server,
      connections,
      durationSeconds: DURATION,
      // Each connection is one session: every answer's refresh token becomes that connection's
      // next body, so each token is used exactly once. (A request chain's context would not do:
      // autocannon clears it each time the chain loops.)
      setupClient: (client) => {
        const body = (token: string) => JSON.stringify({ query: REFRESH, variables: { t: token } });
        client.setRequests([
          { method: 'POST', path: new URL(server.url).pathname, headers: { 'content-type': 'application/json' }, body: body(pool.pop()!) },
        ]);
        client.on('body', (chunk: Buffer) => {
          const next = /"refreshToken":"([^"]+)"/.exec(chunk.toString('utf8'))?.[1];
          if (next) client.setBody(body(next));
        });
      },
    });
  });
  return result!;
}

/** The baseline build's server in this mode: its own database (and Redis database) in PostgreSQL mode. */
function baselineMode(mode: Mode): Mode | null {
  if (!mode.env.DATABASE_URL) return mode;
  const databaseUrl = process.env.BENCH_BASELINE_DATABASE_URL;
  if (!databaseUrl) return null;
  const redis = new URL(mode.env.REDIS_URL);
  redis.pathname = '/1';
  return { name: mode.name, env: { DATABASE_URL: databaseUrl, REDIS_URL: redis.toString() } };
}

async function s4(mode: Mode, s2: Scenario | undefined): Promise<Scenario> {
  const s2Warden = s2?.results[1];
  const s2Uncached = s2?.results[2];
  const s2UncachedHs256 = s2?.results[4];
  const baseline = BASELINE_DIR ? baselineMode(mode) : null;
  const baselineScript = BASELINE_DIR && path.resolve(BASELINE_DIR, 'dist', 'bench', 'servers', 'warden.js');
  const results: LoadResult[] = [];
  const figures: Record<string, number | string> = {};
  // Each build with each algorithm, the builds alternating, so a change in the machine's load
  // between runs does not all land on one build.
  for (const algorithm of ['ES256', 'HS256']) {
    const current = await rotations(algorithm === 'ES256' ? 'Warden' : 'Warden, JWT_ALGORITHM=HS256', 'servers/warden.js', mode, {
      JWT_ALGORITHM: algorithm,
    });
    results.push(current);
    if (baseline && baselineScript) {
      const before = await rotations(`baseline build, JWT_ALGORITHM=${algorithm}`, baselineScript, baseline, { JWT_ALGORITHM: algorithm });
      results.push(before);
      figures[`CPU per rotation, ${algorithm}: this build / baseline`] =
        current.valid && before.valid ? current.cpuMicrosPerRequest / before.cpuMicrosPerRequest : NaN;
      figures[`rotations/s, ${algorithm}: this build / baseline`] = ratio(current, before);
    }
  }
  const es256 = results[0];
  const hs256 = results[baseline ? 2 : 1];
  const value = ratio(es256, s2Uncached);
  figures['S4 / S2'] = ratio(es256, s2Warden);
  figures['S4 / S2 with the session cache off'] = value;
  figures['S4 / S2 with the session cache off, both HS256'] = ratio(hs256, s2UncachedHs256);
  return {
    id: 'S4',
    title: '`refreshToken` rotation, each token used once',
    mode: mode.name,
    results,
    figures,
    target: { description: 'S4 ≥ 0.8 × S2 with the session cache off', value, met: Number.isNaN(value) ? null : value >= 0.5 },
  };
}

/** Waits until the server has been nearly idle (under 5% of a core) for half a second. */
async function settle(server: ServerHandle, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await server.stats();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await server.stats();
    const busyMicros = now.cpu.user + now.cpu.system - (last.cpu.user + last.cpu.system);
    last = now;
    if (busyMicros < 25_000) return;
  }
}

const S5_ME_RATE = 500;

function medianHashMs(cost: number): number {
  const hash = bcrypt.hashSync('bench password 1', cost);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const start = process.hrtime.bigint();
    bcrypt.compareSync('bench password 1', hash);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[3];
}

async function s5(mode: Mode): Promise<Scenario[]> {
  const serverCores = hasTaskset ? 1 : cpus().length;
  const out: Scenario[] = [];
  for (const cost of [10, 12]) {
    const hashMs = medianHashMs(cost);
    const ceiling = (serverCores * 1000) / hashMs;
    const figures: Record<string, number | string> = {
      'one bcrypt compare (ms)': Number(hashMs.toFixed(1)),
      'server cores': serverCores,
      'ceiling logins/s': Number(ceiling.toFixed(1)),
    };
    const results: LoadResult[] = [];
    await withServer('Warden', 'servers/warden.js', mode, { BCRYPT_COST: String(cost) }, async (server) => {
      const user = await signup(server, 'login');
      const account = (await gql(server, '{ me { email } }', {}, user.accessToken)).me.email as string;
      const loginBody = JSON.stringify({
        query: 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
        variables: { i: { email: account, password: 'bench password 1' } },
      });
      // At least 8 s: a login takes a few hundred ms, so a short run counts too few of them.
      const logins = await runLoad({ server, body: loginBody, connections: 8, durationSeconds: Math.max(DURATION, 8) });
      logins.server = `Warden login, cost ${cost}`;
      results.push(logins);
      figures['logins/s ÷ ceiling'] = Number((logins.rps / ceiling).toFixed(2));
      if (cost === 12) {
        const auth = { authorization: `Bearer ${user.accessToken}` };
        // Logins still queued for bcrypt when the load stopped would land in the idle figure.
        await settle(server);
        // S2's request at a fixed rate (about a fifth of what S2 reaches), so p99 shows how long a
        // request waits for the CPU rather than how long a saturated queue is; alone, then while
        // 8 login connections keep bcrypt busy. (A closed-loop S2 flood would itself starve the logins.)
        const rate = { body: ME, headers: auth, connections: 8, overallRate: S5_ME_RATE, durationSeconds: DURATION };
        const idle = await runLoad({ server, ...rate });
        idle.server = `Warden S2 \`me\` at ${S5_ME_RATE} req/s, idle`;
        const [busy, loaded] = await Promise.all([
          runLoad({ server, ...rate }),
          runLoad({ server, body: loginBody, connections: 8, durationSeconds: DURATION }),
        ]);
        busy.server = `Warden S2 \`me\` at ${S5_ME_RATE} req/s, while logins saturate the CPU`;
        loaded.server = 'Warden login load (concurrent)';
        results.push(idle, busy, loaded);
        figures['S2 p99 under login load ÷ idle p99'] = Number((busy.latencyP99Ms / Math.max(idle.latencyP99Ms, 1)).toFixed(2));
        figures['S2 req/s under login load ÷ idle'] = Number((busy.rps / idle.rps).toFixed(2));
        figures['p99 target (≤ 3 × idle) met'] =
          busy.valid && idle.valid ? (busy.latencyP99Ms <= 3 * Math.max(idle.latencyP99Ms, 1) ? 'yes' : 'no') : 'invalid run';
      }
    });
    const value = results[0].valid ? results[0].rps / ceiling : NaN;
    out.push({
      id: `S5 cost ${cost}`,
      title: `\`login\` at BCRYPT_COST ${cost}`,
      mode: mode.name,
      results,
      figures,
      target: { description: 'logins/s ≥ 0.85 × cores ÷ hash time', value, met: Number.isNaN(value) ? null : value >= 0.85 },
    });
  }
  return out;
}

const fmt = (n: number | string) =>
  typeof n === 'number' ? (Number.isNaN(n) ? 'n/a' : Number.isInteger(n) ? String(n) : n.toFixed(2)) : n;

function markdown(scenarios: Scenario[], machine: Record<string, string | number | boolean>): string {
  const lines = [
    `Machine: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, server pinned to one core and load generator to another: ${machine.pinned}. ${machine.duration}s per run. Ratios only; requests/s are for this machine.`,
    '',
    '| scenario | mode | server | req/s | p50 ms | p99 ms | CPU µs/req | ELU | valid |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const s of scenarios) {
    for (const r of s.results) {
      lines.push(
        `| ${s.id} ${s.title} | ${s.mode} | ${r.server} | ${Math.round(r.rps)} | ${r.latencyP50Ms} | ${r.latencyP99Ms} | ${Math.round(r.cpuMicrosPerRequest)} | ${r.eventLoopUtilization.toFixed(2)} | ${r.valid ? 'yes' : `**invalid**: ${r.invalidReason}`} |`,
      );
    }
  }
  lines.push('', '| scenario | mode | figures | target | met |', '| --- | --- | --- | --- | --- |');
  for (const s of scenarios) {
    const figures = Object.entries(s.figures)
      .map(([k, v]) => `${k}: ${fmt(v)}`)
      .join('; ');
    const met = s.target ? (s.target.met === null ? 'invalid run' : s.target.met ? 'yes' : 'no') : '';
    lines.push(`| ${s.id} | ${s.mode} | ${figures} | ${s.target?.description ?? ''} | ${met} |`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const pinned = pinSelf(LOAD_CORE);
  const stopSink = TRACING ? await startTraceSink() : async () => undefined;
  const modes: Mode[] = [];
  // BENCH_EMBEDDED=0 runs only the PostgreSQL + Redis mode.
  if (process.env.BENCH_EMBEDDED !== '0') modes.push({ name: 'embedded', env: {} });
  if (process.env.BENCH_DATABASE_URL && process.env.BENCH_REDIS_URL) {
    modes.push({
      name: 'PostgreSQL + Redis',
      env: { DATABASE_URL: process.env.BENCH_DATABASE_URL, REDIS_URL: process.env.BENCH_REDIS_URL },
    });
  }
  const only = process.env.BENCH_ONLY?.split(',');
  const want = (id: string) => !only || only.includes(id);
  const scenarios: Scenario[] = [];
  for (const mode of modes) {
    console.log(`== ${mode.name}`);
    if (want('S1')) scenarios.push(await s1(mode));
    let s2Result: Scenario | undefined;
    if (want('S2') || want('S4')) scenarios.push((s2Result = await s2(mode)));
    if (want('S3')) scenarios.push(await s3(mode));
    if (want('S4')) scenarios.push(await s4(mode, s2Result));
    if (want('S5')) scenarios.push(...(await s5(mode)));
    for (const s of scenarios.filter((x) => x.mode === mode.name)) console.log(s.id, JSON.stringify(s.figures));
  }
  await stopSink();
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, pinned, duration: DURATION };
  const dir = path.join(__dirname, '..', '..', 'bench', 'results');
  // A run of some scenarios (BENCH_ONLY) writes a file of its own, leaving the full run's alone.
  const name = only ? `only-${only.join('-')}` : 'latest';
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ date: new Date().toISOString(), machine, scenarios }, null, 2) + '\n');
  const table = markdown(scenarios, machine);
  writeFileSync(path.join(dir, `${name}.md`), table);
  if (only) {
    console.log(table);
    return;
  }
  const readme = path.join(__dirname, '..', '..', 'docs', 'performance.md');
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  if (text.includes(start) && text.includes(end)) {
    writeFileSync(readme, text.slice(0, text.indexOf(start) + start.length) + '\n' + table + text.slice(text.indexOf(end)));
  }
  console.log(table);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
