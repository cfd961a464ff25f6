/**
 * Access tokens are signed by Warden's own few lines (src/lib/jwt.ts), not jsonwebtoken's sign():
 * the HS256 token is byte for byte what jsonwebtoken makes of the same claims, and the ES256 token
 * verifies with jsonwebtoken and with Warden's own verify.
 */
import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AccessTokens } from '../../src/lib/jwt';

const SUBJECT = {
  userId: '6f1c2a4e-8b1d-4c1e-9a7e-1f2b3c4d5e6f',
  sessionId: '7f1c2a4e-8b1d-4c1e-9a7e-1f2b3c4d5e6f',
  role: 'ADMIN' as const,
  aal: 'aal2' as const,
  amr: ['pwd', 'otp'],
};
const SECRET = 'a-test-secret-that-is-at-least-32-bytes';
const part = (token: string, index: number) => JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'));

it('HS256: the same bytes as jsonwebtoken signing the same claims', () => {
  const tokens = new AccessTokens({ secret: SECRET, issuer: 'warden', audience: 'warden-api', ttlMs: 900_000, clockSkewMs: 0 });
  const { token } = tokens.sign(SUBJECT, 1_700_000_000_000);
  const { aud, iss, ...claims } = part(token, 1);
  expect({ aud, iss }).toEqual({ aud: 'warden-api', iss: 'warden' });
  const reference = jwt.sign(claims, createSecretKey(Buffer.from(SECRET, 'utf8')), {
    issuer: iss,
    audience: aud,
    algorithm: 'HS256',
    header: part(token, 0),
  });
  expect(token).toBe(reference);
  expect(tokens.verify(token, 1_700_000_000_000)).toMatchObject({
    ok: true,
    claims: { sub: SUBJECT.userId, sid: SUBJECT.sessionId, aal: 'aal2', scope: 'user admin' },
  });
});

it('ES256: a raw r‖s signature that jsonwebtoken and Warden verify, and a tampered one neither does', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = {
    signingKey: () => ({ kid: 'k1', key: privateKey }),
    verificationKey: () => ({ algorithm: 'ES256' as const, key: publicKey }),
    onChange() {},
  };
  const tokens = new AccessTokens({
    secret: SECRET,
    issuer: 'warden',
    audience: 'warden-api',
    ttlMs: 900_000,
    clockSkewMs: 0,
    keys,
    verifiedCacheSize: 0,
  });
  const { token } = tokens.sign(SUBJECT);
  expect(part(token, 0)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' });
  expect(Buffer.from(token.split('.')[2], 'base64url')).toHaveLength(64);
  expect(jwt.verify(token, publicKey, { algorithms: ['ES256'], issuer: 'warden', audience: 'warden-api' })).toMatchObject({
    sub: SUBJECT.userId,
    amr: ['pwd', 'otp'],
  });
  expect(tokens.verify(token).ok).toBe(true);
  const [header, payload] = token.split('.');
  const forged = `${header}.${Buffer.from(JSON.stringify({ ...part(token, 1), role: 'ADMIN', sub: SUBJECT.sessionId })).toString('base64url')}.${token.split('.')[2]}`;
  expect(tokens.verify(forged)).toEqual({ ok: false, reason: 'invalid' });
  expect(payload).not.toBe(forged.split('.')[1]);
});
