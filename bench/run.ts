/**
 * `npm run bench`: Warden against raw node:http (R0, and R3 with `pg` for S3), Apollo on
 * Fastify with a one-field schema (A0), a typical Apollo app (P1) and the same app on Fastify +
 * Mercurius + graphql-jit (M1), measured in the same run so only ratios are quoted. Writes
 * bench/results/latest.{json,md,svg} and docs/performance.md's Performance table; a BENCH_ONLY run
 * writes bench/results/only-<ids>.{json,md,svg} instead. Servers run pinned to core 0 and the load
 * generator to core 1 (taskset). Scenarios run on the embedded defaults, and again on PostgreSQL +
 * Redis when BENCH_DATABASE_URL and BENCH_REDIS_URL are set (a database the benchmark may fill).
 *
 * BENCH_BASELINE_DIR: the root of another checkout of Warden, built (`npm run build` there), whose
 * Warden runs beside this one in S1–S4 (CPU per request against it); in S4 it runs right after this
 * build's server under the same settings, for each algorithm. Another build's PostgreSQL mode needs
 * a database of its own (BENCH_BASELINE_DATABASE_URL): the two builds' migrations differ.
 * BENCH_SMOKE=1: one second per run, Warden and R0 only, results to BENCH_RESULTS_DIR; the
 * harness's own test.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { chart } from './lib/chart';
import { runLoad, type LoadResult } from './lib/load';
import { hasTaskset, pinSelf, startServer, type ServerHandle } from './lib/servers';

const SMOKE = process.env.BENCH_SMOKE === '1';
const DURATION = SMOKE ? 1 : Number(process.env.BENCH_DURATION ?? 8);
const WARDEN = 'servers/warden.js';
const SECRET = 'bench-secret-that-is-at-least-32-bytes-long';
const SERVER_CORE = 0;
const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ?? path.join(__dirname, '..', '..', 'bench', 'results');
const LOAD_CORE = 1;

interface Scenario {
  id: string;
  title: string;
  mode: string;
  results: LoadResult[];
  figures: Record<string, number | string>;
  targets: Target[];
}

interface Target {
  description: string;
  value: number;
  met: boolean | null;
}

/** A target met when the value is at most `limit` (a growth or a ratio of costs). */
const atMost = (description: string, value: number, limit: number): Target => ({
  description,
  value,
  met: Number.isNaN(value) ? null : value <= limit,
});

const target = (description: string, value: number, threshold: number): Target => ({
  description,
  value,
  met: Number.isNaN(value) ? null : value >= threshold,
});

/**
 * Other builds of Warden run beside this one in S1–S4, started, configured and measured the same
 * way (through this harness's own server script, copied beside their build):
 * - BENCH_BASELINE_DIR: today's build (another checkout, `npm ci && npm run build` done), the
 *   one the CPU-per-request target compares with (BENCH_BASELINE_LABEL names it);
 * - BENCH_VARIANTS=label@dir,…: more builds, each reported beside Warden (one lever left out);
 *   `label@dir@NAME=value@…` also sets those variables for that build (e.g. SESSION_CACHE_TTL=0;
 *   BENCH_NODE=<a node binary> runs it on that Node.js instead of the runner's own);
 * - BENCH_INTERPRETER=1: this build with graphql-js's interpreter instead of the compiled executor.
 */
interface Variant {
  name: string;
  script: string;
  env: Record<string, string>;
}

function harnessIn(dir: string): string {
  const servers = path.join(dir, 'dist', 'bench', 'servers');
  mkdirSync(servers, { recursive: true });
  copyFileSync(path.join(__dirname, 'servers', 'warden.js'), path.join(servers, 'warden-current-harness.js'));
  copyFileSync(path.join(__dirname, 'lib', 'child.js'), path.join(dir, 'dist', 'bench', 'lib', 'child.js'));
  return path.join(servers, 'warden-current-harness.js');
}

const baseline: Variant | null = (() => {
  const dir = process.env.BENCH_BASELINE_DIR;
  if (!dir || SMOKE) return null;
  return { name: `Warden, baseline ${process.env.BENCH_BASELINE_LABEL ?? path.basename(dir)}`, script: harnessIn(dir), env: {} };
})();

const variants: Variant[] = SMOKE
  ? []
  : [
      ...(baseline ? [baseline] : []),
      ...(process.env.BENCH_VARIANTS ?? '')
        .split(',')
        .filter(Boolean)
        .map((entry) => {
          const [label, dir, ...settings] = entry.split('@');
          const env = Object.fromEntries(
            settings.map((setting) => [setting.slice(0, setting.indexOf('=')), setting.slice(setting.indexOf('=') + 1)]),
          );
          return { name: `Warden, ${label}`, script: harnessIn(dir), env };
        }),
      ...(process.env.BENCH_INTERPRETER === '1'
        ? [{ name: 'Warden, graphql-js executor', script: WARDEN, env: { BENCH_EXECUTION: 'graphql-js' } }]
        : []),
    ];

