/**
 * The only reader of process.env. Every variable of docs/api.md §2 is declared once in SETTINGS
 * below: its parser, its default and its description (`.describe()`). The `Config` type is derived
 * from that schema, and docs/configuration.md's reference table is generated from it
 * (`npm run docs:config`; a test fails when the page is stale). A bad value stops the start with a
 * message naming the variable.
 *
 * Adding a variable is one entry in SETTINGS: `NAME: setting('configKey', schema.describe('…'))`.
 * Its value then appears as `config.configKey`, and the reference page lists it after
 * `npm run docs:config`. Use `setting(null, …)` for a variable that only feeds a derived setting
 * (computed in `configSchema`'s transform).
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

/** The WebAuthn relying party (docs/passkeys.md). */
export interface WebAuthnConfig {
  /** WEBAUTHN_RP_ID: the registrable domain passkeys are bound to (`example.com`), or `localhost`. */
  rpId: string;
  /** WEBAUTHN_RP_NAME: the name authenticators show. */
  rpName: string;
  /** WEBAUTHN_ORIGINS: the exact origins (`https://app.example.com`) a ceremony may come from, each on rpId or a subdomain of it. */
  origins: readonly string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The longest SESSION_CACHE_TTL accepted (docs/session-cache.md). */
export const MAX_SESSION_CACHE_TTL_MS = 60_000;

// ---- value parsers -------------------------------------------------------------------------

/** An empty or blank value counts as unset, so `FOO=` in an env file means "the default". */
const blankIsUnset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

/** `900`, `900s`, `15m`, `12h`, `14d` → milliseconds (src/lib/duration.ts). */
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

/** Digits only (no sign, exponent or hex), then a whole number in [min, max]. */
const integer = (fallback: number, min: number, max: number) => {
  const error = (issue: { input?: unknown }) => `"${String(issue.input)}" must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .default(String(fallback))
    .pipe(z.string().trim().regex(/^\d+$/, { error }))
    .pipe(z.coerce.number<string>().int({ error, abort: true }).min(min, { error }).max(max, { error }));
};

/** true/false, 1/0, yes/no, on/off in any case; blank → the default (or undefined without one). */
const BOOLEAN_WORDS = { truthy: ['1', 'true', 'yes', 'on'], falsy: ['0', 'false', 'no', 'off'] };
const stringbool = () => z.stringbool({ ...BOOLEAN_WORDS, error: (issue) => `"${String(issue.input)}" must be true or false` });
const flag = (fallback: boolean) =>
  z.preprocess((value) => (typeof value === 'string' ? blankIsUnset(value.trim()) : value), stringbool().default(fallback));
const optionalFlag = () =>
  z.preprocess((value) => (typeof value === 'string' ? blankIsUnset(value.trim()) : value), stringbool().optional());

/** A comma-separated list; blanks dropped. */
const list = () =>
  z
    .string()
    .default('')
    .transform((text) =>
      text
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    );

/** The URL's scheme without the colon, as z.url's `protocol` option reads it. */
const protocolPattern = (protocols: readonly string[]) => new RegExp(`^(?:${protocols.join('|')})$`);
const mustStartWith = (protocols: readonly string[]) => `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`;

/** One URL with one of the given schemes, trimmed; blank → unset. */
const optionalUrl = (protocols: readonly string[]) =>
  z.preprocess(
    blankIsUnset,
    z
      .url({
        protocol: protocolPattern(protocols),
        error: (issue) =>
          issue.code === 'invalid_format' && 'note' in issue && issue.note === 'Invalid protocol'
            ? mustStartWith(protocols)
            : 'is not a URL',
      })
      .trim()
      .optional(),
  );

/** A comma-separated list of redis:// or rediss:// URLs. */
const redisUrlList = () =>
  list().pipe(
    z.array(
      z.url({
        protocol: protocolPattern(['redis', 'rediss']),
        error: (issue) =>
          issue.code === 'invalid_format' && 'note' in issue && issue.note === 'Invalid protocol'
            ? `each URL ${mustStartWith(['redis', 'rediss'])}`
            : `"${String(issue.input)}" is not a URL`,
      }),
    ),
  );

// ---- the variables ---------------------------------------------------------------------------

/** How the reference page shows a variable's default, where the schema's own default does not say it. */
interface SettingDoc {
  /** Replaces the default column (markdown). */
  default?: string;
}

/** One environment variable: the Config key its value lands in (null: read only by a derived setting), its schema, and how the page shows it. */
function setting<const K extends string | null, S extends z.ZodType>(
  key: K,
  schema: S,
  doc: SettingDoc = {},
): { key: K; schema: S; doc: SettingDoc } {
  return { key, schema, doc };
}

/**
 * Every variable Warden reads, in the order of the reference page. Meanings are markdown and end
 * up in docs/configuration.md as they are written here.
 */
const SETTINGS = {
  NODE_ENV: setting(
    'nodeEnv',
    z
      .string()
      .default('development')
      .describe(
        '`production` turns on the [production checks](operations.md#required-settings); `development` alone shows error details to clients',
      ),
  ),
  PORT: setting('port', integer(4000, 0, 65535).describe('the port to listen on')),
  HOST: setting('host', z.string().min(1).default('0.0.0.0').describe('the address to listen on')),
  DATABASE_URL: setting('databaseUrl', optionalUrl(['postgresql', 'postgres']).describe('`postgresql://…`'), {
    default: 'unset → embedded PGlite',
  }),
  DATA_DIR: setting(
    'dataDir',
    z
      .string()
      .min(1)
      .default('.data')
      .transform((dir) => path.resolve(dir))
      .describe('embedded database, development JWT secret, development mail outbox'),
  ),
  REDIS_URL: setting('redisUrl', optionalUrl(['redis', 'rediss']).describe('`redis://…` or `rediss://…`'), {
    default: 'unset → in-process store',
  }),
  REDIS_CLUSTER_URLS: setting(
    null,
    redisUrlList().describe(
      'instead of `REDIS_URL`: a Redis Cluster, as comma-separated `redis://` / `rediss://` URLs of some of its nodes (see [operations](operations.md#scaling-out-to-n-instances))',
    ),
  ),
  REDIS_SENTINEL_URLS: setting(
    null,
    redisUrlList().describe('instead of `REDIS_URL`: the master a Sentinel group watches, as comma-separated sentinel URLs'),
  ),
  REDIS_SENTINEL_MASTER: setting(null, z.string().trim().optional().describe('the master group name, required with `REDIS_SENTINEL_URLS`')),
  JWT_SECRET: setting(
    null,
    z
      .string()
      .optional()
      .describe(
        'the master secret: the HS256 key (the UTF-8 bytes of the value) with `JWT_ALGORITHM=HS256`, and the root of every derived key (the one that encrypts the stored ES256 private keys, the one-time-code key)',
      ),
    { default: 'development: generated once into `DATA_DIR/jwt-secret`; production: required, ≥ 32 bytes' },
  ),
  JWT_SECRET_PREVIOUS: setting(
    'jwtSecretPrevious',
    z
      .string()
      .optional()
      .transform((text) => text || undefined)
      .describe(
        'the master secret before the last rotation, still accepted for HS256 verification and every derived key ([tokens](tokens.md))',
      ),
  ),
  JWT_ALGORITHM: setting(
    'jwtAlgorithm',
    z
      .enum(['ES256', 'HS256'])
      .default('ES256')
      .describe(
        '`ES256`: P-256 keys Warden makes, keeps in the database and publishes at `/.well-known/jwks.json`; `HS256`: the key is `JWT_SECRET`',
      ),
  ),
  JWT_KEY_ROTATION: setting(
    'jwtKeyRotationMs',
    duration('30d').describe('how long an ES256 key signs before the next one takes over; at least twice `JWKS_MAX_AGE`'),
  ),
  JWKS_MAX_AGE: setting(
    'jwksMaxAgeMs',
    duration('10m').describe('`Cache-Control: max-age` of the JWKS; a new key is published at least this long before it signs'),
  ),
  JWT_ISSUER: setting('jwtIssuer', z.string().min(1).default('warden').describe('the `iss` of every access token, checked on each one')),
  JWT_AUDIENCE: setting(
    'jwtAudience',
    z.string().min(1).default('warden').describe('the `aud` of every access token, checked on each one'),
  ),
  ACCESS_TOKEN_TTL: setting('accessTokenTtlMs', duration('15m').describe('access-token lifetime')),
  REFRESH_TOKEN_TTL: setting('refreshTokenTtlMs', duration('14d').describe('refresh-token idle lifetime; each rotation renews it')),
  SESSION_MAX_AGE: setting('sessionMaxAgeMs', duration('30d').describe('absolute session lifetime; rotation never extends past it')),
  REFRESH_REUSE_GRACE: setting(
    'refreshReuseGraceMs',
    duration('10s').describe('window in which the immediately previous refresh token replays its successor; `0` disables'),
  ),
  AUDIT_REFRESH: setting(
    'auditRefresh',
    flag(false).describe(
      'also write an audit row for every plain refresh-token rotation (they are always counted in `warden_refresh_total`; [refresh tokens](refresh-tokens.md))',
    ),
  ),
  CLOCK_SKEW: setting('clockSkewMs', duration('5s').describe('tolerance on `exp` / `nbf` / `iat`; over `60s` refuses to start')),
  LOGIN_MAX_FAILURES: setting(
    'loginMaxFailures',
    integer(5, 1, 1000).describe('account lockout: failed logins within `LOGIN_FAILURE_WINDOW` that lock the account'),
  ),
  LOGIN_FAILURE_WINDOW: setting(
    'loginFailureWindowMs',
    duration('5m').describe('account lockout: the window in which failures are counted'),
  ),
  LOCKOUT_DURATION: setting('lockoutDurationMs', duration('10m').describe('account lockout: how long a lock lasts')),
  BCRYPT_COST: setting('bcryptCost', integer(12, 4, 15).describe('password hashing cost (4–15; production refuses < 10)')),
  // Read by libuv itself when the process starts; Warden only sizes its bcrypt queue by it.
  UV_THREADPOOL_SIZE: setting(
    'bcryptConcurrency',
    integer(4, 1, 1024)
      .transform((threads) => Math.max(1, threads - 1))
      .describe("libuv's thread pool, read by Node itself; bcrypt runs on at most all but one of its threads"),
  ),
  IP_RATE_LIMIT: setting(
    'ipRateLimit',
    integer(30, 0, 1_000_000).describe(
      'requests per client IP per minute to `login`, `signup`, `requestPasswordReset`, `requestEmailVerification`, `startOAuthLogin`, `finishOAuthLogin`, and the four passkey `start…`/`finish…` mutations; `0` disables',
    ),
  ),
  ADMIN_EMAILS: setting(
    'adminEmails',
    list()
      .transform((emails) => Object.freeze(emails.map((email) => email.normalize('NFKC').toLowerCase())))
      .describe('comma-separated addresses that get the ADMIN role once they are verified ([admin](admin.md))'),
  ),
  REFRESH_TOKEN_TRANSPORT: setting(
    'refreshTokenTransport',
    z.enum(['body', 'cookie', 'both']).default('both').describe('`body`, `cookie` or `both`'),
  ),
  COOKIE_SECURE: setting(null, optionalFlag().describe('Secure flag on the `refresh_token` cookie'), {
    default: '`true` in production, else `false`',
  }),
  CORS_ORIGINS: setting(
    'corsOrigins',
    list()
      .transform((origins) => Object.freeze(origins))
      .describe('comma-separated allowlist; other origins get no CORS headers'),
  ),
  TRUST_PROXY: setting(
    'trustProxy',
    flag(false).describe(
      'only then is `X-Forwarded-For` read for the client IP, and only its last entry (the one the nearest proxy appended)',
    ),
  ),
  SMTP_URL: setting(
    'smtpUrl',
    optionalUrl(['smtp', 'smtps']).describe(
      'real SMTP when set (`smtp://` or `smtps://`, nodemailer options in the query string; see [mail](mail.md))',
    ),
    { default: 'unset → JSON files in `DATA_DIR/outbox/`' },
  ),
  MAIL_FROM: setting('mailFrom', z.string().min(3).default('Warden <no-reply@warden.local>').describe('the sender of every mail')),
  STORAGE_URL: setting(
    null,
    z
      .string()
      .trim()
      .optional()
      .describe('where uploaded avatars go: `s3://bucket?endpoint=…&region=…` for any S3-compatible store ([avatars](avatars.md))'),
    { default: 'unset → files under `DATA_DIR/uploads`' },
  ),
  STORAGE_PUBLIC_URL: setting(null, optionalUrl(['http', 'https']).describe('the base of public avatar URLs'), {
    default: "files: Warden's own URL; S3: the bucket's",
  }),
  AVATAR_MAX_BYTES: setting(
    'avatarMaxBytes',
    integer(5_242_880, 1024, 100 * 1_048_576).describe("the largest avatar upload (also the body limit of Warden's own upload route)"),
  ),
  AVATAR_UPLOADS_PER_HOUR: setting(
    'avatarUploadsPerHour',
    integer(5, 1, 10_000).describe('`startAvatarUpload` calls per user per hour, counted across instances'),
  ),
  MFA_REQUIRED_FOR_ADMIN: setting(
    'mfaRequiredForAdmin',
    flag(false).describe(
      'every `@auth(requires: ADMIN)` field needs an AAL2 session ([MFA](mfa.md)); off by default so an upgrade locks out no admin without a factor',
    ),
  ),
  OAUTH_PROVIDERS: setting(
    null,
    list().describe(
      'comma-separated OpenID Connect provider ids, each set by OAUTH_&lt;ID&gt;_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _NAME, _SCOPES ([OAuth](oauth.md))',
    ),
  ),
  OAUTH_REDIRECT_URIS: setting(
    'oauthRedirectUris',
    list()
      .transform((uris) => Object.freeze(uris))
      .describe('comma-separated: the exact redirect URIs `startOAuthLogin` accepts; required with `OAUTH_PROVIDERS`'),
  ),
  WEBAUTHN_RP_ID: setting(
    null,
    z
      .string()
      .trim()
      .default('localhost')
      .describe(
        'the passkey relying party ID: the domain passkeys are bound to (`example.com`; no scheme, port or IP address); checked at start ([passkeys](passkeys.md))',
      ),
  ),
  WEBAUTHN_RP_NAME: setting(
    null,
    z.string().trim().default('Warden').describe("the relying party's name authenticators show (1–64 characters)"),
  ),
  WEBAUTHN_ORIGINS: setting(
    null,
    list().describe(
      'comma-separated exact origins of the web apps that run passkey ceremonies, each `https://` (`http://` only on localhost) on `WEBAUTHN_RP_ID` or a subdomain of it; anything else stops the start',
    ),
    { default: '`http://localhost:4000`' },
  ),
  MAX_BODY_BYTES: setting('maxBodyBytes', integer(1_048_576, 1024, 100 * 1_048_576).describe('larger request bodies get 413')),
  MAX_LIST_ITEMS: setting(
    'maxListItems',
    integer(5_000, 1, 1_000_000).describe(
      'most list items one operation may resolve; past it the whole operation is aborted with one masked error (see [query limits](query-limits.md))',
    ),
  ),
  SHUTDOWN_TIMEOUT: setting('shutdownTimeoutMs', duration('10s').describe('bound on draining in-flight requests and mail at SIGTERM')),
  CLEANUP_INTERVAL: setting('cleanupIntervalMs', duration('1h').describe('how often expired sessions and tokens are deleted')),
  SESSION_CACHE_TTL: setting(
    'sessionCacheTtlMs',
    duration('10s').describe(
      "at most `60s`: how long an instance may answer a live session's requests from memory (invalidated on every instance when the session ends or the user changes; see [session cache](security.md#session-cache)); `0` checks the database on every request",
    ),
  ),
  LOG_LEVEL: setting(
    'logLevel',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino level (`silent` … `trace`)'),
  ),
};

