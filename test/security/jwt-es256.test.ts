/**
 * JWT hardening with ES256, the default (RFC 8725, docs/api.md §4–5): verification pins ES256 and
 * requires the kid of a published key, so HS256 — keyed with JWT_SECRET, or with the public key
 * as PEM or as JWK JSON (algorithm confusion) — `alg: none`, a foreign key under a real kid and
 * embedded or linked keys are all UNAUTHENTICATED. Also the JWKS and discovery documents, and
 * that the token verifies with nothing but the published key. The HS256 suite is jwt.test.ts.
 *
 * In the PostgreSQL pass this file uses a database of its own: the shared one holds sessions of
 * other files, which would read as a deployment switching from HS256 (jwt-keys.test.ts covers that).
 */
import { print } from 'graphql';
import {
  createHash,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ErrorCode } from '../../src/errors/error-code';
import { createTestDatabase, type TestDatabase } from '../support/db-template';
import { ME, signupUser, startTestServer, TEST_JWT_SECRET, type SignedUp, type TestServer } from '../kit';

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const hs256Kid = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64url').slice(0, 16);

/** header.payload signed with HMAC under any key bytes. */
function forgeHmac(header: Record<string, unknown>, payload: Record<string, unknown>, key: string | Buffer, hash = 'sha256'): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

