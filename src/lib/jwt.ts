/**
 * Access tokens (docs/api.md §4): JWTs with `typ: at+jwt` and a `kid` naming the key.
 *
 * - ES256 (the default): signed with the current key of SigningKeys, checked against the keys
 *   it publishes. Only ES256 is accepted, except HS256 tokens from before a switch from HS256,
 *   for as long as SigningKeys keeps that switch's key (until they have expired).
 * - HS256: the key is JWT_SECRET; JWT_SECRET_PREVIOUS still verifies.
 *
 * Keys are KeyObjects: with a string secret jsonwebtoken first tries createPublicKey(), which
 * throws, and verification is about 50× slower on Node 20 (auth0/node-jsonwebtoken#1046).
 */
import { createHash, createHmac, createSecretKey, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from './clock';
import { isUuid } from './tokens';

import type { Role } from '../generated/prisma/enums';
export type { Role };

export type Assurance = 'aal1' | 'aal2';

export interface AccessClaims {
  sub: string;
  sid: string;
  role: Role;
  /** Space-separated: `user`, plus `admin` for an ADMIN (docs/tokens.md). */
  scope: string;
  aal: Assurance;
  amr: string[];
  jti: string;
  iat: number;
  exp: number;
}

export type VerifyResult = { ok: true; claims: AccessClaims } | { ok: false; reason: 'invalid' | 'expired' };

/** Where ES256 keys come from (SigningKeys); HS256 needs none. */
export interface KeyRing {
  signingKey(): { kid: string; key: KeyObject } | null;
  verificationKey(kid: string): { algorithm: 'ES256' | 'HS256'; key: KeyObject } | null;
  onChange(listener: () => void): void;
}

export interface AccessTokenOptions {
  secret: string;
  previousSecret?: string;
  issuer: string;
  audience: string;
  ttlMs: number;
  clockSkewMs: number;
  /** ES256 with these keys; unset → HS256 with `secret`. */
  keys?: KeyRing;
  /** How many verified ES256 tokens are remembered (0: none). */
  verifiedCacheSize?: number;
  /** What `iat`, `exp` and verification are measured against; unset: real time. */
  clock?: Clock;
}

export interface SignSubject {
  userId: string;
  sessionId: string;
  role: Role;
  /** The session's level and methods (Session.aal/amr); unset: a password sign-in at AAL1. */
  aal?: Assurance;
  amr?: string[];
}

/** No ES256 key can sign (none made yet, or none this instance can open): /readyz says so. */
export class NoSigningKeyError extends Error {
  override name = 'NoSigningKeyError';
  constructor() {
    super('no signing key is available');
  }
}

const TYP = 'at+jwt';
const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'crit', 'b64'];

/** What a gateway can require with a scope check: every user has `user`, an ADMIN also `admin`. */
export function scopeFor(role: Role): string {
  return role === 'ADMIN' ? 'user admin' : 'user';
}

const base64urlJson = (value: object): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

function keyId(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url').slice(0, 16);
}

interface CachedToken {
  claims: AccessClaims;
  expMs: number;
}

export class AccessTokens {
  private readonly signingKey: KeyObject;
  private readonly signingKid: string;
  private readonly keys = new Map<string, KeyObject>();
  private readonly skewSeconds: number;
  /** Verified ES256 tokens → their claims, never served past `exp`, emptied when the keys change. */
  private readonly verified: LRUCache<string, CachedToken> | null;
  private readonly clock: Clock;
  readonly algorithm: 'ES256' | 'HS256';

  constructor(private readonly options: AccessTokenOptions) {
    this.algorithm = options.keys ? 'ES256' : 'HS256';
    this.clock = options.clock ?? systemClock;
    this.signingKey = createSecretKey(Buffer.from(options.secret, 'utf8'));
    this.signingKid = keyId(options.secret);
    this.keys.set(this.signingKid, this.signingKey);
    if (options.previousSecret) {
      this.keys.set(keyId(options.previousSecret), createSecretKey(Buffer.from(options.previousSecret, 'utf8')));
    }
    this.skewSeconds = Math.floor(options.clockSkewMs / 1000);
    const cacheSize = options.verifiedCacheSize ?? 10_000;
    this.verified = options.keys && cacheSize > 0 ? new LRUCache<string, CachedToken>({ max: cacheSize }) : null;
    // A revoked or retired key: nothing it signed is answered from memory any more.
    options.keys?.onChange(() => this.verified?.clear());
  }