type Settings = typeof SETTINGS;
type VariableName = keyof Settings;

/** The variables as parsed, keyed by name; unknown variables (OAUTH_<ID>_*) are kept for the providers. */
const variablesSchema = z.looseObject(
  Object.fromEntries(Object.entries(SETTINGS).map(([name, entry]) => [name, entry.schema])) as {
    [N in VariableName]: Settings[N]['schema'];
  },
);
type Variables = z.output<typeof variablesSchema>;

/** The settings that are one variable's parsed value, under their Config key. */
type DirectSettings = {
  [N in VariableName as Settings[N]['key'] extends string ? Settings[N]['key'] : never]: z.output<Settings[N]['schema']>;
};

function directSettings(variables: Variables): DirectSettings {
  const entries = Object.entries(SETTINGS).filter(([, entry]) => entry.key !== null);
  return Object.fromEntries(entries.map(([name, entry]) => [entry.key, variables[name]])) as DirectSettings;
}

/**
 * The whole configuration: each variable parsed, then the rules that span several variables
 * checked and the derived settings computed. Its output type is `Config`.
 */
export const configSchema = variablesSchema.transform((e, ctx) => {
  const problems: string[] = [];
  const isProduction = e.NODE_ENV === 'production';
  if (e.CLOCK_SKEW > 60_000) problems.push('CLOCK_SKEW: must be 60s or less');
  if (e.JWKS_MAX_AGE < 1_000) problems.push('JWKS_MAX_AGE: must be at least 1s');
  // Each key is published JWKS_MAX_AGE before it signs, so it must sign for longer than that.
  if (e.JWT_KEY_ROTATION < 2 * e.JWKS_MAX_AGE) problems.push('JWT_KEY_ROTATION: must be at least twice JWKS_MAX_AGE');
  if (e.SESSION_CACHE_TTL > MAX_SESSION_CACHE_TTL_MS) {
    problems.push(
      'SESSION_CACHE_TTL: must be 60s or less (0 turns the session cache off); it bounds how long a revocation that could not be broadcast can go unseen',
    );
  }
  if (e.ACCESS_TOKEN_TTL < 1_000) problems.push('ACCESS_TOKEN_TTL: must be at least 1s');
  if (e.REFRESH_TOKEN_TTL < 1_000) problems.push('REFRESH_TOKEN_TTL: must be at least 1s');
  if (e.SESSION_MAX_AGE < e.REFRESH_TOKEN_TTL && e.SESSION_MAX_AGE < 1_000) problems.push('SESSION_MAX_AGE: must be at least 1s');
  if (e.JWT_SECRET !== undefined && Buffer.byteLength(e.JWT_SECRET, 'utf8') < 32) {
    problems.push('JWT_SECRET: must be at least 32 bytes');
  }
  if (e.JWT_SECRET_PREVIOUS !== undefined && Buffer.byteLength(e.JWT_SECRET_PREVIOUS, 'utf8') < 32) {
    problems.push('JWT_SECRET_PREVIOUS: must be at least 32 bytes');
  }
  const redisKinds = [
    e.REDIS_URL ? 'REDIS_URL' : '',
    e.REDIS_CLUSTER_URLS.length ? 'REDIS_CLUSTER_URLS' : '',
    e.REDIS_SENTINEL_URLS.length ? 'REDIS_SENTINEL_URLS' : '',
  ].filter(Boolean);
  if (redisKinds.length > 1) problems.push(`${redisKinds.join(', ')}: set only one of them`);
  if (e.REDIS_SENTINEL_URLS.length > 0 && !e.REDIS_SENTINEL_MASTER)
    problems.push('REDIS_SENTINEL_MASTER: required with REDIS_SENTINEL_URLS (the master group name)');
  if (isProduction) {
    if (!e.JWT_SECRET) problems.push('JWT_SECRET: required in production (at least 32 bytes)');
    if (redisKinds.length === 0) {
      problems.push(
        'REDIS_URL: required in production, or REDIS_CLUSTER_URLS or REDIS_SENTINEL_URLS (the in-process store is for development only)',
      );
    }
    if (e.BCRYPT_COST < 10) problems.push('BCRYPT_COST: must be at least 10 in production');
  }
  const storage = storageTarget(e.STORAGE_URL, e.DATA_DIR, problems);
  let publicUrl = e.STORAGE_PUBLIC_URL;
  if (publicUrl !== undefined) {
    const parsedPublic = new URL(publicUrl);
    if (parsedPublic.search || parsedPublic.hash || parsedPublic.username || parsedPublic.password) {
      problems.push('STORAGE_PUBLIC_URL: must be a plain http(s) URL, without query, fragment or credentials');
    }
    publicUrl = publicUrl.replace(/\/+$/, '');
  }
  const oauthProviders = oauthProvidersFrom(e.OAUTH_PROVIDERS, e, problems);
  for (const uri of e.OAUTH_REDIRECT_URIS) {
    if (!URL.canParse(uri) || !/^https?:$/.test(new URL(uri).protocol))
      problems.push(`OAUTH_REDIRECT_URIS: "${uri}" is not an http(s) URL`);
  }
  if (oauthProviders.length > 0 && e.OAUTH_REDIRECT_URIS.length === 0)
    problems.push('OAUTH_REDIRECT_URIS: required with OAUTH_PROVIDERS (the exact redirect URIs allowed)');
  const webauthn = webauthnFrom(e.WEBAUTHN_RP_ID, e.WEBAUTHN_RP_NAME, e.WEBAUTHN_ORIGINS, problems);
  if (problems.length > 0 || storage === undefined) {
    for (const message of problems) ctx.addIssue({ code: 'custom', message, input: e });
    return z.NEVER;
  }

  return {
    ...directSettings(e),
    isProduction,
    isDevelopment: e.NODE_ENV === 'development',
    /** The shared store: REDIS_URL, REDIS_CLUSTER_URLS or REDIS_SENTINEL_URLS; unset → in-process. */
    redis: redisTarget(e.REDIS_URL, e.REDIS_CLUSTER_URLS, e.REDIS_SENTINEL_URLS, e.REDIS_SENTINEL_MASTER),
    jwtSecret: e.JWT_SECRET ?? devSecret(e.DATA_DIR),
    cookieSecure: e.COOKIE_SECURE ?? isProduction,
    /** STORAGE_URL: where avatars are stored. */
    storage,
    /** STORAGE_PUBLIC_URL, without a trailing slash: a stored object's public URL is `${storagePublicUrl}/${key}`. */
    storagePublicUrl: publicUrl ?? defaultPublicUrl(storage, e.PORT),
    /** Whether STORAGE_PUBLIC_URL was given (else the default above was derived). */
    storagePublicUrlSet: publicUrl !== undefined,
    /** OAUTH_PROVIDERS with their OAUTH_<ID>_* settings, in the listed order. */
    oauthProviders: Object.freeze(oauthProviders) as readonly OAuthProviderConfig[],
    /** The passkey relying party: WEBAUTHN_RP_ID, WEBAUTHN_RP_NAME, WEBAUTHN_ORIGINS. */
    webauthn,
  };
});

