/**
 * JWT hardening with JWT_ALGORITHM=HS256 (RFC 8725, docs/api.md §4–5; ES256 in jwt-es256.test.ts): every forged, malformed or mis-issued access token
 * answers UNAUTHENTICATED on an @auth field, with no 5xx and no library text; only a correctly
 * signed token past `exp` answers ACCESS_TOKEN_EXPIRED. Key rotation: JWT_SECRET_PREVIOUS is
 * accepted for verification only, and the `kid` header picks the key.
 */
import { print } from 'graphql';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ErrorCode } from '../../src/errors/error-code';
import { rawRequest } from '../support/raw-http';
import { ME, signupUser, startTestServer, TEST_JWT_SECRET, type SignedUp, type TestServer } from '../kit';

const OTHER_SECRET = 'another-secret-that-is-also-32-bytes-long!!';

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const kidOf = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64url').slice(0, 16);

/** Signs header.payload with HMAC by hand, so any header (alg, kid, jwk …) can be forged. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, secret = TEST_JWT_SECRET, hash = 'sha256'): string {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  return `${signingInput}.${createHmac(hash, secret).update(signingInput).digest('base64url')}`;
}

let server: TestServer;
let user: SignedUp;
let claims: Record<string, unknown>;
let header: Record<string, unknown>;

beforeAll(async () => {
  server = await startTestServer({ env: { JWT_ALGORITHM: 'HS256' } });
  user = await signupUser(server);
  const decoded = jwt.decode(user.accessToken, { complete: true })!;
  claims = decoded.payload as Record<string, unknown>;
  header = decoded.header as unknown as Record<string, unknown>;
});
afterAll(() => server.close());

/** Claims like the real token's, valid now unless overridden. */
const fresh = (overrides: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return { ...claims, jti: randomUUID(), iat: now, exp: now + 600, ...overrides };
};

async function meWith(authorization: string | undefined) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(server.graphqlUrl, { method: 'POST', headers, body: JSON.stringify({ query: print(ME) }) });
  const text = await response.text();
  return {
    status: response.status,
    text,
    body: JSON.parse(text) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> },
  };
}

function expectCode(result: Awaited<ReturnType<typeof meWith>>, code: ErrorCode) {
  expect(result.status).toBeLessThan(500);
  expect(result.body.errors?.map((error) => error.extensions?.code)).toEqual([code]);
  expect(result.body.data ?? null).toBeNull();
  // No jsonwebtoken text ("invalid signature", "jwt malformed", "jwt expired" …) reaches the client.
  expect(result.text).not.toMatch(/jwt|signature|malformed|invalid token|algorithm|jsonwebtoken|stack/i);
}

