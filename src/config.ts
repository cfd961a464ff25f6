/**
 * The only reader of process.env. Every variable of docs/api.md §2 is parsed and validated here once;
 * a bad value stops the start with a message naming the variable.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from './lib/duration';

export type RefreshTokenTransport = 'body' | 'cookie' | 'both';

/**
 * Where the shared store lives, as node-redis connects to it: one server (`createClient`), a
 * Redis Cluster (`createCluster`, from some of its nodes) or a Sentinel-watched master
 * (`createSentinel`, from some of its sentinels).
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; urls: readonly string[] }
  | { kind: 'sentinel'; urls: readonly string[]; masterName: string };

/**
 * Where uploaded avatars live (STORAGE_URL): files under DATA_DIR/uploads that Warden serves
 * itself, or a bucket of any S3-compatible store.
 */
export type StorageTarget =
  | { kind: 'file'; dir: string }
  | {
      kind: 's3';
      bucket: string;
      /** Unset: AWS S3 itself. */
      endpoint: string | undefined;
      region: string;
      forcePathStyle: boolean;
      /** From the URL's user info; unset: the AWS SDK's default chain (environment, profile, instance role). */
      credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
    };
/** One OpenID Connect provider, from OAUTH_<ID>_* (docs/api.md §3). */
export interface OAuthProviderConfig {
  /** The id clients pass as `provider`: OAUTH_PROVIDERS' entry, lower-cased. */
  id: string;
  name: string;
  /** OAUTH_<ID>_ISSUER: the https issuer whose /.well-known/openid-configuration is read. */
  issuer: string;
  clientId: string;
  /** Unset: a public client (PKCE only, no client authentication). */
  clientSecret: string | undefined;
  scopes: string;
}

export interface Config {
  nodeEnv: string;
  isProduction: boolean;
  isDevelopment: boolean;
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  /** REDIS_URL (one server); see `redis` for every kind. */
  redisUrl: string | undefined;
  /** The shared store: REDIS_URL, REDIS_CLUSTER_URLS or REDIS_SENTINEL_URLS; unset → in-process. */
  redis: RedisTarget | undefined;
  jwtSecret: string;
  jwtSecretPrevious: string | undefined;
  /** JWT_ALGORITHM: ES256 (keys kept by Warden, published as a JWKS) or HS256 (JWT_SECRET). */
  jwtAlgorithm: 'ES256' | 'HS256';
  /** JWT_KEY_ROTATION: how long an ES256 key signs before the next one takes over. */
  jwtKeyRotationMs: number;
  /** JWKS_MAX_AGE: how long clients may cache the JWKS; a new key is published at least this long before it signs. */
  jwksMaxAgeMs: number;
  jwtIssuer: string;
  jwtAudience: string;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  sessionMaxAgeMs: number;
  refreshReuseGraceMs: number;
  /** AUDIT_REFRESH: write an audit row for every plain rotation too (off: rotations are only counted in /metrics). */
  auditRefresh: boolean;
  clockSkewMs: number;
  loginMaxFailures: number;
  loginFailureWindowMs: number;
  lockoutDurationMs: number;
  bcryptCost: number;
  /** How many bcrypt jobs may run at once: one less than libuv's thread pool, so others get a thread. */
  bcryptConcurrency: number;
  ipRateLimit: number;
  adminEmails: readonly string[];
  refreshTokenTransport: RefreshTokenTransport;
  cookieSecure: boolean;
  corsOrigins: readonly string[];
  trustProxy: boolean;
  smtpUrl: string | undefined;
  mailFrom: string;
  maxBodyBytes: number;
  /** MAX_LIST_ITEMS: most list items one operation may resolve; past it the operation is aborted. */
  maxListItems: number;
  shutdownTimeoutMs: number;
  cleanupIntervalMs: number;
  /** SESSION_CACHE_TTL: how long a live session may be answered from memory; 0 = never; at most MAX_SESSION_CACHE_TTL_MS. */
  sessionCacheTtlMs: number;
  logLevel: string;
  /** STORAGE_URL: where avatars are stored. */
  storage: StorageTarget;
  /** STORAGE_PUBLIC_URL, without a trailing slash: a stored object's public URL is `${storagePublicUrl}/${key}`. */
  storagePublicUrl: string;
  /** Whether STORAGE_PUBLIC_URL was given (else the default above was derived). */
  storagePublicUrlSet: boolean;
  avatarMaxBytes: number;
  /** AVATAR_UPLOADS_PER_HOUR: startAvatarUpload calls per user per hour. */
  avatarUploadsPerHour: number;
  /** OAUTH_PROVIDERS with their OAUTH_<ID>_* settings, in the listed order. */
  oauthProviders: readonly OAuthProviderConfig[];
  /** OAUTH_REDIRECT_URIS: the only redirect URIs start… accepts, compared exactly. */
  oauthRedirectUris: readonly string[];
  /** MFA_REQUIRED_FOR_ADMIN: every `@auth(requires: ADMIN)` field needs AAL2 (off by default). */
  mfaRequiredForAdmin: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (use 900, 900s, 15m, 12h or 14d)` });
        return z.NEVER;
      }
      return ms;
    });

const integer = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((text, ctx) => {
      const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `"${text}" must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return value;
    });