/** Warden / each variant, by requests per second and by CPU per request. */
function variantFigures(results: LoadResult[], warden: LoadResult | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const variant of variants) {
    const other = find(results, variant.name);
    out[`Warden / ${variant.name.replace(/^Warden, /, '')} (req/s)`] = ratio(warden, other);
    out[`CPU/req Warden ÷ ${variant.name.replace(/^Warden, /, '')}`] = cpuRatio(warden, other);
  }
  return out;
}

/** CPU per request of `a` over `b`: below 1 means `a` spends less. */
const cpuRatio = (a: LoadResult | undefined, b: LoadResult | undefined) =>
  a?.valid && b?.valid && b.cpuMicrosPerRequest > 0 ? a.cpuMicrosPerRequest / b.cpuMicrosPerRequest : NaN;
const find = (results: LoadResult[], name: string) => results.find((r) => r.server === name);

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
      // The smoke run's signups (S3's authors, S4's sessions) at the cheapest cost outside production.
      BCRYPT_COST: SMOKE && !mode.env.REDIS_URL ? '4' : '10',
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

/**
 * Another build's server (an absolute script path) in this mode: in PostgreSQL mode its own
 * database (BENCH_BASELINE_DATABASE_URL: the builds' migrations differ) and Redis database 1.
 */
function modeFor(script: string, mode: Mode): Mode {
  if (!path.isAbsolute(script) || !mode.env.DATABASE_URL) return mode;
  const databaseUrl = process.env.BENCH_BASELINE_DATABASE_URL;
  if (!databaseUrl) throw new Error('another build in PostgreSQL mode needs a database of its own: set BENCH_BASELINE_DATABASE_URL');
  const redis = new URL(mode.env.REDIS_URL);
  redis.pathname = '/1';
  return { name: mode.name, env: { DATABASE_URL: databaseUrl, REDIS_URL: redis.toString() } };
}

/**
 * The smoke run starts each server once and runs every scenario on it (a Warden takes seconds to
 * start on a loaded machine; the smoke run checks validity, not figures); stopped at the end.
 */
const smokeServers = new Map<string, { server: Promise<ServerHandle>; cleanup: () => void }>();

async function stopSmokeServers(): Promise<void> {
  for (const { server, cleanup } of smokeServers.values()) {
    await (await server).stop();
    cleanup();
  }
  smokeServers.clear();
}

async function withServer<T>(
  name: string,
  script: string,
  mode: Mode,
  extra: Record<string, string>,
  body: (server: ServerHandle) => Promise<T>,
): Promise<T> {
  if (SMOKE) {
    const key = JSON.stringify([script, mode.env, extra]);
    if (!smokeServers.has(key)) {
      const { env, cleanup } = envFor(modeFor(script, mode), extra);
      smokeServers.set(key, { server: startServer(name, script, env, SERVER_CORE), cleanup });
    }
    return body(await smokeServers.get(key)!.server);
  }
  const { env, cleanup } = envFor(modeFor(script, mode), extra);
  // One retry: on a loaded machine a server's start-up (its database ping) can time out.
  const server = await startServer(name, script, env, SERVER_CORE).catch((error: Error) => {
    console.error(`${name}: ${error.message}; starting it again`);
    return startServer(name, script, env, SERVER_CORE);
  });
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
  const runs: Array<readonly [string, string, Record<string, string>?]> = SMOKE
    ? [
        ['R0 raw node:http', 'servers/raw-node.js'],
        ['Warden', WARDEN],
      ]
    : [
        ['R0 raw node:http', 'servers/raw-node.js'],
        ['P1 typical Apollo', 'peers/typical-apollo.js'],
        ['M1 Mercurius + graphql-jit', 'peers/mercurius-jit.js'],
        ['A0 Apollo on Fastify, one-field schema', 'servers/apollo-fastify.js'],
        ['Warden', WARDEN, {}],
        ...variants.map((v) => [v.name, v.script, v.env] as const),
      ];
  for (const [name, script, extra = {}] of runs) {
    await withServer(
      name,
      script,
      mode,
      extra,
      async (server) => void results.push(await runLoad({ server, body, durationSeconds: DURATION })),
    );
  }
  const warden = find(results, 'Warden');
  const traced = SMOKE
    ? undefined
    : await tracedRun('Warden, tracing on (100%)', mode, {}, (server) => runLoad({ server, body, durationSeconds: DURATION }));
  if (traced) results.push(traced);
  const r0 = find(results, 'R0 raw node:http');
  const a0 = find(results, 'A0 Apollo on Fastify, one-field schema');
  const m1 = find(results, 'M1 Mercurius + graphql-jit');
  const figures: Record<string, number | string> = {
    'Warden / R0': ratio(warden, r0),
    'Warden / A0': ratio(warden, a0),
    'Warden / M1': ratio(warden, m1),
    'Warden / P1': ratio(warden, find(results, 'P1 typical Apollo')),
    'A0 / R0': ratio(a0, r0),
    'M1 / R0': ratio(m1, r0),
    ...tracingFigures(traced, warden),
  };
  Object.assign(figures, variantFigures(results, warden));
  return {
    id: 'S1',
    title: 'anonymous `{ __typename }`',
    mode: mode.name,
    results,
    figures,
    targets: [
      target('Warden ≥ 1.0 × A0', ratio(warden, a0), 1.0),
      ...(baseline
        ? [target('CPU/req ≤ 0.5 × baseline (value: baseline ÷ Warden, ≥ 2)', 1 / cpuRatio(warden, find(results, baseline.name)), 2)]
        : []),
      target('stretch: Warden ≥ 0.30 × R0', ratio(warden, r0), 0.3),
      target('stretch: Warden ≥ 0.8 × M1', ratio(warden, m1), 0.8),
    ],
  };
}

