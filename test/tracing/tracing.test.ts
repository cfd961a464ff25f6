/**
 * Tracing (docs/tracing.md): the real process (`node dist/src/main.js`, built by `npm run compile`)
 * exports OTLP/HTTP JSON to a collector in this test, and the span trees of `login`,
 * `refreshToken` and `posts(first: 20)` are checked: continued from the caller's `traceparent`,
 * HTTP → GraphQL operation → bcrypt / Prisma / Redis. Every exported attribute of the scripted
 * scenario is searched for the secrets it used, and the server's log lines for the trace id.
 *
 * It runs in CI's PostgreSQL + Redis pass only (when DATABASE_URL and REDIS_URL are set): it
 * starts server processes of its own, and the Redis spans need a Redis server.
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db-template';
import { CLIENT_ID, CLIENT_SECRET, IdpBrowser, REDIRECT_URI, certificate, startIdp, type TestIdp } from '../oauth/idp';
import { describeInServicesPass, LOGIN, SIGNUP, TEST_JWT_SECRET, uniqueEmail } from '../kit';

const ROOT = path.join(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'main.js');

interface Attribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number; arrayValue?: unknown };
}
interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Attribute[];
  events?: Array<{ name: string; attributes?: Attribute[] }>;
  status?: { code?: number; message?: string };
}

/** An OTLP/HTTP collector accepting JSON (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`). */
async function startCollector(): Promise<{ url: string; spans: ExportedSpan[]; payloads: string[]; close: () => Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const payloads: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/v1/traces') {
        payloads.push(body);
        const parsed = JSON.parse(body) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: ExportedSpan[] }> }> };
        for (const resource of parsed.resourceSpans ?? [])
          for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, payloads, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startWarden(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: '0',
      BCRYPT_COST: '10',
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'warden-tracing-')),
      JWT_SECRET: TEST_JWT_SECRET,
      REDIS_URL: process.env.REDIS_URL ?? '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = /ready at (http:\/\/[^"\s]+)/.exec(output);
    if (match) return { child, url: match[1], output: () => output, exited };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A caller's W3C trace context: the trace Warden must continue, and the caller's span its root hangs under. */
const callerContext = () => {
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
};

async function gql(url: string, query: string, variables: object, headers: Record<string, string> = {}): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

const attr = (span: ExportedSpan, key: string): string | number | boolean | undefined => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  return value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.boolValue ?? value.doubleValue;
};

