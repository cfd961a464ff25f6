/**
 * `@warden/client/verify` against a running Warden: typed claims for a real token (found through
 * the discovery document or the JWKS URL), ACCESS_TOKEN_EXPIRED only for a genuine expired one,
 * UNAUTHENTICATED for forgeries (foreign key, HS256 keyed with the public key, alg none, embedded
 * key, wrong audience), and no gap across a key rotation: tokens of the old and the new key both
 * verify, with jose refetching the JWKS for the new kid by itself.
 *
 * In the PostgreSQL pass it uses a database of its own (its rotation must not touch other files' keys).
 */
import { createHmac, createPublicKey, generateKeyPairSync, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { createVerifier, WardenTokenError } from '@warden/client/verify';
import { SigningKeys } from '../../src/modules/keys/signing-keys';
import { createLogger } from '../../src/infra/logger';
import { systemClock } from '../../src/lib/clock';
import { createTestDatabase, type TestDatabase } from '../support/db-template';
import { LOGIN, signupUser, sleep, startTestServer, type SignedUp, type TestServer } from '../kit';

const FAST = { JWKS_MAX_AGE: '1s', JWT_KEY_ROTATION: '1h', ACCESS_TOKEN_TTL: '60s', CLOCK_SKEW: '0' };
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const kidOf = (token: string) => (jwt.decode(token, { complete: true })!.header as { kid: string }).kid;

function signEc(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

let database: TestDatabase | undefined;
let server: TestServer;
let user: SignedUp;

beforeAll(async () => {
  database = process.env.DATABASE_URL ? await createTestDatabase() : undefined;
  server = await startTestServer({ env: { ...FAST, ...(database ? { DATABASE_URL: database.url } : {}) } });
  user = await signupUser(server);
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
});

const claims = () => jwt.decode(user.accessToken) as Record<string, unknown>;
const header = () => jwt.decode(user.accessToken, { complete: true })!.header as unknown as Record<string, unknown>;
const currentKey = () => server.app.services.signingKeys!.signingKey()!.key;

describe('createVerifier', () => {
  it('returns typed claims for a Warden token, found by issuerUrl or by jwksUrl, from a token or a Bearer header', async () => {
    const byIssuer = createVerifier({ issuerUrl: server.url, audience: 'warden' });
    const result = await byIssuer.verify(`Bearer ${user.accessToken}`);
    expect(result).toEqual({
      ok: true,
      claims: expect.objectContaining({
        sub: user.user.id,
        role: 'USER',
        scope: 'user',
        scopes: ['user'],
        aal: 'aal1',
        amr: ['pwd'],
        iss: 'warden',
        aud: 'warden',
      }),
    });
    const byJwks = createVerifier({ jwksUrl: `${server.url}/.well-known/jwks.json`, audience: 'warden' });
    expect((await byJwks.verify(user.accessToken)).ok).toBe(true);
  });

  it('says ACCESS_TOKEN_EXPIRED only of a genuine expired token', async () => {
    const verifier = createVerifier({ issuerUrl: server.url, audience: 'warden', clockToleranceSeconds: 0 });
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = signEc(header(), { ...claims(), iat: past, exp: past + 60 }, currentKey());
    const result = await verifier.verify(expired);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(WardenTokenError);
      expect(result.error.code).toBe('ACCESS_TOKEN_EXPIRED');
    }
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forgedExpired = signEc(header(), { ...claims(), iat: past, exp: past + 60 }, attacker.privateKey);
    expect(await verifier.verify(forgedExpired)).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
  });

  it('refuses forgeries and wrong audiences with UNAUTHENTICATED', async () => {
    const verifier = createVerifier({ issuerUrl: server.url, audience: 'warden' });
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = ((await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, string>> }).keys.find(
      (key) => key.kid === header().kid,
    )!;
    const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }) as string;
    const now = Math.floor(Date.now() / 1000);
    const body = { ...claims(), jti: randomUUID(), iat: now, exp: now + 60 };
    const hmac = (key: string) => {
      const input = `${b64url({ ...header(), alg: 'HS256' })}.${b64url(body)}`;
      return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
    };
    const forgeries = [
      signEc(header(), body, attacker.privateKey),
      hmac(pem),
      hmac(JSON.stringify(jwk)),
      `${b64url({ ...header(), alg: 'none' })}.${b64url(body)}.`,
      signEc({ ...header(), jwk: attacker.publicKey.export({ format: 'jwk' }) }, body, attacker.privateKey),
      signEc({ ...header(), jku: 'https://evil.example/jwks.json' }, body, currentKey()),
      signEc({ ...header(), typ: 'JWT' }, body, currentKey()),
      signEc(header(), { ...body, iss: 'evil' }, currentKey()),
      'not a token',
      '',
    ];
    for (const token of forgeries) expect(await verifier.verify(token)).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    const otherAudience = createVerifier({ issuerUrl: server.url, audience: 'billing' });
    expect(await otherAudience.verify(user.accessToken)).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    expect(() => createVerifier({ audience: 'warden' })).toThrow(TypeError);
  });

  it('keeps verifying across a key rotation: old-key and new-key tokens both pass, with no restart', async () => {
    // Keys trusted no longer than Warden's JWKS_MAX_AGE (1s here), as they must be.
    const verifier = createVerifier({ issuerUrl: server.url, audience: 'warden', cacheMaxAgeMs: 1_000, cooldownMs: 100 });
    const before = (await server.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.data!.login
      .accessToken as string;
    expect((await verifier.verify(before)).ok).toBe(true);
    const oldKid = kidOf(before);
    // What `npm run keys:rotate` does.
    const keys = await SigningKeys.open(
      {
        prisma: server.app.infra.database.prisma,
        clock: systemClock,
        logger: createLogger({ level: 'silent' }),
        secret: server.config.jwtSecret,
        rotationMs: server.config.jwtKeyRotationMs,
        jwksMaxAgeMs: server.config.jwksMaxAgeMs,
        accessTokenTtlMs: server.config.accessTokenTtlMs,
        clockSkewMs: server.config.clockSkewMs,
      },
      { maintain: false },
    );
    const next = await keys.rotate();
    await keys.close();
    let newToken: string | undefined;
    const deadline = Date.now() + 6_000;
    while (Date.now() < deadline) {
      const login = await server.gql(LOGIN, { input: { email: user.email, password: user.password } });
      const token = login.body.data!.login.accessToken as string;
      // Every token, of either key, verifies throughout.
      expect(await verifier.verify(token)).toMatchObject({ ok: true });
      if (kidOf(token) === next.kid) {
        newToken = token;
        break;
      }
      await sleep(100);
    }
    expect(newToken).toBeDefined();
    expect(kidOf(newToken!)).not.toBe(oldKid);
    expect(await verifier.verify(before)).toMatchObject({ ok: true });
  });
});