const ME = JSON.stringify({ query: '{ me { id name email role } }' });

async function s2(mode: Mode, s1Warden: LoadResult | undefined): Promise<Scenario> {
  const results: LoadResult[] = [];
  const runs: Array<[string, string, Record<string, string>]> = SMOKE
    ? [['Warden', WARDEN, {}]]
    : [
        ['P1 typical Apollo', 'peers/typical-apollo.js', {}],
        ['M1 Mercurius + graphql-jit', 'peers/mercurius-jit.js', {}],
        ['Warden', WARDEN, {}],
        // The same with the session cache off: every request reads its session from the database.
        ['Warden, SESSION_CACHE_TTL=0', WARDEN, { SESSION_CACHE_TTL: '0' }],
        // The same with HS256 instead of the default ES256, so the cost of ES256 reads as a ratio.
        ['Warden, JWT_ALGORITHM=HS256', WARDEN, { JWT_ALGORITHM: 'HS256' }],
        // Both, as S4's HS256 run is compared with.
        ['Warden, SESSION_CACHE_TTL=0, JWT_ALGORITHM=HS256', WARDEN, { SESSION_CACHE_TTL: '0', JWT_ALGORITHM: 'HS256' }],
        ...variants.map((v) => [v.name, v.script, v.env] as [string, string, Record<string, string>]),
      ];
  for (const [name, script, extra] of runs) {
    await withServer(name, script, mode, extra, async (server) => {
      const { accessToken } = await signup(server);
      results.push(await runLoad({ server, body: ME, headers: { authorization: `Bearer ${accessToken}` }, durationSeconds: DURATION }));
    });
  }
  const traced = SMOKE
    ? undefined
    : await tracedRun('Warden, tracing on (100%)', mode, {}, async (server) => {
        const { accessToken } = await signup(server);
        return runLoad({ server, body: ME, headers: { authorization: `Bearer ${accessToken}` }, durationSeconds: DURATION });
      });
  if (traced) results.push(traced);
  const warden = find(results, 'Warden');
  const m1 = find(results, 'M1 Mercurius + graphql-jit');
  const figures: Record<string, number | string> = {
    'S2 / S1': ratio(warden, s1Warden),
    'Warden / M1': ratio(warden, m1),
    'Warden / P1': ratio(warden, find(results, 'P1 typical Apollo')),
    'Warden with the cache off / P1': ratio(find(results, 'Warden, SESSION_CACHE_TTL=0'), find(results, 'P1 typical Apollo')),
    'Warden ES256 / HS256': ratio(warden, find(results, 'Warden, JWT_ALGORITHM=HS256')),
    ...tracingFigures(traced, warden),
  };
  Object.assign(figures, variantFigures(results, warden));
  return {
    id: 'S2',
    title: 'authenticated `me` (verify + revocation check + user read)',
    mode: mode.name,
    results,
    figures,
    targets: [
      target('S2 ≥ 0.9 × S1', ratio(warden, s1Warden), 0.9),
      ...(baseline
        ? [target('CPU/req ≤ 0.5 × baseline (value: baseline ÷ Warden, ≥ 2)', 1 / cpuRatio(warden, find(results, baseline.name)), 2)]
        : []),
      target('stretch: Warden ≥ 0.8 × M1', ratio(warden, m1), 0.8),
    ],
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
  const checkBody = (text: string) => (text.match(/"author"/g) ?? []).length === 20;
  // BENCH_S3_WARDEN_ONLY=1: Warden and its variants only (a lever's A/B, without the peers).
  const runs: Array<readonly [string, string, Record<string, string>?]> = SMOKE
    ? [['Warden', WARDEN]]
    : process.env.BENCH_S3_WARDEN_ONLY === '1'
      ? [['Warden', WARDEN, {}], ...variants.map((v) => [v.name, v.script, v.env] as const)]
      : [
          ['P1 typical Apollo', 'peers/typical-apollo.js'],
          ['M1 Mercurius + graphql-jit', 'peers/mercurius-jit.js'],
          ['Warden', WARDEN, {}],
          ...variants.map((v) => [v.name, v.script, v.env] as const),
        ];
  for (const [name, script, extra = {}] of runs) {
    // Statements per request on a counting server; throughput on a server that does not count.
    if (!SMOKE && process.env.BENCH_S3_WARDEN_ONLY !== '1' && (name === 'P1 typical Apollo' || name === 'Warden')) {
      await withServer(name, script, mode, { BENCH_COUNT_QUERIES: '1' }, async (server) => {
        const token = await seedPosts(server);
        figures[`${name}: SQL statements / request`] = Number((await statementsPerRequest(server, POSTS, token)).toFixed(2));
      });
    }
    await withServer(name, script, mode, extra, async (server) => {
      const token = await seedPosts(server);
      results.push(
        await runLoad({ server, body: POSTS, headers: { authorization: `Bearer ${token}` }, durationSeconds: DURATION, checkBody }),
      );
    });
  }
  // R3 reads the newest posts the runs above wrote into the same database.
  if (!SMOKE && mode.env.DATABASE_URL && process.env.BENCH_S3_WARDEN_ONLY !== '1') {
    await withServer("R3 raw node:http + pg, S3's SQL", 'servers/raw-pg.js', mode, {}, async (server) => {
      results.push(await runLoad({ server, body: POSTS, durationSeconds: DURATION, checkBody }));
    });
  }
  const warden = find(results, 'Warden');
  const r3 = find(results, "R3 raw node:http + pg, S3's SQL");
  const m1 = find(results, 'M1 Mercurius + graphql-jit');
  figures['Warden / R3'] = ratio(warden, r3);
  figures['Warden / M1'] = ratio(warden, m1);
  figures['Warden / P1'] = ratio(warden, find(results, 'P1 typical Apollo'));
  Object.assign(figures, variantFigures(results, warden));
  return {
    id: 'S3',
    title: '`posts(first: 20)` with each author',
    mode: mode.name,
    results,
    figures,
    targets: [
      ...(r3 ? [target('Warden ≥ 0.5 × R3', ratio(warden, r3), 0.5)] : []),
      ...(baseline
        ? [target('CPU/req ≤ 0.5 × baseline (value: baseline ÷ Warden, ≥ 2)', 1 / cpuRatio(warden, find(results, baseline.name)), 2)]
        : []),
      target('stretch: Warden ≥ 0.8 × M1', ratio(warden, m1), 0.8),
    ],
  };
}

const REFRESH = 'mutation($t: String) { refreshToken(refreshToken: $t) { refreshToken } }';

/** One S4 load run: each connection one session, rotating its own session's token. */
async function rotations(name: string, script: string, mode: Mode, extra: Record<string, string>): Promise<LoadResult> {
  const connections = SMOKE ? 4 : 32;
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

async function s4(mode: Mode, s2: Scenario | undefined): Promise<Scenario> {
  const s2Warden = s2 && find(s2.results, 'Warden');
  const s2Uncached = s2 && find(s2.results, 'Warden, SESSION_CACHE_TTL=0');
  const s2UncachedHs256 = s2 && find(s2.results, 'Warden, SESSION_CACHE_TTL=0, JWT_ALGORITHM=HS256');
  const results: LoadResult[] = [];
  const figures: Record<string, number | string> = {};
  // Each build with each algorithm, the builds alternating, so a change in the machine's load
  // between runs does not all land on one build.
  for (const algorithm of SMOKE ? ['ES256'] : ['ES256', 'HS256']) {
    const suffix = algorithm === 'ES256' ? '' : `, JWT_ALGORITHM=${algorithm}`;
    // ES256 is the default: its run is configured as S2's Warden is.
    const current = await rotations(`Warden${suffix}`, WARDEN, mode, algorithm === 'ES256' ? {} : { JWT_ALGORITHM: algorithm });
    results.push(current);
    if (baseline) {
      const before = await rotations(`${baseline.name}${suffix}`, baseline.script, mode, { ...baseline.env, JWT_ALGORITHM: algorithm });
      results.push(before);
      figures[`CPU per rotation, ${algorithm}: this build / baseline`] = cpuRatio(current, before);
      figures[`rotations/s, ${algorithm}: this build / baseline`] = ratio(current, before);
    }
  }
  // The other variants with the default algorithm.
  for (const variant of variants.filter((v) => v !== baseline))
    results.push(await rotations(variant.name, variant.script, mode, variant.env));
  const result = find(results, 'Warden');
  const value = ratio(result, s2Uncached);
  figures['S4 / S2'] = ratio(result, s2Warden);
  figures['S4 / S2 with the session cache off'] = value;
  figures['S4 / S2 with the session cache off, both HS256'] = ratio(find(results, 'Warden, JWT_ALGORITHM=HS256'), s2UncachedHs256);
  Object.assign(figures, variantFigures(results, result));
  return {
    id: 'S4',
    title: '`refreshToken` rotation, each token used once',
    mode: mode.name,
    results,
    figures,
    targets: [
      target('S4 ≥ 0.8 × S2 with the session cache off', value, 0.8),
      ...(baseline
        ? [target('CPU/req ≤ 0.5 × baseline (value: baseline ÷ Warden, ≥ 2)', 1 / cpuRatio(result, find(results, baseline.name)), 2)]
        : []),
    ],
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
      targets: [target('logins/s ≥ 0.85 × cores ÷ hash time', value, 0.85)],
    });
  }
  return out;
}