/** The spans of one trace, once its root (the HTTP server span, which ends last) has arrived. */
async function traceOf(spans: ExportedSpan[], traceId: string, callerSpanId: string): Promise<ExportedSpan[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = spans.filter((span) => span.traceId === traceId);
    if (found.some((span) => span.parentSpanId === callerSpanId)) {
      // Spans of the same trace ending just after the root may still be in the next batch.
      await new Promise((r) => setTimeout(r, 300));
      return spans.filter((span) => span.traceId === traceId);
    }
    if (Date.now() > deadline) throw new Error(`trace ${traceId} never arrived; got ${JSON.stringify(found.map((s) => s.name))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether `descendant` lies under `ancestor` in `trace`. */
function isUnder(trace: ExportedSpan[], descendant: ExportedSpan, ancestor: ExportedSpan): boolean {
  const byId = new Map(trace.map((span) => [span.spanId, span]));
  let current = descendant.parentSpanId ? byId.get(descendant.parentSpanId) : undefined;
  while (current) {
    if (current.spanId === ancestor.spanId) return true;
    current = current.parentSpanId ? byId.get(current.parentSpanId) : undefined;
  }
  return false;
}

/** The tree's shape: root HTTP span from the caller, the GraphQL operation under it, and that operation's span. */
function checkTree(trace: ExportedSpan[], caller: { spanId: string }, operation: { name: string; type: string }) {
  const roots = trace.filter((span) => span.parentSpanId === caller.spanId);
  expect(roots.map((span) => span.name)).toEqual(['POST /graphql']);
  const root = roots[0];
  expect(root.kind).toBe(2); // SERVER
  // Every other span of the trace hangs from the root: nothing is orphaned or started afresh.
  for (const span of trace) if (span !== root) expect(isUnder(trace, span, root)).toBe(true);
  const executes = trace.filter((span) => span.name === `${operation.type} ${operation.name}`);
  expect(executes).toHaveLength(1);
  const execute = executes[0];
  expect(attr(execute, 'graphql.operation.type')).toBe(operation.type);
  expect(attr(execute, 'graphql.operation.name')).toBe(operation.name);
  expect(execute.parentSpanId).toBe(root.spanId);
  return { root, execute };
}

const named = (trace: ExportedSpan[], pattern: RegExp) => trace.filter((span) => pattern.test(span.name));

describeInServicesPass('OpenTelemetry tracing (PostgreSQL + Redis pass only)', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let warden: Running;
  let database: TestDatabase;
  let idp: TestIdp;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error('dist/src/main.js is missing: run `npm run compile` (npm test does)');
    // oidc-provider warns, rightly, that its development interactions and memory adapter are in use.
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    jest.spyOn(console, 'info').mockImplementation(() => undefined);
    collector = await startCollector();
    database = await createTestDatabase();
    idp = await startIdp();
    const caFile = path.join(mkdtempSync(path.join(tmpdir(), 'warden-tracing-ca-')), 'idp.pem');
    writeFileSync(caFile, certificate.cert);
    warden = await startWarden({
      DATABASE_URL: database.url,
      // The server's own global fetch trusts the provider's certificate.
      NODE_EXTRA_CA_CERTS: caFile,
      OAUTH_PROVIDERS: 'test',
      OAUTH_TEST_ISSUER: idp.issuer,
      OAUTH_TEST_CLIENT_ID: CLIENT_ID,
      OAUTH_TEST_CLIENT_SECRET: CLIENT_SECRET,
      OAUTH_REDIRECT_URIS: REDIRECT_URI,
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_SERVICE_NAME: 'warden-under-test',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
  }, 90_000);

  afterAll(async () => {
    if (warden && warden.child.exitCode === null) {
      warden.child.kill('SIGTERM');
      await warden.exited;
    }
    await collector?.close();
    await idp?.close();
    await database?.drop();
  });

  const email = uniqueEmail();
  const password = `pw-${hex(8)}`;
  const secrets: Record<string, string> = { email, password, oauthClientSecret: CLIENT_SECRET };

  it('traces login, refreshToken and posts(first: 20) from HTTP down to bcrypt, SQL and Redis, continuing the caller', async () => {
    const signup = await gql(warden.url, SIGNUP, { input: { email, password, name: 'Traced' } });
    expect(signup.errors).toBeUndefined();
    expect(signup.data.signup.refreshToken).toEqual(expect.any(String));

    // login
    const loginCaller = callerContext();
    const login = await gql(
      warden.url,
      LOGIN,
      { input: { email, password } },
      { traceparent: loginCaller.traceparent, 'x-request-id': 'traced-login' },
    );
    expect(login.data.login.accessToken).toEqual(expect.any(String));
    secrets.accessToken = login.data.login.accessToken;
    secrets.refreshToken = login.data.login.refreshToken;
    const loginTrace = await traceOf(collector.spans, loginCaller.traceId, loginCaller.spanId);
    const loginTree = checkTree(loginTrace, loginCaller, { name: 'Login', type: 'mutation' });
    const compare = named(loginTrace, /^bcrypt\.compare$/);
    expect(compare).toHaveLength(1);
    expect(isUnder(loginTrace, compare[0], loginTree.execute)).toBe(true);
    expect(attr(compare[0], 'bcrypt.cost')).toBe(10);
    const loginQueries = named(loginTrace, /^prisma:/);
    expect(loginQueries.length).toBeGreaterThan(0);
    for (const span of loginQueries) expect(isUnder(loginTrace, span, loginTree.execute)).toBe(true);
    expect(named(loginTrace, /^redis-/).length).toBeGreaterThan(0);

    // Every log line of the login request carries its trace id.
    const lines = warden
      .output()
      .split('\n')
      .filter((line) => line.includes('"reqId":"traced-login"'))
      .map((line) => JSON.parse(line) as { trace_id?: string; span_id?: string });
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line.trace_id).toBe(loginCaller.traceId);
    for (const line of lines) expect(loginTrace.map((span) => span.spanId)).toContain(line.span_id);

    // refreshToken (the token also rides in a cookie header, which must not be recorded either)
    const refreshCaller = callerContext();
    const refreshed = await gql(
      warden.url,
      'mutation Refresh($refreshToken: String) { refreshToken(refreshToken: $refreshToken) { accessToken refreshToken } }',
      { refreshToken: secrets.refreshToken },
      { traceparent: refreshCaller.traceparent, cookie: `warden_refresh=${secrets.refreshToken}` },
    );
    expect(refreshed.data.refreshToken.accessToken).toEqual(expect.any(String));
    secrets.rotatedRefreshToken = refreshed.data.refreshToken.refreshToken;
    secrets.rotatedAccessToken = refreshed.data.refreshToken.accessToken;
    const refreshTrace = await traceOf(collector.spans, refreshCaller.traceId, refreshCaller.spanId);
    const refreshTree = checkTree(refreshTrace, refreshCaller, { name: 'Refresh', type: 'mutation' });
    const refreshWork = [...named(refreshTrace, /^(prisma|warden):/), ...named(refreshTrace, /^redis-/)];
    expect(refreshWork.length).toBeGreaterThan(0);
    // The rotation's one statement, on the driver, with its SQL and no value.
    const rotation = named(refreshTrace, /^warden:db_query$/).filter((span) => /SET generation/.test(String(attr(span, 'db.query.text'))));
    expect(rotation).toHaveLength(1);
    expect(String(attr(rotation[0], 'db.query.text'))).not.toContain(secrets.refreshToken);
    for (const span of refreshWork) expect(isUnder(refreshTrace, span, refreshTree.execute)).toBe(true);
    expect(named(refreshTrace, /^bcrypt\./)).toEqual([]);

    // posts(first: 20)
    const postsCaller = callerContext();
    const posts = await gql(
      warden.url,
      'query Feed { posts(first: 20) { edges { node { id title } } pageInfo { hasNextPage } } }',
      {},
      {
        traceparent: postsCaller.traceparent,
        authorization: `Bearer ${secrets.rotatedAccessToken}`,
      },
    );
    expect(posts.errors).toBeUndefined();
    const postsTrace = await traceOf(collector.spans, postsCaller.traceId, postsCaller.spanId);
    const postsTree = checkTree(postsTrace, postsCaller, { name: 'Feed', type: 'query' });
    // Statements are Prisma's spans, or Warden's own for those it sends on the driver (the posts page).
    const postsQueries = named(postsTrace, /^(prisma|warden):/);
    expect(postsQueries.length).toBeGreaterThan(0);
    // The feed's own query runs inside the operation (the access token's session may be looked up before it).
    const postQueries = postsQueries.filter(
      (span) =>
        /^(prisma:client|warden):db_query$/.test(span.name) && /FROM\s+("public"\.)?"Post"/.test(String(attr(span, 'db.query.text'))),
    );
    expect(postQueries.length).toBeGreaterThan(0);
    for (const span of postQueries) expect(isUnder(postsTrace, span, postsTree.execute)).toBe(true);
    // The SQL statements are there with placeholders (their kind), never with values.
    const statements = postsTrace
      .map((span) => attr(span, 'db.query.text') ?? attr(span, 'db.statement'))
      .filter((s): s is string => typeof s === 'string');
    expect(statements.some((sql) => /^\s*SELECT\b/i.test(sql))).toBe(true);
    // No resolver spans unless asked for.
    expect(named(postsTrace, /resolve/)).toEqual([]);
  }, 60_000);

  it('traces the calls to an OAuth provider as client spans under the operations, with no URL query, header or body', async () => {
    const sub = `traced-${hex(4)}`;
    secrets.oauthEmail = uniqueEmail('oauth');
    idp.accounts.set(sub, { email: secrets.oauthEmail, emailVerified: true, name: 'Traced OAuth' });
    // The binding cookie Warden sets at the start goes back with the finish.
    const startCaller = callerContext();
    const startResponse = await fetch(warden.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: startCaller.traceparent },
      body: JSON.stringify({
        query:
          'mutation Start($provider: String!, $redirectUri: String!) { startOAuthLogin(provider: $provider, redirectUri: $redirectUri) { authorizationUrl state } }',
        variables: { provider: 'test', redirectUri: REDIRECT_URI },
      }),
    });
    const started = (await startResponse.json()) as any;
    expect(started.errors).toBeUndefined();
    const cookie = startResponse.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .find((pair) => pair.startsWith('warden_oauth='));
    expect(cookie).toBeDefined();
    const { authorizationUrl, state } = started.data.startOAuthLogin;
    const back = await new IdpBrowser(idp).authorize(authorizationUrl, sub);
    secrets.oauthCode = back.code;
    secrets.oauthState = state;
    secrets.oauthCookie = cookie!.slice('warden_oauth='.length);

    const finishCaller = callerContext();
    const finished = await gql(
      warden.url,
      'mutation Finish($provider: String!, $code: String!, $state: String!) { finishOAuthLogin(provider: $provider, code: $code, state: $state) { accessToken refreshToken } }',
      { provider: 'test', code: back.code, state },
      { traceparent: finishCaller.traceparent, cookie: cookie! },
    );
    expect(finished.errors).toBeUndefined();
    secrets.oauthAccessToken = finished.data.finishOAuthLogin.accessToken;
    secrets.oauthRefreshToken = finished.data.finishOAuthLogin.refreshToken;

    const providerPort = Number(new URL(idp.issuer).port);
    const toProvider = (trace: ExportedSpan[]) => trace.filter((span) => span.kind === 3 && attr(span, 'server.port') === providerPort); // CLIENT
    // Discovery happens on the first use of the provider: under startOAuthLogin.
    const startTrace = await traceOf(collector.spans, startCaller.traceId, startCaller.spanId);
    const startTree = checkTree(startTrace, startCaller, { name: 'Start', type: 'mutation' });
    const discovery = toProvider(startTrace);
    expect(discovery.map((span) => [span.name, attr(span, 'url.path')])).toEqual([['GET', '/.well-known/openid-configuration']]);
    expect(isUnder(startTrace, discovery[0], startTree.execute)).toBe(true);
    expect(attr(discovery[0], 'http.response.status_code')).toBe(200);

    // The code exchange (and the provider's JWKS for the ID token) under finishOAuthLogin.
    const finishTrace = await traceOf(collector.spans, finishCaller.traceId, finishCaller.spanId);
    const finishTree = checkTree(finishTrace, finishCaller, { name: 'Finish', type: 'mutation' });
    const calls = toProvider(finishTrace);
    const token = calls.filter((span) => span.name === 'POST');
    expect(token).toHaveLength(1);
    expect(attr(token[0], 'url.full')).toBe(`${idp.issuer}/token`);
    expect(attr(token[0], 'http.response.status_code')).toBe(200);
    // And the provider's JWKS (the ID token's signature) and userinfo (with the provider's access token in a header).
    expect(calls.map((span) => `${span.name} ${String(attr(span, 'url.path'))}`).sort()).toEqual(['GET /jwks', 'GET /me', 'POST /token']);
    for (const span of calls) {
      expect(isUnder(finishTrace, span, finishTree.execute)).toBe(true);
      expect(span.attributes.map((a) => a.key).filter((key) => /header|body/i.test(key))).toEqual([]);
      expect(String(attr(span, 'url.full'))).not.toContain('?');
    }
  }, 60_000);

  it('exports no token, password, code, email or cookie in any attribute of a scripted scenario', async () => {
    expect(secrets.refreshToken).toBeDefined(); // the scenario above ran
    // A literal login (values in the document itself rather than in variables).
    const literal = await gql(
      warden.url,
      `mutation { login(input: { email: ${JSON.stringify(email)}, password: ${JSON.stringify(password)} }) { accessToken } }`,
      {},
    );
    expect(literal.data.login.accessToken).toEqual(expect.any(String));
    // A query string with a token in it.
    await fetch(
      `${warden.url}?query=${encodeURIComponent('{ me { id } }')}&variables=${encodeURIComponent(JSON.stringify({ t: secrets.refreshToken }))}`,
      {
        headers: { cookie: `warden_refresh=${secrets.refreshToken}` },
      },
    );
    // A password reset: a mail goes out with a code, and the code is used.
    const reset = await gql(warden.url, 'mutation Reset($email: String!) { requestPasswordReset(email: $email) }', { email });
    expect(reset.data.requestPasswordReset).toBe(true);
    // Signup's verification mail and this reset mail: both their tokens are secrets.
    const mailFiles = () =>
      warden
        .output()
        .split('\n')
        .filter((line) => line.includes('development outbox'))
        .map((line) => JSON.parse(line) as { file: string; subject: string });
    const deadline = Date.now() + 10_000;
    while (!mailFiles().some((mail) => /reset/i.test(mail.subject)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    let token: string | undefined;
    for (const mail of mailFiles()) {
      const text = (JSON.parse(readFileSync(mail.file, 'utf8')) as { text: string }).text;
      const found = /^\s*([A-Za-z0-9_-]{43}|\d{6})\s*$/m.exec(text)?.[1];
      if (!found) throw new Error(`no token or code in the mail "${mail.subject}":\n${text}`);
      if (/reset/i.test(mail.subject)) token = found;
      else secrets.verificationCode = found;
    }
    if (!token) throw new Error(`no reset mail in the outbox:\n${warden.output()}`);
    expect(secrets.verificationCode).toMatch(/^\d{6}$/);
    // The code is used, so it passes through a traced request.
    const verified = await gql(
      warden.url,
      'mutation V($code: String!) { verifyEmail(code: $code) { emailVerified } }',
      { code: secrets.verificationCode },
      {
        authorization: `Bearer ${secrets.rotatedAccessToken}`,
      },
    );
    expect(verified.data.verifyEmail.emailVerified).toBe(true);
    secrets.resetToken = token!;
    secrets.newPassword = `new-${hex(8)}`;
    const done = await gql(
      warden.url,
      'mutation R($token: String!, $newPassword: String!) { resetPassword(token: $token, newPassword: $newPassword) }',
      {
        token,
        newPassword: secrets.newPassword,
      },
    );
    expect(done.data.resetPassword).toBe(true);

    // Let the last batch arrive: the mail span and the reset's spans.
    const deadlineSpans = Date.now() + 10_000;
    while (collector.spans.filter((span) => span.name === 'mail.send').length < 2 && Date.now() < deadlineSpans)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    const mail = collector.spans.filter((span) => span.name === 'mail.send');
    expect(mail).toHaveLength(2);
    for (const span of mail) expect(attr(span, 'warden.mail.delivered')).toBe(true);

    // The whole export as sent (resource attributes and all) for the long secrets; every string
    // in it (names, attribute values, status messages) for them and for the 6-digit code, which
    // could otherwise match a timestamp's digits.
    const exported = collector.payloads.join('\n');
    expect(exported.length).toBeGreaterThan(1000);
    const strings: string[] = [];
    const walk = (value: unknown, key?: string): void => {
      if (typeof value === 'string') {
        if (!/^(traceId|spanId|parentSpanId|startTimeUnixNano|endTimeUnixNano|timeUnixNano)$/.test(key ?? '')) strings.push(value);
      } else if (Array.isArray(value)) value.forEach((item) => walk(item));
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k);
    };
    for (const payload of collector.payloads) walk(JSON.parse(payload));
    expect(strings.length).toBeGreaterThan(100);
    const variants = Object.entries(secrets).flatMap(([name, value]) => [
      [name, value],
      [`${name} (URL-encoded)`, encodeURIComponent(value)],
      [`${name} (JSON-escaped)`, JSON.stringify(value).slice(1, -1)],
    ]);
    // The JWT's signature part too: a token cut in pieces must not leak either.
    for (const jwt of ['accessToken', 'rotatedAccessToken']) variants.push([`${jwt} signature`, secrets[jwt].split('.')[2]]);
    const leaked = variants
      .filter(
        ([name, value]) =>
          (name.startsWith('verificationCode') ? false : exported.includes(value)) || strings.some((s) => s.includes(value)),
      )
      .map(([name]) => name);
    expect(leaked).toEqual([]);
    // No header names either (`authorizationUrl` is a field of startOAuthLogin's document).
    expect(exported).not.toMatch(/warden_refresh|warden_oauth|authorization(?!Url)|cookie/i);
  }, 60_000);

  it('continues an unsampled caller without recording it', async () => {
    const caller = callerContext();
    const before = collector.spans.length;
    const answer = await gql(warden.url, '{ __typename }', {}, { traceparent: `00-${caller.traceId}-${caller.spanId}-00` });
    expect(answer.data.__typename).toBe('Query');
    await new Promise((r) => setTimeout(r, 500));
    expect(collector.spans.slice(before).filter((span) => span.traceId === caller.traceId)).toEqual([]);
  });
});

describeInServicesPass('tracing off (PostgreSQL + Redis pass only)', () => {
  it('loads no part of OpenTelemetry unless OTEL_TRACES_EXPORTER is set', () => {
    if (!existsSync(MAIN)) throw new Error('dist/src/main.js is missing: run `npm run compile` (npm test does)');
    // Everything main.ts loads before it starts listening: the entry's imports and the composition
    // root. The no-op API (@opentelemetry/api) does not count: prom-client loads it in any case.
    const script = `
      require(${JSON.stringify(path.join(ROOT, 'dist/src/infra/start-tracing.js'))});
      require(${JSON.stringify(path.join(ROOT, 'dist/src/bootstrap.js'))});
      const loaded = Object.keys(require.cache).filter((file) => /[\\\\/]@opentelemetry[\\\\/](?!api[\\\\/])|[\\\\/]@prisma[\\\\/]instrumentation[\\\\/]/.test(file));
      console.log(JSON.stringify({ active: require(${JSON.stringify(path.join(ROOT, 'dist/src/infra/tracing.js'))}).tracingActive(), loaded: loaded.length }));
    `;
    const run = (env: Record<string, string>) =>
      JSON.parse(
        execFileSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' })
          .trim()
          .split('\n')
          .pop()!,
      );
    expect(run({})).toEqual({ active: false, loaded: 0 });
    expect(run({ OTEL_TRACES_EXPORTER: 'none' })).toEqual({ active: false, loaded: 0 });
    // The same check would see the SDK when it is on (so it can fail).
    const on = run({ OTEL_TRACES_EXPORTER: 'console' });
    expect(on.active).toBe(true);
    expect(on.loaded).toBeGreaterThan(10);
  }, 30_000);
});