describe('tokens that must answer UNAUTHENTICATED', () => {
  const cases: Array<[string, () => string | undefined]> = [
    ['no Authorization header', () => undefined],
    ['"Bearer" with nothing', () => 'Bearer'],
    ['"Bearer " with nothing', () => 'Bearer '],
    ['another scheme', () => `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['a non-JWT', () => 'Bearer not-a-jwt'],
    ['three empty segments', () => 'Bearer ..'],
    ['garbage base64 segments', () => 'Bearer e30.e30.e30'],
    ['alg "none" without a signature', () => `Bearer ${b64url({ ...header, alg: 'none' })}.${b64url(fresh())}.`],
    ['alg "None"', () => `Bearer ${b64url({ ...header, alg: 'None' })}.${b64url(fresh())}.`],
    ['alg "NONE"', () => `Bearer ${b64url({ ...header, alg: 'NONE' })}.${b64url(fresh())}.`],
    [
      'alg "nOnE" with the real signature',
      () => `Bearer ${b64url({ ...header, alg: 'nOnE' })}.${b64url(fresh())}.${user.accessToken.split('.')[2]}`,
    ],
    [
      'a tampered payload with the old signature',
      () => {
        const [h, , s] = user.accessToken.split('.');
        return `Bearer ${h}.${b64url({ ...claims, role: 'ADMIN' })}.${s}`;
      },
    ],
    ['a token signed with another secret', () => `Bearer ${forge(header, fresh(), OTHER_SECRET)}`],
    ["another secret, with that secret's kid", () => `Bearer ${forge({ ...header, kid: kidOf(OTHER_SECRET) }, fresh(), OTHER_SECRET)}`],
    ['HS384 with the right secret', () => `Bearer ${forge({ ...header, alg: 'HS384' }, fresh(), TEST_JWT_SECRET, 'sha384')}`],
    ['HS512 with the right secret', () => `Bearer ${forge({ ...header, alg: 'HS512' }, fresh(), TEST_JWT_SECRET, 'sha512')}`],
    ['HS256 claimed, HS512 signature', () => `Bearer ${forge(header, fresh(), TEST_JWT_SECRET, 'sha512')}`],
    ['RS256 claimed (key confusion)', () => `Bearer ${forge({ ...header, alg: 'RS256' }, fresh())}`],
    [
      'missing exp',
      () => {
        const { exp: _exp, ...rest } = fresh();
        return `Bearer ${forge(header, rest)}`;
      },
    ],
    [
      'missing iat',
      () => {
        const { iat: _iat, ...rest } = fresh();
        return `Bearer ${forge(header, rest)}`;
      },
    ],
    [
      'iat far in the future',
      () => `Bearer ${forge(header, fresh({ iat: Math.floor(Date.now() / 1000) + 3600, exp: Math.floor(Date.now() / 1000) + 7200 }))}`,
    ],
    ['wrong iss', () => `Bearer ${forge(header, fresh({ iss: 'evil' }))}`],
    ['missing iss', () => `Bearer ${forge(header, fresh({ iss: undefined }))}`],
    ['wrong aud', () => `Bearer ${forge(header, fresh({ aud: 'someone-else' }))}`],
    ['aud as a list without warden', () => `Bearer ${forge(header, fresh({ aud: ['a', 'b'] }))}`],
    ['wrong typ', () => `Bearer ${forge({ ...header, typ: 'JWT' }, fresh())}`],
    [
      'no typ',
      () => {
        const { typ: _typ, ...rest } = header;
        return `Bearer ${forge(rest, fresh())}`;
      },
    ],
    ['nbf in the future', () => `Bearer ${forge(header, fresh({ nbf: Math.floor(Date.now() / 1000) + 3600 }))}`],
    [
      'an embedded jwk header',
      () =>
        `Bearer ${forge({ ...header, jwk: { kty: 'oct', k: b64url('attacker-key-attacker-key-attacker') } }, fresh(), 'attacker-key-attacker-key-attacker')}`,
    ],
    ['an embedded jwk header, signed with the real key', () => `Bearer ${forge({ ...header, jwk: { kty: 'oct', k: 'x' } }, fresh())}`],
    ['a jku header', () => `Bearer ${forge({ ...header, jku: 'https://evil.example/jwks.json' }, fresh())}`],
    ['an x5u header', () => `Bearer ${forge({ ...header, x5u: 'https://evil.example/cert.pem' }, fresh())}`],
    ['an x5c header', () => `Bearer ${forge({ ...header, x5c: ['MIIB'] }, fresh())}`],
    ['a crit header', () => `Bearer ${forge({ ...header, crit: ['exp'] }, fresh())}`],
    [
      'no kid',
      () => {
        const { kid: _kid, ...rest } = header;
        return `Bearer ${forge(rest, fresh())}`;
      },
    ],
    ['kid path traversal', () => `Bearer ${forge({ ...header, kid: '../../../../dev/null' }, fresh(), '')}`],
    ['kid SQL injection', () => `Bearer ${forge({ ...header, kid: "' OR 1=1 --" }, fresh())}`],
    ['kid command injection', () => `Bearer ${forge({ ...header, kid: '|cat /etc/passwd' }, fresh())}`],
    ['kid as an object', () => `Bearer ${forge({ ...header, kid: { $ne: null } }, fresh())}`],
    ['kid "__proto__"', () => `Bearer ${forge({ ...header, kid: '__proto__' }, fresh())}`],
    ['a sub that is not a user', () => `Bearer ${forge(header, fresh({ sub: randomUUID() }))}`],
    ['a sid that is not a session', () => `Bearer ${forge(header, fresh({ sid: randomUUID() }))}`],
    ['a sub that is not a UUID', () => `Bearer ${forge(header, fresh({ sub: "1' OR '1'='1" }))}`],
    ['a sid that is not a UUID', () => `Bearer ${forge(header, fresh({ sid: "x' OR '1'='1" }))}`],
    ['a sid that is an object', () => `Bearer ${forge(header, fresh({ sid: { not: null } }))}`],
    ['a role that does not exist', () => `Bearer ${forge(header, fresh({ role: 'ROOT' }))}`],
    ['a badly signed expired token', () => `Bearer ${forge(header, fresh({ iat: 1_000_000, exp: 1_000_600 }), OTHER_SECRET)}`],
    [
      'an expired token with alg none',
      () => `Bearer ${b64url({ ...header, alg: 'none' })}.${b64url(fresh({ iat: 1_000_000, exp: 1_000_600 }))}.`,
    ],
    ['a 9 KB token', () => `Bearer ${'a'.repeat(9 * 1024)}`],
    ['two tokens', () => `Bearer ${user.accessToken} ${user.accessToken}`],
  ];

  it.each(cases)('%s', async (_what, authorization) => {
    expectCode(await meWith(authorization()), ErrorCode.UNAUTHENTICATED);
  });

  it('still serves the real token (the forgeries above differ from it only in what they name)', async () => {
    const real = await meWith(`Bearer ${user.accessToken}`);
    expect(real.body.errors).toBeUndefined();
    const reforged = await meWith(`Bearer ${forge(header, fresh())}`);
    expect(reforged.body.errors).toBeUndefined();
  });
});

describe('expiry', () => {
  it('answers exactly ACCESS_TOKEN_EXPIRED to a correctly signed expired token', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    expectCode(await meWith(`Bearer ${forge(header, fresh({ iat: past, exp: past + 60 }))}`), ErrorCode.ACCESS_TOKEN_EXPIRED);
  });

  it('answers UNAUTHENTICATED to an expired token with a wrong iss or typ', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    expectCode(await meWith(`Bearer ${forge({ ...header, typ: 'JWT' }, fresh({ iat: past, exp: past + 60 }))}`), ErrorCode.UNAUTHENTICATED);
  });

  it('lets a @public field through with an expired or forged token', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    for (const token of [forge(header, fresh({ iat: past, exp: past + 60 })), 'not-a-jwt']) {
      const response = await server.gql(
        'mutation { login(input: { email: "nobody@example.test", password: "wrong password" }) { accessToken } }',
        undefined,
        { token },
      );
      expect(response.body.errors?.[0]?.extensions?.code).toBe(ErrorCode.INVALID_CREDENTIALS);
    }
  });
});

describe('an oversized Authorization header', () => {
  it('gets a 4xx for 16 KB, and the server stays up', async () => {
    const response = await rawRequest(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${'a'.repeat(16 * 1024)}` },
      body: JSON.stringify({ query: print(ME) }),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await meWith(`Bearer ${user.accessToken}`)).body.errors).toBeUndefined();
  });
});

