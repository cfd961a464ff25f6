/**
 * `@warden/client/verify`: checks a Warden access token (ES256) in a service behind a gateway,
 * with nothing but Warden's public keys, by the rules Warden itself applies:
 *
 *   const verifier = createVerifier({ issuerUrl: 'https://auth.example.com', audience: 'warden' });
 *   const result = await verifier.verify(request.headers.authorization);
 *   if (!result.ok) throw … result.error.code  // 'ACCESS_TOKEN_EXPIRED' | 'UNAUTHENTICATED'
 *   result.claims.sub, result.claims.scopes …
 *
 * The keys come from the JWKS through jose's remote key set, which caches them and refetches on
 * an unknown `kid` (at most once per cooldown), so a key rotation needs nothing from the caller.
 * Verification pins ES256, requires `typ: at+jwt`, a `kid`, `exp` and `iat`, checks `iss` and
 * `aud`, and refuses tokens that carry their own key (`jwk`, `jku`, `x5u`, `x5c`).
 *
 * A verifier sees a revoked session or a changed role only when the token expires; keep
 * ACCESS_TOKEN_TTL short when services verify on their own.
 */
import type { JWTPayload, JWTVerifyGetKey } from 'jose' with { 'resolution-mode': 'import' };

export type VerifyErrorCode = 'ACCESS_TOKEN_EXPIRED' | 'UNAUTHENTICATED';

/** Why a token was refused. `cause` holds the underlying error, for logs (never show it to the caller's client). */
export class WardenTokenError extends Error {
  override name = 'WardenTokenError';
  constructor(
    readonly code: VerifyErrorCode,
    options?: { cause?: unknown },
  ) {
    super(code === 'ACCESS_TOKEN_EXPIRED' ? 'The access token has expired.' : 'The access token is not valid.', options);
  }
}

export interface WardenClaims {
  /** The user id. */
  sub: string;
  /** The session id. */
  sid: string;
  role: 'USER' | 'ADMIN';
  /** Space-separated, as in the token: `user`, plus `admin` for an ADMIN. */
  scope: string;
  /** `scope` split into its values. */
  scopes: string[];
  aal: 'aal1' | 'aal2';
  amr: string[];
  jti: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string | string[];
}

export type VerifyResult = { ok: true; claims: WardenClaims } | { ok: false; error: WardenTokenError };

export interface VerifierOptions {
  /** Warden's JWKS, e.g. `https://auth.example.com/.well-known/jwks.json`. */
  jwksUrl?: string | URL;
  /** Warden's base URL: its `/.well-known/openid-configuration` names the JWKS and the issuer. */
  issuerUrl?: string | URL;
  /** The `aud` tokens must carry (Warden's JWT_AUDIENCE). */
  audience: string;
  /** The `iss` tokens must carry (Warden's JWT_ISSUER): by default the discovery document's `issuer`, or `warden` with `jwksUrl`. */
  issuer?: string;
  /** Tolerance on `exp`, `nbf` and `iat`, in seconds (default 5, as Warden's CLOCK_SKEW). */
  clockToleranceSeconds?: number;
  /** Passed to jose's createRemoteJWKSet: how long fetched keys are trusted, and the least time between two fetches. */
  cacheMaxAgeMs?: number;
  cooldownMs?: number;
}

export interface Verifier {
  /** A token, or an `Authorization` header value (`Bearer …`). */
  verify(tokenOrHeader: string | undefined | null): Promise<VerifyResult>;
}

type Jose = typeof import('jose', { with: { 'resolution-mode': 'import' } });
let joseModule: Promise<Jose> | undefined;
// jose is ESM-only: loaded on first use, so this CommonJS package can still require() it.
const loadJose = (): Promise<Jose> => (joseModule ??= import('jose'));

const FORBIDDEN_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'];
const BEARER = /^Bearer[ ]+([^ ]+)[ ]*$/i;

function refuse(code: VerifyErrorCode = 'UNAUTHENTICATED', cause?: unknown): VerifyResult {
  return { ok: false, error: new WardenTokenError(code, cause === undefined ? undefined : { cause }) };
}