/** header.payload signed with an EC key, JOSE (r‖s) or DER signature encoding. */
function forgeEc(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject,
  encoding: 'ieee-p1363' | 'der' = 'ieee-p1363',
  hash = 'sha256',
): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${cryptoSign(hash, Buffer.from(input), { key, dsaEncoding: encoding }).toString('base64url')}`;
}

interface Jwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: string;
  use: string;
  [other: string]: unknown;
}

let database: TestDatabase | undefined;
let server: TestServer;
let user: SignedUp;
let claims: Record<string, unknown>;
let header: Record<string, unknown>;
let jwk: Jwk;
const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });

beforeAll(async () => {
  database = process.env.DATABASE_URL ? await createTestDatabase() : undefined;
  server = await startTestServer({ env: database ? { DATABASE_URL: database.url } : {} });
  user = await signupUser(server);
  const decoded = jwt.decode(user.accessToken, { complete: true })!;
  claims = decoded.payload as Record<string, unknown>;
  header = decoded.header as unknown as Record<string, unknown>;
  const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Jwk[] };
  jwk = jwks.keys.find((key) => key.kid === header.kid)!;
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
});

const fresh = (overrides: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return { ...claims, jti: randomUUID(), iat: now, exp: now + 600, ...overrides };
};
/** Correctly signed with the server's own key: only the header or claims make it wrong. */
const realKey = (h: Record<string, unknown>, payload: Record<string, unknown>) =>
  forgeEc(h, payload, server.app.services.signingKeys!.signingKey()!.key);
const publicPem = () =>
  createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' }).export({
    format: 'pem',
    type: 'spki',
  }) as string;

async function meWith(token: string) {
  const response = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(ME) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    body: JSON.parse(text) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> },
  };
}

function expectCode(result: Awaited<ReturnType<typeof meWith>>, code: ErrorCode) {
  expect(result.status).toBeLessThan(500);
  expect(result.body.errors?.map((error) => error.extensions?.code)).toEqual([code]);
  expect(result.body.data ?? null).toBeNull();
  expect(result.text).not.toMatch(/jwt|signature|malformed|invalid token|algorithm|jsonwebtoken|stack|BEGIN|PRIVATE/i);
}

describe('the token Warden issues', () => {
  it('is ES256 with a kid, scope, aal and amr, and verifies with nothing but the published key', async () => {
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    expect(claims).toMatchObject({
      sub: user.user.id,
      sid: expect.any(String),
      role: 'USER',
      scope: 'user',
      aal: 'aal1',
      amr: ['pwd'],
      iss: 'warden',
      aud: 'warden',
    });
    // An independent check with Node's crypto: the signature is r‖s over header.payload.
    const [h, p, s] = user.accessToken.split('.');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    expect(cryptoVerify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))).toBe(true);
    expect(() => jwt.verify(user.accessToken, publicPem(), { algorithms: ['ES256'], issuer: 'warden', audience: 'warden' })).not.toThrow();
  });

  it('is served, and so is a re-forged copy signed with the real key (the forgeries below differ only in what they name)', async () => {
    expect((await meWith(user.accessToken)).body.errors).toBeUndefined();
    expect((await meWith(realKey(header, fresh()))).body.errors).toBeUndefined();
  });

  it('answers ACCESS_TOKEN_EXPIRED only when correctly signed', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    expectCode(await meWith(realKey(header, fresh({ iat: past, exp: past + 60 }))), ErrorCode.ACCESS_TOKEN_EXPIRED);
    expectCode(await meWith(forgeEc(header, fresh({ iat: past, exp: past + 60 }), attacker.privateKey)), ErrorCode.UNAUTHENTICATED);
  });
});

describe('ES256 tokens that must answer UNAUTHENTICATED', () => {
  const hs = (overrides: Record<string, unknown> = {}) => ({ ...header, alg: 'HS256', ...overrides });
  const cases: Array<[string, () => string]> = [
    // Algorithm confusion: HS256 under keys an attacker knows or guesses.
    ['HS256 keyed with JWT_SECRET, the real kid', () => forgeHmac(hs(), fresh(), TEST_JWT_SECRET)],
    ['HS256 keyed with JWT_SECRET, the HS256 kid', () => forgeHmac(hs({ kid: hs256Kid(TEST_JWT_SECRET) }), fresh(), TEST_JWT_SECRET)],
    ['HS256 keyed with the public key as PEM', () => forgeHmac(hs(), fresh(), publicPem())],
    ['HS256 keyed with the public key as PEM, no trailing newline', () => forgeHmac(hs(), fresh(), publicPem().trim())],
    ['HS256 keyed with the JWK JSON as published', () => forgeHmac(hs(), fresh(), JSON.stringify(jwk))],
    [
      'HS256 keyed with the bare JWK JSON',
      () => forgeHmac(hs(), fresh(), JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y })),
    ],
    [
      'HS256 keyed with the raw public point',
      () => forgeHmac(hs(), fresh(), createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' })),
    ],
    ['HS384 keyed with the public key as PEM', () => forgeHmac(hs({ alg: 'HS384' }), fresh(), publicPem(), 'sha384')],
    ['HS512 keyed with the JWK JSON', () => forgeHmac(hs({ alg: 'HS512' }), fresh(), JSON.stringify(jwk), 'sha512')],
    // No signature.
    ['alg "none"', () => `${b64url({ ...header, alg: 'none' })}.${b64url(fresh())}.`],
    ['alg "None"', () => `${b64url({ ...header, alg: 'None' })}.${b64url(fresh())}.`],
    [
      'alg "none" with the real signature',
      () => `${b64url({ ...header, alg: 'none' })}.${b64url(fresh())}.${user.accessToken.split('.')[2]}`,
    ],
    ['an empty signature', () => `${user.accessToken.split('.').slice(0, 2).join('.')}.`],
    // Keys that are not Warden's.
    ['a foreign P-256 key under the real kid', () => forgeEc(header, fresh(), attacker.privateKey)],
    [
      'a foreign key under its own thumbprint kid',
      () => {
        const foreign = attacker.publicKey.export({ format: 'jwk' }) as { crv: string; kty: string; x: string; y: string };
        const kid = createHash('sha256')
          .update(JSON.stringify({ crv: foreign.crv, kty: foreign.kty, x: foreign.x, y: foreign.y }))
          .digest('base64url');
        return forgeEc({ ...header, kid }, fresh(), attacker.privateKey);
      },
    ],
    [
      'a foreign key, no kid',
      () => {
        const { kid: _kid, ...rest } = header;
        return forgeEc(rest, fresh(), attacker.privateKey);
      },
    ],
    [
      'the real key, no kid',
      () => {
        const { kid: _kid, ...rest } = header;
        return realKey(rest, fresh());
      },
    ],
    [
      'an embedded jwk of the attacker, signed with it',
      () => forgeEc({ ...header, jwk: attacker.publicKey.export({ format: 'jwk' }) }, fresh(), attacker.privateKey),
    ],
    [
      'an embedded jwk, no kid, signed with it',
      () => {
        const { kid: _kid, ...rest } = header;
        return forgeEc({ ...rest, jwk: attacker.publicKey.export({ format: 'jwk' }) }, fresh(), attacker.privateKey);
      },
    ],
    // Headers that point elsewhere are refused even on a token the real key signed.
    [
      'an embedded jwk, signed with the real key',
      () => realKey({ ...header, jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } }, fresh()),
    ],
    ['a jku header, signed with the real key', () => realKey({ ...header, jku: 'https://evil.example/jwks.json' }, fresh())],
    ['an x5u header, signed with the real key', () => realKey({ ...header, x5u: 'https://evil.example/cert.pem' }, fresh())],
    ['an x5c header, signed with the real key', () => realKey({ ...header, x5c: ['MIIB'] }, fresh())],
    ['a crit header, signed with the real key', () => realKey({ ...header, crit: ['exp'] }, fresh())],
    // Other EC and RSA algorithm names.
    ['ES384 claimed', () => forgeEc({ ...header, alg: 'ES384' }, fresh(), attacker.privateKey, 'ieee-p1363', 'sha384')],
    ['ES512 claimed', () => forgeEc({ ...header, alg: 'ES512' }, fresh(), attacker.privateKey, 'ieee-p1363', 'sha512')],
    ['RS256 claimed', () => forgeHmac({ ...header, alg: 'RS256' }, fresh(), publicPem())],
    ['PS256 claimed', () => forgeHmac({ ...header, alg: 'PS256' }, fresh(), publicPem())],
    ['EdDSA claimed', () => forgeHmac({ ...header, alg: 'EdDSA' }, fresh(), publicPem())],
    // Signature tampering.
    [
      'a tampered payload with the old signature',
      () => {
        const [h, , s] = user.accessToken.split('.');
        return `${h}.${b64url({ ...claims, role: 'ADMIN' })}.${s}`;
      },
    ],
    ['a DER-encoded signature from a foreign key', () => forgeEc(header, fresh(), attacker.privateKey, 'der')],
    ['a truncated signature', () => user.accessToken.slice(0, -10)],
    // Claims, signed with the real key.
    [
      'missing exp',
      () => {
        const { exp: _exp, ...rest } = fresh();
        return realKey(header, rest);
      },
    ],
    [
      'missing iat',
      () => {
        const { iat: _iat, ...rest } = fresh();
        return realKey(header, rest);
      },
    ],
    [
      'iat far in the future',
      () => realKey(header, fresh({ iat: Math.floor(Date.now() / 1000) + 3600, exp: Math.floor(Date.now() / 1000) + 7200 })),
    ],
    ['nbf in the future', () => realKey(header, fresh({ nbf: Math.floor(Date.now() / 1000) + 3600 }))],
    ['wrong iss', () => realKey(header, fresh({ iss: 'evil' }))],
    ['wrong aud', () => realKey(header, fresh({ aud: 'someone-else' }))],
    ['wrong typ', () => realKey({ ...header, typ: 'JWT' }, fresh())],
    [
      'no typ',
      () => {
        const { typ: _typ, ...rest } = header;
        return realKey(rest, fresh());
      },
    ],
    ['a role that does not exist', () => realKey(header, fresh({ role: 'ROOT' }))],
    ['no scope', () => realKey(header, fresh({ scope: undefined }))],
    ['an aal that does not exist', () => realKey(header, fresh({ aal: 'aal9' }))],
    ['amr that is not a list', () => realKey(header, fresh({ amr: 'pwd' }))],
    ['a sub that is not a UUID', () => realKey(header, fresh({ sub: "1' OR '1'='1" }))],
    ['a sid that is not a session', () => realKey(header, fresh({ sid: randomUUID() }))],
    // kid games.
    ['kid "__proto__"', () => forgeEc({ ...header, kid: '__proto__' }, fresh(), attacker.privateKey)],
    ['kid "constructor" with HS256', () => forgeHmac(hs({ kid: 'constructor' }), fresh(), '')],
    ['kid as an object', () => forgeEc({ ...header, kid: { $ne: null } }, fresh(), attacker.privateKey)],
    ['kid SQL injection', () => forgeEc({ ...header, kid: "' OR 1=1 --" }, fresh(), attacker.privateKey)],
  ];

  it.each(cases)('%s', async (_what, token) => {
    expectCode(await meWith(token()), ErrorCode.UNAUTHENTICATED);
  });
});

describe('/.well-known', () => {
  it('serves the public keys only, cacheable for JWKS_MAX_AGE, with an ETag that revalidates', async () => {
    const response = await fetch(`${server.url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe(`public, max-age=${Math.floor(server.config.jwksMaxAgeMs / 1000)}`);
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const text = await response.text();
    const body = JSON.parse(text) as { keys: Jwk[] };
    expect(body.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of body.keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    }
    expect(text).not.toMatch(/"d"|PRIVATE/);
    const again = await fetch(`${server.url}/.well-known/jwks.json`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
  });

  it("serves a discovery document whose issuer is the tokens' iss and whose jwks_uri serves the JWKS", async () => {
    const response = await fetch(`${server.url}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { issuer: string; jwks_uri: string };
    expect(body.issuer).toBe(claims.iss);
    expect(body.jwks_uri).toBe(`${server.url}/.well-known/jwks.json`);
    expect((await fetch(body.jwks_uri)).status).toBe(200);
  });

  it('reports the signing key in /readyz', async () => {
    const response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { checks: Record<string, string> }).checks.signingKey).toBe('ok');
  });
});