const boolean = (fallback: boolean | undefined) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === '') return fallback;
      const lowered = text.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lowered)) return true;
      if (['0', 'false', 'no', 'off'].includes(lowered)) return false;
      ctx.addIssue({ code: 'custom', message: `"${text}" must be true or false` });
      return z.NEVER;
    });

const list = z
  .string()
  .default('')
  .transform((text) =>
    text
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not a URL' });
        return z.NEVER;
      }
      if (!protocols.includes(url.protocol)) {
        ctx.addIssue({ code: 'custom', message: `must start with ${protocols.map((p) => p + '//').join(' or ')}` });
        return z.NEVER;
      }
      return text.trim();
    });

/** A comma-separated list of redis:// or rediss:// URLs. */
const urlList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const urls = (text ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    for (const item of urls) {
      let url: URL;
      try {
        url = new URL(item);
      } catch {
        ctx.addIssue({ code: 'custom', message: `"${item}" is not a URL` });
        return z.NEVER;
      }
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
        ctx.addIssue({ code: 'custom', message: 'each URL must start with redis:// or rediss://' });
        return z.NEVER;
      }
    }
    return urls;
  });

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: integer(4000, 0, 65535),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: optionalUrl(['postgresql:', 'postgres:']),
  DATA_DIR: z.string().min(1).default('.data'),
  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  REDIS_CLUSTER_URLS: urlList,
  REDIS_SENTINEL_URLS: urlList,
  REDIS_SENTINEL_MASTER: z.string().trim().optional(),
  JWT_SECRET: z.string().optional(),
  JWT_SECRET_PREVIOUS: z.string().optional(),
  JWT_ALGORITHM: z.enum(['ES256', 'HS256']).default('ES256'),
  JWT_KEY_ROTATION: duration('30d'),
  JWKS_MAX_AGE: duration('10m'),
  JWT_ISSUER: z.string().min(1).default('warden'),
  JWT_AUDIENCE: z.string().min(1).default('warden'),
  ACCESS_TOKEN_TTL: duration('15m'),
  REFRESH_TOKEN_TTL: duration('14d'),
  SESSION_MAX_AGE: duration('30d'),
  REFRESH_REUSE_GRACE: duration('10s'),
  AUDIT_REFRESH: boolean(false),
  CLOCK_SKEW: duration('5s'),
  LOGIN_MAX_FAILURES: integer(5, 1, 1000),
  LOGIN_FAILURE_WINDOW: duration('5m'),
  LOCKOUT_DURATION: duration('10m'),
  BCRYPT_COST: integer(12, 4, 15),
  // Read by libuv itself when the process starts; Warden only sizes its bcrypt queue by it.
  UV_THREADPOOL_SIZE: integer(4, 1, 1024),
  IP_RATE_LIMIT: integer(30, 0, 1_000_000),
  ADMIN_EMAILS: list,
  REFRESH_TOKEN_TRANSPORT: z.enum(['body', 'cookie', 'both']).default('both'),
  COOKIE_SECURE: boolean(undefined),
  CORS_ORIGINS: list,
  TRUST_PROXY: boolean(false),
  SMTP_URL: optionalUrl(['smtp:', 'smtps:']),
  MAIL_FROM: z.string().min(3).default('Warden <no-reply@warden.local>'),
  MAX_BODY_BYTES: integer(1_048_576, 1024, 100 * 1_048_576),
  MAX_LIST_ITEMS: integer(5_000, 1, 1_000_000),
  SHUTDOWN_TIMEOUT: duration('10s'),
  CLEANUP_INTERVAL: duration('1h'),
  SESSION_CACHE_TTL: duration('10s'),
  STORAGE_URL: z.string().trim().optional(),
  STORAGE_PUBLIC_URL: optionalUrl(['http:', 'https:']),
  AVATAR_MAX_BYTES: integer(5_242_880, 1024, 100 * 1_048_576),
  AVATAR_UPLOADS_PER_HOUR: integer(5, 1, 10_000),
  OAUTH_PROVIDERS: list,
  OAUTH_REDIRECT_URIS: list,
  MFA_REQUIRED_FOR_ADMIN: boolean(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every variable Warden reads; docs/configuration.md lists each one (a test checks both ways). */
export const ENVIRONMENT_VARIABLES: readonly string[] = Object.freeze(Object.keys(schema.shape));

/** The longest SESSION_CACHE_TTL accepted (docs/session-cache.md). */
export const MAX_SESSION_CACHE_TTL_MS = 60_000;

/**
 * Reads and validates the configuration.
 * @throws ConfigError naming every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === 'production';
  const problems: string[] = [];
  if (e.CLOCK_SKEW > 60_000) problems.push('CLOCK_SKEW: must be 60s or less');
  if (e.JWKS_MAX_AGE < 1_000) problems.push('JWKS_MAX_AGE: must be at least 1s');
  // Each key is published JWKS_MAX_AGE before it signs, so it must sign for longer than that.
  if (e.JWT_KEY_ROTATION < 2 * e.JWKS_MAX_AGE) problems.push('JWT_KEY_ROTATION: must be at least twice JWKS_MAX_AGE');
  if (e.SESSION_CACHE_TTL > MAX_SESSION_CACHE_TTL_MS) {
    problems.push('SESSION_CACHE_TTL: must be 60s or less (0 turns the session cache off); it bounds how long a revocation that could not be broadcast can go unseen');
  }
  if (e.ACCESS_TOKEN_TTL < 1_000) problems.push('ACCESS_TOKEN_TTL: must be at least 1s');
  if (e.REFRESH_TOKEN_TTL < 1_000) problems.push('REFRESH_TOKEN_TTL: must be at least 1s');
  if (e.SESSION_MAX_AGE < e.REFRESH_TOKEN_TTL && e.SESSION_MAX_AGE < 1_000) problems.push('SESSION_MAX_AGE: must be at least 1s');
  if (e.JWT_SECRET !== undefined && Buffer.byteLength(e.JWT_SECRET, 'utf8') < 32) {
    problems.push('JWT_SECRET: must be at least 32 bytes');
  }
  if (e.JWT_SECRET_PREVIOUS !== undefined && e.JWT_SECRET_PREVIOUS !== '' && Buffer.byteLength(e.JWT_SECRET_PREVIOUS, 'utf8') < 32) {
    problems.push('JWT_SECRET_PREVIOUS: must be at least 32 bytes');
  }
  const redisKinds = [e.REDIS_URL ? 'REDIS_URL' : '', e.REDIS_CLUSTER_URLS.length ? 'REDIS_CLUSTER_URLS' : '', e.REDIS_SENTINEL_URLS.length ? 'REDIS_SENTINEL_URLS' : ''].filter(Boolean);
  if (redisKinds.length > 1) problems.push(`${redisKinds.join(', ')}: set only one of them`);
  if (e.REDIS_SENTINEL_URLS.length > 0 && !e.REDIS_SENTINEL_MASTER) problems.push('REDIS_SENTINEL_MASTER: required with REDIS_SENTINEL_URLS (the master group name)');
  if (isProduction) {
    if (!e.JWT_SECRET) problems.push('JWT_SECRET: required in production (at least 32 bytes)');
    if (redisKinds.length === 0) {
      problems.push('REDIS_URL: required in production, or REDIS_CLUSTER_URLS or REDIS_SENTINEL_URLS (the in-process store is for development only)');
    }
    if (e.BCRYPT_COST < 10) problems.push('BCRYPT_COST: must be at least 10 in production');
  }
  const dataDir = path.resolve(e.DATA_DIR);
  const storage = storageTarget(e.STORAGE_URL, dataDir, problems);
  let publicUrl = e.STORAGE_PUBLIC_URL;
  if (publicUrl !== undefined) {
    const parsedPublic = new URL(publicUrl);
    if (parsedPublic.search || parsedPublic.hash || parsedPublic.username || parsedPublic.password) {
      problems.push('STORAGE_PUBLIC_URL: must be a plain http(s) URL, without query, fragment or credentials');
    }
    publicUrl = publicUrl.replace(/\/+$/, '');
  }
  const oauthProviders = oauthProvidersFrom(e.OAUTH_PROVIDERS, env, problems);
  for (const uri of e.OAUTH_REDIRECT_URIS) {
    if (!URL.canParse(uri) || !/^https?:$/.test(new URL(uri).protocol)) problems.push(`OAUTH_REDIRECT_URIS: "${uri}" is not an http(s) URL`);
  }
  if (oauthProviders.length > 0 && e.OAUTH_REDIRECT_URIS.length === 0) problems.push('OAUTH_REDIRECT_URIS: required with OAUTH_PROVIDERS (the exact redirect URIs allowed)');
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }

  return Object.freeze({
    nodeEnv: e.NODE_ENV,
    isProduction,
    isDevelopment: e.NODE_ENV === 'development',
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir,
    redisUrl: e.REDIS_URL,
    redis: redisTarget(e.REDIS_URL, e.REDIS_CLUSTER_URLS, e.REDIS_SENTINEL_URLS, e.REDIS_SENTINEL_MASTER),
    jwtSecret: e.JWT_SECRET ?? devSecret(dataDir),
    jwtSecretPrevious: e.JWT_SECRET_PREVIOUS || undefined,
    jwtAlgorithm: e.JWT_ALGORITHM,
    jwtKeyRotationMs: e.JWT_KEY_ROTATION,
    jwksMaxAgeMs: e.JWKS_MAX_AGE,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    accessTokenTtlMs: e.ACCESS_TOKEN_TTL,
    refreshTokenTtlMs: e.REFRESH_TOKEN_TTL,
    sessionMaxAgeMs: e.SESSION_MAX_AGE,
    refreshReuseGraceMs: e.REFRESH_REUSE_GRACE,
    auditRefresh: e.AUDIT_REFRESH ?? false,
    clockSkewMs: e.CLOCK_SKEW,
    loginMaxFailures: e.LOGIN_MAX_FAILURES,
    loginFailureWindowMs: e.LOGIN_FAILURE_WINDOW,
    lockoutDurationMs: e.LOCKOUT_DURATION,
    bcryptCost: e.BCRYPT_COST,
    bcryptConcurrency: Math.max(1, e.UV_THREADPOOL_SIZE - 1),
    ipRateLimit: e.IP_RATE_LIMIT,
    adminEmails: Object.freeze(e.ADMIN_EMAILS.map((email) => email.normalize('NFKC').toLowerCase())),
    refreshTokenTransport: e.REFRESH_TOKEN_TRANSPORT,
    cookieSecure: e.COOKIE_SECURE ?? isProduction,
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    trustProxy: e.TRUST_PROXY ?? false,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxListItems: e.MAX_LIST_ITEMS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    cleanupIntervalMs: e.CLEANUP_INTERVAL,
    sessionCacheTtlMs: e.SESSION_CACHE_TTL,
    logLevel: e.LOG_LEVEL,
    storage: storage!,
    storagePublicUrl: publicUrl ?? defaultPublicUrl(storage!, e.PORT),
    storagePublicUrlSet: publicUrl !== undefined,
    avatarMaxBytes: e.AVATAR_MAX_BYTES,
    avatarUploadsPerHour: e.AVATAR_UPLOADS_PER_HOUR,
    oauthProviders: Object.freeze(oauthProviders),
    oauthRedirectUris: Object.freeze(e.OAUTH_REDIRECT_URIS),
    mfaRequiredForAdmin: e.MFA_REQUIRED_FOR_ADMIN ?? false,
  });
}

const S3_PARAMS = new Set(['endpoint', 'region', 'pathStyle']);

/**
 * STORAGE_URL: unset → files under DATA_DIR/uploads; `s3://[key:secret@]bucket?endpoint=…&region=…&pathStyle=…`
 * → that bucket. Problems are appended to `problems`; the result is then undefined.
 */
function storageTarget(text: string | undefined, dataDir: string, problems: string[]): StorageTarget | undefined {
  if (text === undefined || text === '') return { kind: 'file', dir: path.join(dataDir, 'uploads') };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push('STORAGE_URL: is not a URL (use s3://bucket?endpoint=…&region=…, or leave it unset for files under DATA_DIR)');
    return undefined;
  }
  if (url.protocol !== 's3:') {
    problems.push('STORAGE_URL: must start with s3:// (or be unset for files under DATA_DIR)');
    return undefined;
  }
  const bucket = url.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) problems.push('STORAGE_URL: the bucket name must be 3 to 63 characters of a-z, 0-9, "." and "-"');
  if (url.pathname !== '' && url.pathname !== '/') problems.push('STORAGE_URL: must name only a bucket (s3://bucket?…), no path');
  for (const name of url.searchParams.keys()) {
    if (!S3_PARAMS.has(name)) problems.push(`STORAGE_URL: unknown parameter "${name}" (known: ${[...S3_PARAMS].join(', ')})`);
  }
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(endpoint);
    } catch {
      // reported below
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) problems.push('STORAGE_URL: endpoint must be an http(s) URL');
  }
  const pathStyleText = url.searchParams.get('pathStyle');
  let forcePathStyle = endpoint !== undefined;
  if (pathStyleText !== null) {
    if (pathStyleText !== 'true' && pathStyleText !== 'false') problems.push('STORAGE_URL: pathStyle must be true or false');
    forcePathStyle = pathStyleText === 'true';
  }
  const region = url.searchParams.get('region') || 'us-east-1';
  if (!/^[a-z0-9-]{1,32}$/.test(region)) problems.push('STORAGE_URL: region must look like us-east-1');
  if (Boolean(url.username) !== Boolean(url.password)) problems.push('STORAGE_URL: give both the access key id and the secret (s3://id:secret@bucket), or neither');
  const credentials = url.username
    ? { accessKeyId: decodeURIComponent(url.username), secretAccessKey: decodeURIComponent(url.password) }
    : undefined;
  return { kind: 's3', bucket, endpoint: endpoint?.replace(/\/+$/, ''), region, forcePathStyle, credentials };
}

