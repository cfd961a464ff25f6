/**
 * HTTP headers, CORS, error masking and log redaction (docs/api.md §1, §5): no X-Powered-By,
 * nosniff, CORS only for CORS_ORIGINS (never an arbitrary Origin or "null"), unexpected errors
 * masked for the client and logged in full, and no password or token in the logs.
 */
import { Writable } from 'node:stream';
import { ErrorCode } from '../../src/errors/error-code';
import { createLogger } from '../../src/infra/logger';
import { randomPrivateIp } from '../support/raw-http';
import { login } from './helpers';
import { errorCode, SIGNUP, signupUser, startTestServer, uniqueEmail, type TestServer } from '../kit';

const ALLOWED = 'https://app.example';

describe('response headers and CORS', () => {
  let server: TestServer;
  beforeAll(async () => {
    // "null" in the list must still never be echoed.
    server = await startTestServer({ env: { CORS_ORIGINS: `${ALLOWED},null` } });
  });
  afterAll(() => server.close());

  const preflight = (origin: string) =>
    fetch(server.graphqlUrl, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });
  const postFrom = (origin: string) =>
    fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });

  it.each(['/graphql', '/healthz', '/readyz', '/metrics', '/nowhere'])('sends nosniff and no X-Powered-By on %s', async (path) => {
    const response = await fetch(`${server.url}${path}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  it('allows a listed origin, with credentials', async () => {
    for (const response of [await preflight(ALLOWED), await postFrom(ALLOWED)]) {
      expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    }
  });

  it.each(['https://evil.example', 'null', 'https://app.example.evil.example', 'http://app.example', 'https://APP.example', '*'])(
    'gives no CORS headers to Origin %s',
    async (origin) => {
      for (const response of [await preflight(origin), await postFrom(origin)]) {
        expect(response.headers.get('access-control-allow-origin')).toBeNull();
        expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      }
    },
  );
});

describe('unexpected errors', () => {
  it('are masked for the client and logged in full', async () => {
    const lines: string[] = [];
    const server = await startTestServer({
      env: { NODE_ENV: 'test' },
      logDestination: new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }),
    });
    try {
      const user = await signupUser(server);
      const leak = 'relation "User" does not exist at character 42 (SELECT "passwordHash" FROM …)';
      const original = server.app.services.auth.login.bind(server.app.services.auth);
      server.app.services.auth.login = async () => {
        throw new Error(leak);
      };
      try {
        const response = await login(server, user.email, user.password);
        expect(errorCode(response)).toBe(ErrorCode.INTERNAL_SERVER_ERROR);
        expect(response.body.errors?.[0]?.message).toBe('Something went wrong; try again later.');
        expect(JSON.stringify(response.body)).not.toMatch(/relation|SELECT|passwordHash|stack/);
      } finally {
        server.app.services.auth.login = original;
      }
      expect(lines.join('')).toContain('relation \\"User\\" does not exist');
    } finally {
      await server.close();
    }
  });
});

describe('logs', () => {
  it('never contain a known password, access token or refresh token', async () => {
    const lines: string[] = [];
    const server = await startTestServer({
      env: { LOG_LEVEL: 'trace', IP_RATE_LIMIT: '2', TRUST_PROXY: 'true' },
      logDestination: new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }),
    });
    // One client address of its own, so the per-IP quota starts fresh even on a shared Redis.
    const headers = { 'x-forwarded-for': randomPrivateIp() };
    const email = uniqueEmail('logs');
    const password = `pw-${uniqueEmail('secret')}`;
    const wrongPassword = `wrong-${uniqueEmail('secret')}`;
    try {
      const signedUp = await server.gql(SIGNUP, { input: { email, password, name: 'Logs' } }, { headers });
      expect(signedUp.body.errors).toBeUndefined();
      const signedIn = await login(server, email, password, { headers });
      const accessToken: string = signedIn.body.data!.login.accessToken;
      const refreshToken: string = signedIn.body.data!.login.refreshToken;
      const secrets = [
        password,
        encodeURIComponent(password),
        wrongPassword,
        accessToken,
        accessToken.split('.')[2],
        refreshToken,
        signedUp.body.data!.signup.refreshToken,
      ];
      await login(server, email, wrongPassword, { headers });
      // A third login from this IP is rate limited (an error path with the password in the variables).
      expect(errorCode(await login(server, email, password, { headers }))).toBe(ErrorCode.RATE_LIMITED);
      await server.gql('{ me { id email } }', undefined, { token: accessToken, headers });
      await server.gql('{ me { id } }', undefined, { token: `${accessToken}x`, headers });
      await fetch(server.graphqlUrl, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          cookie: `refresh_token=${refreshToken}`,
          authorization: `Bearer ${accessToken}`,
        },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      // A client that wrongly sends secrets in a URL (mutations over GET are refused, but logged as requests).
      const inUrl = `mutation { login(input: { email: "${email}", password: "${password}" }) { accessToken } }`;
      await fetch(`${server.graphqlUrl}?query=${encodeURIComponent(inUrl)}&token=${refreshToken}`, {
        headers: { ...headers, 'apollo-require-preflight': 'true' },
      });
      // Bad input that echoes variables back in errors.
      await server.gql(SIGNUP, { input: { email: 'not-an-email', password, name: '' } }, { headers });
      await server.gql(
        'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
        { input: { email, password, extra: refreshToken } },
        { headers },
      );

      const text = lines.join('');
      expect(text.length).toBeGreaterThan(1000);
      // The request lines are there, with the query string cut off.
      expect(text).toContain('"url":"/graphql?…"');
      for (const secret of secrets) expect(text).not.toContain(secret);
    } finally {
      await server.close();
    }
  });

  it('redact Authorization, cookies, passwords and tokens wherever the logger is given them', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    logger.info({
      req: { headers: { authorization: 'Bearer SECRET-A', cookie: 'refresh_token=SECRET-B' } },
      res: { headers: { 'set-cookie': 'refresh_token=SECRET-C' } },
      input: { password: 'SECRET-D', newPassword: 'SECRET-E', currentPassword: 'SECRET-F' },
      payload: { accessToken: 'SECRET-G', refreshToken: 'SECRET-H', token: 'SECRET-I', code: 'SECRET-J' },
      variables: { password: 'SECRET-K', input: { password: 'SECRET-L' }, refreshToken: 'SECRET-M' },
    });
    expect(lines.join('')).not.toMatch(/SECRET-/);
    expect(lines.join('')).toContain('[redacted]');
  });
});
