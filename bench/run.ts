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
          const [label, dir] = entry.split('@');
          return { name: `Warden, ${label}`, script: harnessIn(dir), env: {} };
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
    for (const s of scenarios.filter((x) => x.mode === mode.name)) console.log(s.id, JSON.stringify(s.figures));
  }
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
  const dir = process.env.BENCH_RESULTS_DIR ?? path.join(__dirname, '..', '..', 'bench', 'results');
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