  /** Signs a token for a session; returns it with its expiry. */
  sign(subject: SignSubject, nowMs = this.clock.now()): { token: string; expiresAt: Date } {
    const iat = Math.floor(nowMs / 1000);
    const exp = iat + Math.max(1, Math.floor(this.options.ttlMs / 1000));
    const payload = {
      sub: subject.userId,
      sid: subject.sessionId,
      role: subject.role,
      scope: scopeFor(subject.role),
      aal: subject.aal ?? 'aal1',
      amr: subject.amr ?? ['pwd'],
      jti: randomUUID(),
      iat,
      exp,
    };
    // The claims Warden itself just built need none of jsonwebtoken's checks of a caller's
    // payload, which cost a rotation more than the signature: the JWS is made here, byte for byte
    // as jsonwebtoken makes it (header alg, typ, kid; aud and iss after the other claims).
    const claims = { ...payload, aud: this.options.audience, iss: this.options.issuer };
    if (!this.options.keys) {
      const input = `${base64urlJson({ alg: 'HS256', typ: TYP, kid: this.signingKid })}.${base64urlJson(claims)}`;
      return {
        token: `${input}.${createHmac('sha256', this.signingKey).update(input).digest('base64url')}`,
        expiresAt: new Date(exp * 1000),
      };
    }
    const signing = this.options.keys.signingKey();
    if (!signing) throw new NoSigningKeyError();
    const input = `${base64urlJson({ alg: 'ES256', typ: TYP, kid: signing.kid })}.${base64urlJson(claims)}`;
    // JWS wants the raw r ‖ s form of the signature (RFC 7518 §3.4), not DER.
    const signature = cryptoSign('sha256', Buffer.from(input, 'utf8'), { key: signing.key, dsaEncoding: 'ieee-p1363' });
    return { token: `${input}.${signature.toString('base64url')}`, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Verifies a token: algorithm pinned (ES256, or HS256 in HS256 mode), `kid` naming a key the
   * algorithm belongs to, `exp` required, `iss`, `aud`, `typ` checked, `iat` not in the future
   * beyond the skew. Only a correctly signed token can be "expired".
   */
  verify(token: string, nowMs = this.clock.now()): VerifyResult {
    if (token.length > 8192) return { ok: false, reason: 'invalid' };
    if (this.verified) {
      const hit = this.verified.get(token);
      if (hit) {
        if (nowMs < hit.expMs) return { ok: true, claims: hit.claims };
        this.verified.delete(token);
      }
    }
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') return { ok: false, reason: 'invalid' };
    const header = decoded.header as unknown as Record<string, unknown>;
    if (header.typ !== TYP || FORBIDDEN_HEADERS.some((name) => name in header)) return { ok: false, reason: 'invalid' };
    if (typeof header.kid !== 'string') return { ok: false, reason: 'invalid' };
    let key: KeyObject | undefined;
    let algorithm: 'ES256' | 'HS256';
    if (this.options.keys) {
      // The kid picks the key and the key fixes the algorithm: an HS256 header naming an ES256
      // key (its public key used as an HMAC secret) is refused before any signature is checked.
      const found = this.options.keys.verificationKey(header.kid);
      if (!found || header.alg !== found.algorithm) return { ok: false, reason: 'invalid' };
      key = found.key;
      algorithm = found.algorithm;
    } else {
      if (header.alg !== 'HS256') return { ok: false, reason: 'invalid' };
      key = this.keys.get(header.kid);
      algorithm = 'HS256';
    }
    if (!key) return { ok: false, reason: 'invalid' };
    const nowSeconds = Math.floor(nowMs / 1000);
    let payload: jwt.JwtPayload;
    try {
      payload = jwt.verify(token, key, {
        algorithms: [algorithm],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.skewSeconds,
        clockTimestamp: nowSeconds,
      }) as jwt.JwtPayload;
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) return { ok: false, reason: 'expired' };
      return { ok: false, reason: 'invalid' };
    }
    const claims = this.claimsOf(payload, nowSeconds, algorithm === 'ES256');
    if (!claims) return { ok: false, reason: 'invalid' };
    if (this.verified && algorithm === 'ES256') this.verified.set(token, { claims, expMs: claims.exp * 1000 });
    return { ok: true, claims };
  }

  /**
   * The claims Warden relies on, or null. ES256 tokens must carry scope, aal and amr; HS256 tokens
   * from before they existed get the values they would have had.
   */
  private claimsOf(payload: jwt.JwtPayload, nowSeconds: number, strict: boolean): AccessClaims | null {
    const { sub, sid, role, jti, iat, exp, scope, aal, amr } = payload as Partial<AccessClaims>;
    if (typeof exp !== 'number' || typeof iat !== 'number' || iat > nowSeconds + this.skewSeconds) return null;
    // sub and sid name UUID columns: anything else would reach the database as a type error (a 500).
    if (typeof sub !== 'string' || typeof sid !== 'string' || !isUuid(sub) || !isUuid(sid)) return null;
    if (typeof jti !== 'string' || (role !== 'USER' && role !== 'ADMIN')) return null;
    const hasExtras =
      typeof scope === 'string' &&
      (aal === 'aal1' || aal === 'aal2') &&
      Array.isArray(amr) &&
      amr.every((value) => typeof value === 'string');
    if (!hasExtras && strict) return null;
    return hasExtras
      ? { sub, sid, role, scope: scope, aal: aal, amr: amr, jti, iat, exp }
      : { sub, sid, role, scope: scopeFor(role), aal: 'aal1', amr: ['pwd'], jti, iat, exp };
  }
}