function claimsOf(payload: JWTPayload, nowSeconds: number, toleranceSeconds: number): WardenClaims | null {
  const { sub, sid, role, scope, aal, amr, jti, iat, exp, iss, aud } = payload as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string') return null;
  if (role !== 'USER' && role !== 'ADMIN') return null;
  if (typeof scope !== 'string' || (aal !== 'aal1' && aal !== 'aal2')) return null;
  if (!Array.isArray(amr) || !amr.every((value) => typeof value === 'string')) return null;
  if (typeof iat !== 'number' || typeof exp !== 'number' || iat > nowSeconds + toleranceSeconds) return null;
  if (typeof iss !== 'string' || (typeof aud !== 'string' && !Array.isArray(aud))) return null;
  return {
    sub,
    sid,
    role,
    scope,
    scopes: scope.split(' ').filter(Boolean),
    aal,
    amr: amr,
    jti,
    iat,
    exp,
    iss,
    aud: aud as string | string[],
  };
}

export function createVerifier(options: VerifierOptions): Verifier {
  if (!options.jwksUrl === !options.issuerUrl) throw new TypeError('createVerifier needs exactly one of jwksUrl and issuerUrl');
  if (!options.audience) throw new TypeError("createVerifier needs the audience (Warden's JWT_AUDIENCE)");
  const tolerance = options.clockToleranceSeconds ?? 5;

  let setup: Promise<{ keys: JWTVerifyGetKey; issuer: string }> | undefined;
  const prepare = () =>
    (setup ??= (async () => {
      const jose = await loadJose();
      let jwksUrl = options.jwksUrl ? new URL(options.jwksUrl) : undefined;
      let issuer = options.issuer;
      if (!jwksUrl) {
        const base = String(options.issuerUrl).replace(/\/+$/, '');
        const response = await fetch(`${base}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
        if (!response.ok) throw new Error(`openid-configuration answered ${response.status}`);
        const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
        if (typeof document.jwks_uri !== 'string' || typeof document.issuer !== 'string')
          throw new Error('openid-configuration lacks issuer or jwks_uri');
        jwksUrl = new URL(document.jwks_uri);
        issuer ??= document.issuer;
      }
      const keys = jose.createRemoteJWKSet(jwksUrl, {
        ...(options.cacheMaxAgeMs !== undefined ? { cacheMaxAge: options.cacheMaxAgeMs } : {}),
        ...(options.cooldownMs !== undefined ? { cooldownDuration: options.cooldownMs } : {}),
      });
      return { keys, issuer: issuer ?? 'warden' };
    })().catch((error: unknown) => {
      setup = undefined; // a failed discovery is tried again on the next call
      throw error;
    }));

  return {
    async verify(tokenOrHeader) {
      if (!tokenOrHeader) return refuse();
      const token = BEARER.exec(tokenOrHeader)?.[1] ?? (tokenOrHeader.includes(' ') ? null : tokenOrHeader);
      if (!token || token.length > 8192) return refuse();
      let prepared: { keys: JWTVerifyGetKey; issuer: string };
      let jose: Jose;
      try {
        [prepared, jose] = await Promise.all([prepare(), loadJose()]);
      } catch (error) {
        return refuse('UNAUTHENTICATED', error);
      }
      let header: Record<string, unknown>;
      try {
        header = jose.decodeProtectedHeader(token);
      } catch (error) {
        return refuse('UNAUTHENTICATED', error);
      }
      if (header.alg !== 'ES256' || typeof header.kid !== 'string' || FORBIDDEN_HEADERS.some((name) => name in header)) return refuse();
      try {
        const { payload } = await jose.jwtVerify(token, prepared.keys, {
          algorithms: ['ES256'],
          typ: 'at+jwt',
          issuer: prepared.issuer,
          audience: options.audience,
          clockTolerance: tolerance,
          requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        });
        const claims = claimsOf(payload, Math.floor(Date.now() / 1000), tolerance);
        return claims ? { ok: true, claims } : refuse();
      } catch (error) {
        // jose checks the signature before the claims: "expired" is only said of a genuine token.
        if (error instanceof jose.errors.JWTExpired) return refuse('ACCESS_TOKEN_EXPIRED', error);
        return refuse('UNAUTHENTICATED', error);
      }
    },
  };
}
