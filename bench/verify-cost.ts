/**
 * Per-token verification cost, in-process: HS256, ES256 with and without the verified-token
 * cache, and a bare P-256 signature check as the floor. `npm run compile && node dist/bench/verify-cost.js`.
 * CPU is shared on most machines: read the ratios, measured in the same run.
 */
import { createHash, generateKeyPairSync, randomUUID, verify } from 'node:crypto';
import { AccessTokens, type KeyRing } from '../src/lib/jwt';

const N = Number(process.env.VERIFY_ITERATIONS ?? 5000);
const base = {
  secret: 'bench-secret-that-is-at-least-32-bytes-long',
  issuer: 'warden',
  audience: 'warden',
  ttlMs: 900_000,
  clockSkewMs: 5_000,
};
const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const kid = createHash('sha256')
  .update(JSON.stringify(pair.publicKey.export({ format: 'jwk' })))
  .digest('base64url');
const ring: KeyRing = {
  signingKey: () => ({ kid, key: pair.privateKey }),
  verificationKey: (k) => (k === kid ? { algorithm: 'ES256', key: pair.publicKey } : null),
  onChange: () => undefined,
};
const subject = { userId: randomUUID(), sessionId: randomUUID(), role: 'USER' as const };

function time(label: string, run: () => void): number {
  for (let i = 0; i < 200; i++) run();
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) run();
  const us = Number(process.hrtime.bigint() - started) / 1000 / N;
  console.log(`${label.padEnd(40)} ${us.toFixed(1)} µs`);
  return us;
}

const hs = new AccessTokens(base);
const hsToken = hs.sign(subject).token;
const esUncached = new AccessTokens({ ...base, keys: ring, verifiedCacheSize: 0 });
const esCached = new AccessTokens({ ...base, keys: ring });
const esToken = esUncached.sign(subject).token;
const [h, p, s] = esToken.split('.');
const input = Buffer.from(`${h}.${p}`);
const signature = Buffer.from(s, 'base64url');

const results = {
  hs256: time('HS256 verify (jsonwebtoken)', () => hs.verify(hsToken)),
  es256: time('ES256 verify, no cache (jsonwebtoken)', () => esUncached.verify(esToken)),
  es256Cached: time('ES256 verify, cached', () => esCached.verify(esToken)),
  bare: time('bare P-256 signature check (node:crypto)', () =>
    verify('sha256', input, { key: pair.publicKey, dsaEncoding: 'ieee-p1363' }, signature),
  ),
};
if (!hs.verify(hsToken).ok || !esUncached.verify(esToken).ok || !esCached.verify(esToken).ok) throw new Error('a token did not verify');
console.log(JSON.stringify(results));
