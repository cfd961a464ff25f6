import { startProductionServer } from '../security/helpers';
import { describeUnless, REDIS_SKIP_REASON, redisServerAvailable, startTestServer, type TestServer } from '../kit';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { MAX_BODY_BYTES: '4096' } });
});
afterAll(() => server.close());

const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(server.graphqlUrl, { method: 'POST', headers, body });

describe('HTTP surface', () => {
  it('GET /healthz answers ok', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz reports each dependency', async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('ok');
    expect(body.checks.database).toBe('ok');
    if (process.env.REDIS_URL) expect(body.checks.redis).toBe('ok');
  });

  it('GET /metrics serves Prometheus text with Warden’s metrics', async () => {
    await fetch(`${server.url}/healthz`);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('warden_http_request_duration_seconds_bucket');
    expect(text).toMatch(/warden_logins_total\{result="ok"\}/);
    expect(text).toMatch(/warden_refresh_total\{result="reused"\}/);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('sends nosniff and no X-Powered-By', async () => {
    const res = await post(JSON.stringify({ query: '{ __typename }' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('answers 413 to a body over MAX_BODY_BYTES', async () => {
    const res = await post(JSON.stringify({ query: `{ __typename }`, variables: { pad: 'x'.repeat(8000) } }));
    expect(res.status).toBe(413);
  });

  it.each([
    ['malformed JSON', '{"query": ', { 'content-type': 'application/json' }],
    ['an empty body', '', { 'content-type': 'application/json' }],
    ['a wrong content type', 'query=%7B__typename%7D', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['text/plain without a preflight header (CSRF)', JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'text/plain' }],
    [
      'a JSON array (batching is off)',
      JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
      { 'content-type': 'application/json' },
    ],
  ])('answers 4xx, never 5xx, to %s', async (_what, body, headers) => {
    const res = await post(body, headers);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('runs GET queries only with a preflight-forcing header', async () => {
    const url = `${server.graphqlUrl}?query=${encodeURIComponent('{ __typename }')}`;
    expect((await fetch(url)).status).toBe(400);
    const ok = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ data: { __typename: 'Query' } });
    const withAuth = await fetch(url, { headers: { authorization: 'Bearer whatever' } });
    expect(withAuth.status).toBe(200);
  });

  it('refuses mutations over GET with 405', async () => {
    const url = `${server.graphqlUrl}?query=${encodeURIComponent('mutation { login(input: {email: "a@b.c", password: "12345678"}) { accessToken } }')}`;
    const res = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(405);
  });

  it('serves the Sandbox landing page to browsers outside production', async () => {
    const res = await fetch(server.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toMatch(/sandbox/i);
  });

  it('sends CORS headers only to allow-listed origins', async () => {
    const res = await fetch(server.graphqlUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

it('refuses to start in production without Redis (the in-process store)', async () => {
  await expect(startTestServer({ env: { NODE_ENV: 'production', BCRYPT_COST: '10', REDIS_URL: '' } })).rejects.toThrow(/REDIS_URL/);
});

// Production needs Redis: REDIS_URL, or a private redis-server (startProductionServer).
describeUnless(process.env.REDIS_URL || redisServerAvailable ? null : REDIS_SKIP_REASON, 'production HTTP surface', () => {
  let prod: NonNullable<Awaited<ReturnType<typeof startProductionServer>>>;
  beforeAll(async () => {
    const started = await startProductionServer({ CORS_ORIGINS: 'https://app.example' });
    if (!started) throw new Error('the production server did not start');
    prod = started;
  });
  afterAll(() => prod?.close());

  it('serves no landing page, no introspection, and echoes only listed origins', async () => {
    const page = await fetch(prod.server.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/sandbox/i);
    const introspection = await prod.server.gql('{ __schema { types { name } } }');
    expect(introspection.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const cors = await fetch(prod.server.graphqlUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(cors.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });
});