/**
 * MEM (BENCH_ONLY=MEM): RSS and heap of one Warden after 20k and after 200k S2 requests, each
 * read after two full collections (the server runs with --expose-gc); steady load should not grow
 * them (target: within 10 %).
 */
async function memory(mode: Mode): Promise<Scenario> {
  const results: LoadResult[] = [];
  const figures: Record<string, number | string> = {};
  const targets: Target[] = [];
  await withServer('Warden', WARDEN, mode, { NODE_OPTIONS: '--expose-gc' }, async (server) => {
    const { accessToken } = await signup(server);
    const load = (amount: number) =>
      runLoad({ server, body: ME, headers: { authorization: `Bearer ${accessToken}` }, amount, durationSeconds: 0 });
    const first = await load(20_000);
    first.server = 'Warden S2, requests 1–20k';
    const early = await server.memory();
    const rest = await load(180_000);
    rest.server = 'Warden S2, requests 20k–200k';
    const late = await server.memory();
    results.push(first, rest);
    const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
    Object.assign(figures, {
      'RSS MiB after 20k': mib(early.rss),
      'RSS MiB after 200k': mib(late.rss),
      'heap MiB after 20k': mib(early.heapUsed),
      'heap MiB after 200k': mib(late.heapUsed),
      'collected before reading': late.collected ? 'yes' : 'no',
    });
    targets.push(
      atMost('RSS after 200k ≤ 1.1 × after 20k (value: after 200k ÷ after 20k)', late.rss / early.rss, 1.1),
      atMost('heap after 200k ≤ 1.1 × after 20k (value: after 200k ÷ after 20k)', late.heapUsed / early.heapUsed, 1.1),
    );
  });
  return { id: 'MEM', title: 'memory under steady S2 load', mode: mode.name, results, figures, targets };
}