/** Without STORAGE_PUBLIC_URL: Warden's own default address for files, the bucket's own URL for S3. */
function defaultPublicUrl(storage: StorageTarget, port: number): string {
  if (storage.kind === 'file') return `http://localhost:${port}`;
  if (storage.endpoint) return storage.forcePathStyle ? `${storage.endpoint}/${storage.bucket}` : storage.endpoint.replace('://', `://${storage.bucket}.`);
  return `https://${storage.bucket}.s3.${storage.region}.amazonaws.com`;
}

/**
 * The providers OAUTH_PROVIDERS lists, each from its OAUTH_<ID>_* variables (`<ID>` upper-cased,
 * `-` as `_`). Problems are added to `problems`, one per bad variable.
 */
function oauthProvidersFrom(ids: string[], env: NodeJS.ProcessEnv, problems: string[]): OAuthProviderConfig[] {
  const providers: OAuthProviderConfig[] = [];
  const seen = new Set<string>();
  for (const raw of ids) {
    const id = raw.toLowerCase();
    if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(id)) {
      problems.push(`OAUTH_PROVIDERS: "${raw}" must be letters, digits, - or _ (at most 32)`);
      continue;
    }
    if (seen.has(id)) {
      problems.push(`OAUTH_PROVIDERS: "${raw}" is listed twice`);
      continue;
    }
    seen.add(id);
    const prefix = `OAUTH_${id.toUpperCase().replace(/-/g, '_')}_`;
    const read = (name: string) => env[prefix + name]?.trim() || undefined;
    const issuer = read('ISSUER');
    const clientId = read('CLIENT_ID');
    if (!issuer) problems.push(`${prefix}ISSUER: required for provider "${id}"`);
    else if (!URL.canParse(issuer) || new URL(issuer).protocol !== 'https:') problems.push(`${prefix}ISSUER: must be an https:// URL`);
    if (!clientId) problems.push(`${prefix}CLIENT_ID: required for provider "${id}"`);
    const scopes = read('SCOPES') ?? 'openid email profile';
    if (!scopes.split(/\s+/).includes('openid')) problems.push(`${prefix}SCOPES: must include openid`);
    if (!issuer || !clientId) continue;
    providers.push({ id, name: read('NAME') ?? id, issuer, clientId, clientSecret: read('CLIENT_SECRET'), scopes });
  }
  return providers;
}

function redisTarget(url: string | undefined, clusterUrls: string[], sentinelUrls: string[], masterName: string | undefined): RedisTarget | undefined {
  if (url) return { kind: 'single', url };
  if (clusterUrls.length > 0) return { kind: 'cluster', urls: Object.freeze(clusterUrls) };
  if (sentinelUrls.length > 0 && masterName) return { kind: 'sentinel', urls: Object.freeze(sentinelUrls), masterName };
  return undefined;
}

/** Outside production a missing JWT_SECRET is generated once and kept in DATA_DIR. */
function devSecret(dataDir: string): string {
  const file = path.join(dataDir, 'jwt-secret');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(existing, 'utf8') >= 32) return existing;
  } catch {
    // first start: create it below
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
