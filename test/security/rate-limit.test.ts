/**
 * The per-IP limit (docs/api.md §6): IP_RATE_LIMIT calls a minute per client IP to each of login,
 * signup (and, with the mail issue, requestPasswordReset and requestEmailVerification), then
 * RATE_LIMITED with retryAfter. Every aliased field counts; X-Forwarded-For is read only with
 * TRUST_PROXY, and then only the entry the nearest proxy appended.
 *
 * Each test speaks from its own random loopback address (or X-Forwarded-For address), so the
 * counters start fresh even on a shared Redis.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { randomLoopback, randomPrivateIp, rawGql } from '../support/raw-http';
import { LOGIN, SIGNUP, startTestServer, uniqueEmail, type TestServer } from '../kit';

const LIMIT = 3;
const WRONG = 'wrong password 123';

const codes = (body: { errors?: Array<{ extensions?: Record<string, unknown> }> }) =>
  (body.errors ?? []).map((error) => error.extensions?.code);

describe('per-IP rate limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { IP_RATE_LIMIT: String(LIMIT), LOGIN_MAX_FAILURES: '1000' } });
  });
  afterAll(() => server.close());

  const loginFrom = (ip: string, email: string, password = WRONG, headers: Record<string, string> = {}) =>
    rawGql(server.graphqlUrl, LOGIN, { input: { email, password } }, { localAddress: ip, headers });
  const signupFrom = (ip: string, email = uniqueEmail('rl')) =>
    rawGql(server.graphqlUrl, SIGNUP, { input: { email, password: 'correct horse battery', name: 'R' } }, { localAddress: ip });
  /** A new account, signed up from an address of its own so no shared quota is spent. */
  const newUser = async () => {
    const email = uniqueEmail('rl-user');
    expect((await signupFrom(randomLoopback(), email)).json().errors).toBeUndefined();
    return { email, password: 'correct horse battery' };
  };

  it('answers RATE_LIMITED with retryAfter once an IP has used its logins for the minute', async () => {
    const ip = randomLoopback();
    for (let i = 0; i < LIMIT; i++) {
      expect(codes((await loginFrom(ip, uniqueEmail())).json())).toEqual([ErrorCode.INVALID_CREDENTIALS]);
    }
    const limited = (await loginFrom(ip, uniqueEmail())).json();
    expect(codes(limited)).toEqual([ErrorCode.RATE_LIMITED]);
    const retryAfter = limited.errors[0].extensions.retryAfter;
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another IP is not affected.
    expect(codes((await loginFrom(randomLoopback(), uniqueEmail())).json())).toEqual([ErrorCode.INVALID_CREDENTIALS]);
  });

  it('refuses even the right password once the IP is limited, before any other work', async () => {
    const user = await newUser();
    const ip = randomLoopback();
    for (let i = 0; i < LIMIT; i++) await loginFrom(ip, uniqueEmail());
    expect(codes((await loginFrom(ip, user.email, user.password)).json())).toEqual([ErrorCode.RATE_LIMITED]);
  });

  it('limits signup per IP', async () => {
    const ip = randomLoopback();
    for (let i = 0; i < LIMIT; i++) {
      const body = (await signupFrom(ip)).json();
      expect(body.errors).toBeUndefined();
    }
    const limited = (await signupFrom(ip)).json();
    expect(codes(limited)).toEqual([ErrorCode.RATE_LIMITED]);
    expect(limited.data).toBeNull();
  });

  it('keeps a separate quota per operation', async () => {
    const ip = randomLoopback();
    for (let i = 0; i < LIMIT; i++) await loginFrom(ip, uniqueEmail());
    expect((await signupFrom(ip)).json().errors).toBeUndefined();
  });

  it('counts each aliased field as one request', async () => {
    const user = await newUser();
    const aliases = Array.from({ length: LIMIT + 2 }, (_, i) => `a${i}: login(input: $input) { accessToken }`).join('\n');
    const response = await rawGql(
      server.graphqlUrl,
      `mutation Many($input: LoginInput!) { ${aliases} }`,
      { input: { email: user.email, password: user.password } },
      { localAddress: randomLoopback() },
    );
    const body = response.json();
    expect(codes(body)).toEqual([ErrorCode.RATE_LIMITED]);
    expect(body.errors[0].path).toEqual([`a${LIMIT}`]);
  });

  it('ignores X-Forwarded-For without TRUST_PROXY', async () => {
    const ip = randomLoopback();
    for (let i = 0; i < LIMIT; i++) await loginFrom(ip, uniqueEmail(), WRONG, { 'x-forwarded-for': randomPrivateIp() });
    const limited = await loginFrom(ip, uniqueEmail(), WRONG, { 'x-forwarded-for': randomPrivateIp() });
    expect(codes(limited.json())).toEqual([ErrorCode.RATE_LIMITED]);
  });
});

describe('per-IP rate limit behind a proxy (TRUST_PROXY)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { IP_RATE_LIMIT: String(LIMIT), TRUST_PROXY: 'true' } });
  });
  afterAll(() => server.close());

  const loginVia = (forwardedFor: string) =>
    server.gql(LOGIN, { input: { email: uniqueEmail(), password: WRONG } }, { headers: { 'x-forwarded-for': forwardedFor } });

  it('keys the limit on the address the proxy appended', async () => {
    const client = randomPrivateIp();
    for (let i = 0; i < LIMIT; i++) expect(codes((await loginVia(client)).body)).toEqual([ErrorCode.INVALID_CREDENTIALS]);
    expect(codes((await loginVia(client)).body)).toEqual([ErrorCode.RATE_LIMITED]);
    expect(codes((await loginVia(randomPrivateIp())).body)).toEqual([ErrorCode.INVALID_CREDENTIALS]);
  });

  it('cannot be dodged by a client that prefixes its own X-Forwarded-For entries', async () => {
    const client = randomPrivateIp();
    for (let i = 0; i < LIMIT; i++) await loginVia(`${randomPrivateIp()}, ${client}`);
    expect(codes((await loginVia(`${randomPrivateIp()}, ${randomPrivateIp()}, ${client}`)).body)).toEqual([ErrorCode.RATE_LIMITED]);
  });
});

describe('IP_RATE_LIMIT=0', () => {
  it('disables the limit', async () => {
    const server = await startTestServer({ env: { IP_RATE_LIMIT: '0', LOGIN_MAX_FAILURES: '1000' } });
    try {
      const ip = randomLoopback();
      for (let i = 0; i < 40; i++) {
        expect(
          codes(
            (await rawGql(server.graphqlUrl, LOGIN, { input: { email: uniqueEmail(), password: WRONG } }, { localAddress: ip })).json(),
          ),
        ).toEqual([ErrorCode.INVALID_CREDENTIALS]);
      }
    } finally {
      await server.close();
    }
  });
});