/** Warden's configuration, as `loadConfig` returns it: the output of `configSchema`. */
export type Config = z.output<typeof configSchema>;

/** Every variable Warden reads; docs/configuration.md lists each one (generated, and a test checks it). */
export const ENVIRONMENT_VARIABLES: readonly string[] = Object.freeze(Object.keys(SETTINGS));

/** What the reference page needs of one variable. */
export interface VariableReference {
  name: string;
  /** The Config key it sets, or null when it only feeds a derived setting. */
  key: string | null;
  schema: z.ZodType;
  description: string | undefined;
  /** The page's default column, when the schema's default does not say it. */
  defaultText: string | undefined;
}

/** The variables in declaration order, for the generated reference page. */
export function variableReference(): VariableReference[] {
  return Object.entries(SETTINGS).map(([name, entry]) => ({
    name,
    key: entry.key,
    schema: entry.schema,
    description: entry.schema.description,
    defaultText: entry.doc.default,
  }));
}

/**
 * Reads and validates the configuration.
 * @throws ConfigError naming every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    // A field's issue is named by its variable (a list's item index is left out); a rule across
    // variables names them in its message.
    const lines = parsed.error.issues.map((issue) =>
      issue.path.length > 0 ? `  ${String(issue.path[0])}: ${issue.message}` : `  ${issue.message}`,
    );
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}

/** WEBAUTHN_ORIGINS when unset: the address `npm start` serves on by default. */
const DEFAULT_WEBAUTHN_ORIGINS = ['http://localhost:4000'];

