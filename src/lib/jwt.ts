/**
 * Access tokens (API.md §4): HS256 JWTs with `typ: at+jwt` and a `kid` naming the key.
 * Keys are KeyObjects: with a string secret jsonwebtoken first tries createPublicKey(), which
 * throws, and verification is about 50× slower on Node 20 (auth0/node-jsonwebtoken#1046).
 */
import { createHash, createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { isUuid } from './tokens';

import type { Role } from '../generated/prisma/enums';
export type { Role };

export interface AccessClaims {
  sub: string;
  sid: string;
  role: Role;
  jti: string;
  iat: number;
  exp: number;
}

export type VerifyResult =
  | { ok: true; claims: AccessClaims }
  | { ok: false; reason: 'invalid' | 'expired' };

export interface AccessTokenOptions {
  secret: string;
  previousSecret?: string;
  issuer: string;
  audience: string;
  ttlMs: number;
  clockSkewMs: number;
}

const TYP = 'at+jwt';

function keyId(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url').slice(0, 16);
}

export class AccessTokens {
  private readonly signingKey: KeyObject;
  private readonly signingKid: string;
  private readonly keys = new Map<string, KeyObject>();
  private readonly skewSeconds: number;

  constructor(private readonly options: AccessTokenOptions) {
    this.signingKey = createSecretKey(Buffer.from(options.secret, 'utf8'));
    this.signingKid = keyId(options.secret);
    this.keys.set(this.signingKid, this.signingKey);
    if (options.previousSecret) {
      this.keys.set(keyId(options.previousSecret), createSecretKey(Buffer.from(options.previousSecret, 'utf8')));
    }
    this.skewSeconds = Math.floor(options.clockSkewMs / 1000);
  }

  /** Signs a token for a session; returns it with its expiry. */
  sign(subject: { userId: string; sessionId: string; role: Role }, nowMs = Date.now()): { token: string; expiresAt: Date } {
    const iat = Math.floor(nowMs / 1000);
    const exp = iat + Math.max(1, Math.floor(this.options.ttlMs / 1000));
    const payload = { sub: subject.userId, sid: subject.sessionId, role: subject.role, jti: randomUUID(), iat, exp };
    const token = jwt.sign(payload, this.signingKey, {
      algorithm: 'HS256',
      header: { alg: 'HS256', typ: TYP, kid: this.signingKid },
      issuer: this.options.issuer,
      audience: this.options.audience,
    });
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Verifies a token: algorithm pinned to HS256, `exp` required, `iss`, `aud`, `typ` checked,
   * `iat` not in the future beyond the skew. Only a correctly signed token can be "expired".
   */
  verify(token: string, nowMs = Date.now()): VerifyResult {
    if (token.length > 8192) return { ok: false, reason: 'invalid' };
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') return { ok: false, reason: 'invalid' };
    const header = decoded.header as unknown as Record<string, unknown>;
    if (header.alg !== 'HS256' || header.typ !== TYP) return { ok: false, reason: 'invalid' };
    if ('jwk' in header || 'jku' in header || 'x5u' in header || 'x5c' in header || 'crit' in header) {
      return { ok: false, reason: 'invalid' };
    }
    const key = typeof header.kid === 'string' ? this.keys.get(header.kid) : undefined;
    if (!key) return { ok: false, reason: 'invalid' };
    const nowSeconds = Math.floor(nowMs / 1000);
    let payload: jwt.JwtPayload;
    try {
      payload = jwt.verify(token, key, {
        algorithms: ['HS256'],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.skewSeconds,
        clockTimestamp: nowSeconds,
      }) as jwt.JwtPayload;
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) return { ok: false, reason: 'expired' };
      return { ok: false, reason: 'invalid' };
    }
    const { sub, sid, role, jti, iat, exp } = payload as Partial<AccessClaims>;
    if (typeof exp !== 'number' || typeof iat !== 'number' || iat > nowSeconds + this.skewSeconds) {
      return { ok: false, reason: 'invalid' };
    }
    // sub and sid name UUID columns: anything else would reach the database as a type error (a 500).
    if (typeof sub !== 'string' || typeof sid !== 'string' || !isUuid(sub) || !isUuid(sid)) return { ok: false, reason: 'invalid' };
    if (typeof jti !== 'string' || (role !== 'USER' && role !== 'ADMIN')) return { ok: false, reason: 'invalid' };
    return { ok: true, claims: { sub, sid, role, jti, iat, exp } };
  }
}