describe('key rotation with JWT_SECRET_PREVIOUS', () => {
  const NEW_SECRET = 'the-new-secret-after-rotation-at-least-32-bytes';

  it('accepts tokens signed with the previous key, signs only with the new one, and picks the key by kid', async () => {
    const rotated = await startTestServer({
      shareWith: server,
      env: { JWT_ALGORITHM: 'HS256', JWT_SECRET: NEW_SECRET, JWT_SECRET_PREVIOUS: TEST_JWT_SECRET },
    });
    try {
      // A token from before the rotation still works.
      const old = await rotated.gql(ME, undefined, { token: user.accessToken });
      expect(old.body.errors).toBeUndefined();

      // New tokens carry the new key's kid and verify with the new key only.
      const fresher = await signupUser(rotated);
      const newHeader = jwt.decode(fresher.accessToken, { complete: true })!.header as unknown as Record<string, unknown>;
      expect(newHeader.kid).toBe(kidOf(NEW_SECRET));
      expect(newHeader.kid).not.toBe(header.kid);
      expect(() => jwt.verify(fresher.accessToken, NEW_SECRET, { algorithms: ['HS256'] })).not.toThrow();
      expect(() => jwt.verify(fresher.accessToken, TEST_JWT_SECRET, { algorithms: ['HS256'] })).toThrow();
      expect((await rotated.gql(ME, undefined, { token: fresher.accessToken })).body.errors).toBeUndefined();

      // The kid chooses the key; there is no trying the other one. A token signed with the
      // previous key but naming the new key's kid (or the reverse) is refused.
      const oldKeyNewKid = forge({ ...header, kid: kidOf(NEW_SECRET) }, fresh(), TEST_JWT_SECRET);
      const newKeyOldKid = forge({ ...header, kid: kidOf(TEST_JWT_SECRET) }, fresh(), NEW_SECRET);
      for (const token of [oldKeyNewKid, newKeyOldKid]) {
        expect((await rotated.gql(ME, undefined, { token })).body.errors?.[0]?.extensions?.code).toBe(ErrorCode.UNAUTHENTICATED);
      }

      // A server that no longer lists the old key refuses its tokens.
      const later = await startTestServer({ shareWith: server, env: { JWT_ALGORITHM: 'HS256', JWT_SECRET: NEW_SECRET } });
      try {
        expect((await later.gql(ME, undefined, { token: user.accessToken })).body.errors?.[0]?.extensions?.code).toBe(
          ErrorCode.UNAUTHENTICATED,
        );
        expect((await later.gql(ME, undefined, { token: fresher.accessToken })).body.errors).toBeUndefined();
      } finally {
        await later.close();
      }
    } finally {
      await rotated.close();
    }
  });
});