/**
 * The relying party. The RP ID is a host name (no scheme, port or path; not an IP address, which
 * WebAuthn does not allow); each origin is an exact origin, https (http only on localhost, the one
 * insecure context browsers allow WebAuthn in), whose host is the RP ID or a subdomain of it:
 * browsers refuse any other pairing, so a mistake here would only show up as every ceremony failing.
 */
function webauthnFrom(rawRpId: string, rpName: string, rawOrigins: string[], problems: string[]): WebAuthnConfig {
  const rpId = rawRpId.toLowerCase();
  const hostLike = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
  const rpIdOk = hostLike.test(rpId) && !/^[0-9.]+$/.test(rpId);
  if (!rpIdOk)
    problems.push(`WEBAUTHN_RP_ID: "${rawRpId}" must be a domain name such as example.com (no scheme, port, path or IP address)`);
  if (rpName === '' || rpName.length > 64 || rpName.includes('\u0000')) problems.push('WEBAUTHN_RP_NAME: must be 1 to 64 characters');
  const origins: string[] = [];
  for (const raw of rawOrigins.length > 0 ? rawOrigins : DEFAULT_WEBAUTHN_ORIGINS) {
    const url = URL.canParse(raw) ? new URL(raw) : null;
    if (!url || !/^https?:$/.test(url.protocol) || url.origin !== raw.replace(/\/$/, '').toLowerCase() || url.username || url.password) {
      problems.push(`WEBAUTHN_ORIGINS: "${raw}" is not an origin (scheme, host and optional port only, e.g. https://app.example.com)`);
      continue;
    }
    if (url.protocol === 'http:' && url.hostname !== 'localhost' && !url.hostname.endsWith('.localhost')) {
      problems.push(`WEBAUTHN_ORIGINS: "${raw}" must use https (browsers allow passkeys over http only on localhost)`);
      continue;
    }
    if (rpIdOk && url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) {
      problems.push(`WEBAUTHN_ORIGINS: "${raw}" is not on WEBAUTHN_RP_ID "${rpId}" or a subdomain of it`);
      continue;
    }
    if (!origins.includes(url.origin)) origins.push(url.origin);
  }
  return Object.freeze({ rpId, rpName, origins: Object.freeze(origins) });
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
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    problems.push('STORAGE_URL: the bucket name must be 3 to 63 characters of a-z, 0-9, "." and "-"');
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
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
      problems.push('STORAGE_URL: endpoint must be an http(s) URL');
  }
  const pathStyleText = url.searchParams.get('pathStyle');
  let forcePathStyle = endpoint !== undefined;
  if (pathStyleText !== null) {
    if (pathStyleText !== 'true' && pathStyleText !== 'false') problems.push('STORAGE_URL: pathStyle must be true or false');
    forcePathStyle = pathStyleText === 'true';
  }
  const region = url.searchParams.get('region') || 'us-east-1';
  if (!/^[a-z0-9-]{1,32}$/.test(region)) problems.push('STORAGE_URL: region must look like us-east-1');
  if (Boolean(url.username) !== Boolean(url.password))
    problems.push('STORAGE_URL: give both the access key id and the secret (s3://id:secret@bucket), or neither');
  const credentials = url.username
    ? { accessKeyId: decodeURIComponent(url.username), secretAccessKey: decodeURIComponent(url.password) }
    : undefined;
  return { kind: 's3', bucket, endpoint: endpoint?.replace(/\/+$/, ''), region, forcePathStyle, credentials };
}

/** Without STORAGE_PUBLIC_URL: Warden's own default address for files, the bucket's own URL for S3. */
function defaultPublicUrl(storage: StorageTarget, port: number): string {
  if (storage.kind === 'file') return `http://localhost:${port}`;
  if (storage.endpoint)
    return storage.forcePathStyle ? `${storage.endpoint}/${storage.bucket}` : storage.endpoint.replace('://', `://${storage.bucket}.`);
  return `https://${storage.bucket}.s3.${storage.region}.amazonaws.com`;
}

/**
 * The providers OAUTH_PROVIDERS lists, each from its OAUTH_<ID>_* variables (`<ID>` upper-cased,
 * `-` as `_`). Problems are added to `problems`, one per bad variable.
 */
function oauthProvidersFrom(ids: string[], env: Record<string, unknown>, problems: string[]): OAuthProviderConfig[] {
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
    const read = (name: string) => {
      const value = env[prefix + name];
      return typeof value === 'string' ? value.trim() || undefined : undefined;
    };
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

function redisTarget(
  url: string | undefined,
  clusterUrls: string[],
  sentinelUrls: string[],
  masterName: string | undefined,
): RedisTarget | undefined {
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