/**
 * GROWTH (BENCH_ONLY=GROWTH, PostgreSQL only): how each request's cost grows with the data. The
 * same requests run against a small data set (11 users, 100 posts, 1k sessions) and a large one
 * (bench/seed-large.sql: 10k users, 200k posts, ~500k follows; plus 1M sessions), each at 8
 * connections; the figure is time per request, large ÷ small (from req/s), target ≤ 1.5. Pages:
 * page 50 (after 980 items, 20 a page) exists only in the large set, so it is compared with the
 * small set's page 1. The database is BENCH_GROWTH_DATABASE_URL's, which the run empties (TRUNCATE)
 * and fills: give it a scratch database. Every statement the requests sent on the large set is
 * then run under EXPLAIN (ANALYZE, BUFFERS) (writes inside a rolled-back transaction), into
 * bench/results/growth-explain.md.
 */
const GROWTH_POSTS = (after: string | null) =>
  `{ posts(first: 20${after ? `, after: ${JSON.stringify(after)}` : ''}) { edges { node { id title author { id name followerCount } } } pageInfo { endCursor } } }`;
const GROWTH_FEED = (after: string | null) =>
  `{ feed(first: 20${after ? `, after: ${JSON.stringify(after)}` : ''}) { edges { node { id title author { id name } } } pageInfo { endCursor } } }`;
const GROWTH_USER_POSTS = (star: string) => (after: string | null) =>
  `{ user(id: ${JSON.stringify(star)}) { id name posts(first: 20${after ? `, after: ${JSON.stringify(after)}` : ''}) { edges { node { id title } } pageInfo { endCursor } } } }`;

const GROWTH_LOGIN = 'mutation($input: LoginInput!) { login(input: $input) { accessToken user { id } } }';

interface GrowthCase {
  name: string;
  /** Request body and headers; built once the data set is in place. */
  request: () => Promise<{ body: string; headers: Record<string, string> }>;
  /** SESSION_CACHE_TTL=0 server (S2 with the cache off). */
  uncached?: boolean;
}

async function growth(): Promise<Scenario> {
  const databaseUrl = process.env.BENCH_GROWTH_DATABASE_URL;
  const redisUrl = process.env.BENCH_REDIS_URL;
  if (!databaseUrl || !redisUrl)
    throw new Error('GROWTH needs BENCH_GROWTH_DATABASE_URL (a scratch database it empties) and BENCH_REDIS_URL');
  const redis = new URL(redisUrl);
  redis.pathname = '/2';
  const mode: Mode = { name: 'PostgreSQL + Redis', env: { DATABASE_URL: databaseUrl, REDIS_URL: redis.toString() } };
  const { Client } = await import('pg');
  const withClient = async <T>(work: (client: InstanceType<typeof Client>) => Promise<T>): Promise<T> => {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  const sql = <T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]> =>
    withClient(async (client) => {
      const result = await client.query(text, values);
      return (Array.isArray(result) ? result[result.length - 1].rows : result.rows) as T[];
    });
  const results: LoadResult[] = [];
  const figures: Record<string, number | string> = {};
  const targets: Target[] = [];
  const timings: Record<string, Record<'small' | 'large', LoadResult | undefined>> = {};
  const sizes: Record<string, Record<string, string>> = {};
  const explainCases: GrowthCase[] = [];
  // The server the cases' page walks ask (set by whichever server is measuring or explaining).
  let current: ServerHandle | undefined;

  for (const size of ['small', 'large'] as const) {
    // A server first, so the schema exists (it migrates at start); then the data set.
    let viewer!: { accessToken: string; refreshToken: string; user: { id: string } };
    let viewerEmail = '';
    let star = '';
    await withServer('Warden (seeding)', WARDEN, mode, {}, async (server) => {
      await sql('TRUNCATE "User", "AuthEvent" CASCADE');
      viewerEmail = email('viewer');
      const data = await gql(server, SIGNUP, { input: { email: viewerEmail, password: 'bench password 1', name: 'viewer' } });
      viewer = data.signup;
      if (size === 'small') {
        await sql(`
          CREATE TEMP TABLE u AS SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, 10) g;
          INSERT INTO "User" (id, email, name, "passwordHash", "avatarUrl", bio, "updatedAt")
            SELECT id, 'small' || n || '@growth.test', 'User ' || n, 'x', '', '', now() FROM u;
          INSERT INTO "Post" (id, "authorId", title, body, published, "createdAt", "updatedAt")
            SELECT gen_random_uuid(), u.id, 'Post ' || g, 'body', true, now() - (g || ' minutes')::interval, now()
            FROM generate_series(1, 100) g JOIN u ON u.n = 1 + g % 10;
          INSERT INTO "Follow" ("followerId", "followingId") SELECT '${viewer.user.id}', id FROM u;
          ANALYZE;`);
      } else {
        await sql(readFileSync(path.join(__dirname, '..', '..', 'bench', 'seed-large.sql'), 'utf8'));
        // One author with 1,200 more posts, older than the rest (so their page 50 exists and the
        // newest pages stay mixed), and the viewer following 100 more authors including that one.
        await sql(`
          CREATE TEMP TABLE u AS SELECT id, row_number() OVER (ORDER BY id) AS n FROM "User" WHERE email LIKE '%@explain.test';
          INSERT INTO "Post" (id, "authorId", title, body, published, "createdAt", "updatedAt")
            SELECT gen_random_uuid(), (SELECT id FROM u WHERE n = 1), 'Star ' || g, 'body', true, now() - interval '400 days' - (g || ' minutes')::interval, now()
            FROM generate_series(1, 1200) g;
          INSERT INTO "Follow" ("followerId", "followingId") SELECT '${viewer.user.id}', id FROM u WHERE n <= 100 ON CONFLICT DO NOTHING;
          ANALYZE;`);
      }
      star = (await sql<{ id: string }>(`SELECT "authorId" AS id FROM "Post" GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`))[0].id;
      // Sessions: 1k or 1M rows, spread over the seeded users.
      const sessions = size === 'small' ? 1_000 : 1_000_000;
      await sql(`
        INSERT INTO "Session" (id, "userId", "expiresAt", "absoluteExpiresAt", "tokenSalt")
        SELECT gen_random_uuid(), u.id, now() + interval '14 days', now() + interval '30 days', decode(md5(random()::text), 'hex')
        FROM generate_series(1, ${sessions}) g JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n, count(*) OVER () AS c FROM "User") u
          ON u.n = 1 + g % u.c;
        ANALYZE "Session";`);
      for (const table of ['User', 'Post', 'Follow', 'Session']) {
        const [row] = await sql<{ rows: string; bytes: string }>(
          `SELECT (SELECT count(*) FROM "${table}")::text AS rows, pg_size_pretty(pg_total_relation_size('"${table}"')) AS bytes`,
        );
        (sizes[table] ??= {})[size] = `${Number(row.rows).toLocaleString('en')} rows, ${row.bytes}`;
      }
    });

    const auth = { authorization: `Bearer ${viewer.accessToken}` };
    // Page 50: walk 49 pages for its cursor (on the server that measures it).
    const pageAfter = async (server: ServerHandle, query: (after: string | null) => string, pages: number, pick: (data: any) => any) => {
      let after: string | null = null;
      for (let i = 0; i < pages; i++) after = pick(await gql(server, query(after), {}, viewer.accessToken)).pageInfo.endCursor;
      return after;
    };
    const cases = (server: () => ServerHandle): GrowthCase[] => [
      { name: 'S3 posts page 1', request: async () => ({ body: JSON.stringify({ query: GROWTH_POSTS(null) }), headers: auth }) },
      { name: 'feed page 1', request: async () => ({ body: JSON.stringify({ query: GROWTH_FEED(null) }), headers: auth }) },
      {
        name: 'user { posts } page 1',
        request: async () => ({ body: JSON.stringify({ query: GROWTH_USER_POSTS(star)(null) }), headers: auth }),
      },
      ...(size === 'large'
        ? [
            {
              name: 'S3 posts page 50',
              request: async () => ({
                body: JSON.stringify({ query: GROWTH_POSTS(await pageAfter(server(), GROWTH_POSTS, 49, (d) => d.posts)) }),
                headers: auth,
              }),
            },
            {
              name: 'feed page 50',
              request: async () => ({
                body: JSON.stringify({ query: GROWTH_FEED(await pageAfter(server(), GROWTH_FEED, 49, (d) => d.feed)) }),
                headers: auth,
              }),
            },
            {
              name: 'user { posts } page 50',
              request: async () => ({
                body: JSON.stringify({
                  query: GROWTH_USER_POSTS(star)(await pageAfter(server(), GROWTH_USER_POSTS(star), 49, (d) => d.user.posts)),
                }),
                headers: auth,
              }),
            },
          ]
        : []),
      {
        name: 'login',
        request: async () => ({
          body: JSON.stringify({ query: GROWTH_LOGIN, variables: { input: { email: viewerEmail, password: 'bench password 1' } } }),
          headers: {},
        }),
      },
      { name: 'S2 me, session cache off', uncached: true, request: async () => ({ body: ME, headers: auth }) },
    ];
    for (const uncached of [false, true]) {
      await withServer(`Warden, ${size}`, WARDEN, mode, uncached ? { SESSION_CACHE_TTL: '0' } : {}, async (server) => {
        current = server;
        for (const c of cases(() => current!).filter((c) => Boolean(c.uncached) === uncached)) {
          const { body, headers } = await c.request();
          // A second of warm-up first, so the first case measured on a server pays no more JIT than the others.
          await runLoad({ server, body, headers, connections: 8, durationSeconds: 1 });
          const result = await runLoad({ server, body, headers, connections: 8, durationSeconds: Math.min(DURATION, 5) });
          result.server = `${c.name}, ${size} data`;
          results.push(result);
          (timings[c.name] ??= { small: undefined, large: undefined })[size] = result;
        }
      });
    }
    const rotation = await rotations(`refreshToken, ${size} data`, WARDEN, mode, {});
    results.push(rotation);
    (timings['refreshToken'] ??= { small: undefined, large: undefined })[size] = rotation;
    if (size === 'large') explainCases.push(...cases(() => current!));
  }

  // Time per request, large ÷ small; page 50 against the small set's page 1.
  for (const [name, { large }] of Object.entries(timings)) {
    const small = timings[name.replace('page 50', 'page 1')]?.small;
    const value = large?.valid && small?.valid ? small.rps / large.rps : NaN;
    figures[`${name}: large ÷ small (time/request)`] = value;
    targets.push(atMost(`${name} ≤ 1.5 × small (value: large ÷ small)`, value, 1.5));
  }
  for (const [table, bySize] of Object.entries(sizes)) figures[`${table} small / large`] = `${bySize.small} / ${bySize.large}`;

  // The statements of each request on the large set, explained.
  const log = path.join(mkdtempSync(path.join(tmpdir(), 'warden-growth-')), 'queries.jsonl');
  const explained: string[] = [
    '# EXPLAIN (ANALYZE, BUFFERS) of each statement, large data set',
    '',
    'Written by `BENCH_ONLY=GROWTH npm run bench` (see docs/performance.md). UPDATEs and DELETEs ran inside a rolled-back transaction; INSERTs are left out (replayed, each would repeat its key).',
    '',
  ];
  await withServer('Warden (explain)', WARDEN, mode, { BENCH_LOG_QUERIES: log }, async (server) => {
    current = server;
    for (const c of explainCases) {
      const { body, headers } = await c.request();
      writeFileSync(log, '');
      const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      await response.text();
      explained.push(`## ${c.name}`, '');
      const statements = readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { query: string; params: string });
      for (const { query, params } of statements) {
        if (!/^\s*(SELECT|UPDATE|DELETE|WITH)/i.test(query)) continue; // an INSERT replayed would repeat its key
        let plan: string;
        try {
          plan = await withClient(async (client) => {
            await client.query('BEGIN');
            try {
              const rows = (await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${query}`, JSON.parse(params || '[]'))).rows;
              return rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
            } finally {
              await client.query('ROLLBACK').catch(() => undefined);
            }
          });
        } catch (error) {
          plan = `(could not explain: ${(error as Error).message})`;
        }
        explained.push('```sql', query.trim(), '```', '', '```', plan, '```', '');
      }
    }
  });
  rmSync(path.dirname(log), { recursive: true, force: true });
  writeFileSync(path.join(RESULTS_DIR, 'growth-explain.md'), explained.join('\n'));
  return { id: 'GROWTH', title: 'cost as the data grows', mode: mode.name, results, figures, targets };
}

const fmt = (n: number | string) =>
  typeof n === 'number' ? (Number.isNaN(n) ? 'n/a' : Number.isInteger(n) ? String(n) : n.toFixed(2)) : n;

function markdown(scenarios: Scenario[], machine: Record<string, string | number | boolean>, chartFile: string): string {
  const lines = [
    `Machine: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, server pinned to one core and load generator to another: ${machine.pinned}. ${machine.duration}s per run; load average at the end ${machine.loadAverage}. Ratios only; requests/s are for this machine. ![chart](${chartFile})`,
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
  lines.push('', '| scenario | mode | figures | targets |', '| --- | --- | --- | --- |');
  for (const s of scenarios) {
    const figures = Object.entries(s.figures)
      .map(([k, v]) => `${k}: ${fmt(v)}`)
      .join('; ');
    const targets = s.targets
      .map((t) => `${t.description}: ${fmt(t.value)}, ${t.met === null ? 'invalid run' : t.met ? 'met' : '**not met**'}`)
      .join('; ');
    lines.push(`| ${s.id} | ${s.mode} | ${figures} | ${targets} |`);
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
    let s1Result: Scenario | undefined;
    if (want('S1')) scenarios.push((s1Result = await s1(mode)));
    let s2Result: Scenario | undefined;
    if (want('S2') || want('S4')) scenarios.push((s2Result = await s2(mode, s1Result && find(s1Result.results, 'Warden'))));
    if (want('S3')) scenarios.push(await s3(mode));
    if (want('S4')) scenarios.push(await s4(mode, s2Result));
    if (want('S5') && !SMOKE) scenarios.push(...(await s5(mode)));
    // Long runs of their own, only when named: BENCH_ONLY=MEM, BENCH_ONLY=GROWTH.
    if (only?.includes('MEM') && !SMOKE) scenarios.push(await memory(mode));
    for (const s of scenarios.filter((x) => x.mode === mode.name)) console.log(s.id, JSON.stringify(s.figures));
  }
  if (only?.includes('GROWTH') && !SMOKE) scenarios.push(await growth());
  await stopSink();
  await stopSmokeServers();
  const machine = {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    pinned,
    duration: DURATION,
    loadAverage: loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
  };
  const dir = RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  // A run of some scenarios (BENCH_ONLY) writes files of its own, leaving the full run's alone.
  const name = only ? `only-${only.join('-')}` : 'latest';
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ date: new Date().toISOString(), machine, scenarios }, null, 2) + '\n');
  const table = markdown(scenarios, machine, `${name}.svg`);
  writeFileSync(path.join(dir, `${name}.md`), table);
  writeFileSync(path.join(dir, `${name}.svg`), chart(scenarios));
  console.log(table);
  const invalid = scenarios.flatMap((s) =>
    s.results.filter((r) => !r.valid).map((r) => `${s.id} ${s.mode} ${r.server}: ${r.invalidReason}`),
  );
  if (SMOKE && invalid.length > 0) {
    console.error(`invalid runs:\n${invalid.join('\n')}`);
    process.exitCode = 1;
  }
  if (only || process.env.BENCH_RESULTS_DIR) return;
  const readme = path.join(__dirname, '..', '..', 'docs', 'performance.md');
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  if (text.includes(start) && text.includes(end)) {
    // The table's chart link, relative to docs/ there.
    const docsTable = markdown(scenarios, machine, `../bench/results/${name}.svg`);
    writeFileSync(readme, text.slice(0, text.indexOf(start) + start.length) + '\n' + docsTable + text.slice(text.indexOf(end)));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
