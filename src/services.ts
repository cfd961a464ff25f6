/**
 * Wires the domain services once per app. Resolvers reach them through the context.
 */
import type { Logger } from 'pino';
import type { Config } from './config';
import type { Database } from './infra/database';
import type { Store } from './infra/store';
import type { ObjectStorage } from './infra/storage/storage';
import { MailQueue, type Mailer } from './infra/mailer';
import type { Metrics } from './infra/metrics';
import type { Clock } from './lib/clock';
import { BackgroundTasks } from './lib/background';
import { AccessTokens } from './lib/jwt';
import type { SigningKeys } from './modules/keys';
import { PasswordHasher } from './lib/password';
import { AuditService, SecretGate, RateLimitService } from './modules/security';
import { AuthService, ChangePasswordService } from './modules/identity';
import { RefreshService, SessionService, type ViewerCache, TokenDelivery } from './modules/session';
import { UserService } from './modules/user';
import { PostService } from './modules/post';
import { FollowService } from './modules/follow';
import { VerificationService, PasswordResetService } from './modules/account';
import { deriveKey } from './lib/tokens';
import { AvatarLibrary, AvatarService } from './modules/avatar';
import { OAuthService } from './modules/oauth';
import { RefreshTokenCodec } from './lib/refresh-token';
import { MfaService } from './modules/mfa';
import { PasskeyService } from './modules/passkey';

export interface Infrastructure {
  config: Config;
  database: Database;
  store: Store;
  mailer: Mailer;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  /** Where avatars are stored (STORAGE_URL). */
  storage: ObjectStorage;
  /** How Warden calls OAuth providers: a fetch of the caller's (a private CA, a proxy) and the per-call bound. */
  oauth?: OAuthTransport;
}

export interface OAuthTransport {
  /** Used for every provider call (discovery, token, JWKS, userinfo); the platform's fetch by default. */
  fetch?: typeof fetch;
  /** The bound on each provider call; default 5 s. */
  timeoutMs?: number;
}

export interface Services {
  /** Signs and verifies access tokens (ES256 with `signingKeys`, else HS256). */
  accessTokens: AccessTokens;
  /** ES256 only: the keys every instance shares (JWKS, rotation). */
  signingKeys: SigningKeys | null;
  auth: AuthService;
  sessions: SessionService;
  refresh: RefreshService;
  changePassword: ChangePasswordService;
  users: UserService;
  audit: AuditService;
  tokenDelivery: TokenDelivery;
  posts: PostService;
  follows: FollowService;
  /** The one lockout every secret check goes through (docs/api.md §6). */
  gate: SecretGate;
  rateLimits: RateLimitService;
  /** Work after the response (mail, reset lookups); app.close() drains it. */
  background: BackgroundTasks;
  mail: MailQueue;
  verification: VerificationService;
  passwordReset: PasswordResetService;
  avatars: AvatarService;
  /** OpenID Connect sign-in and identity linking (docs/api.md §3). */
  oauth: OAuthService;
  /** TOTP factors, recovery codes, step-up to AAL2; its `adminRequiresAal2` is read by @auth. */
  mfa: MfaService;
  /** WebAuthn registration and sign-in (docs/passkeys.md). */
  passkeys: PasskeyService;
}

/**
 * `viewerCache`: live sessions this instance may answer from memory (ViewerCache.open); none means every request asks the database.
 * `signingKeys`: with JWT_ALGORITHM=ES256, the opened key store (SigningKeys.open); tokens are HS256 without it.
 */
export function createServices(infra: Infrastructure, viewerCache?: ViewerCache, signingKeys?: SigningKeys | null): Services {
  const { config, database, store, mailer, metrics, logger, clock, storage } = infra;
  const prisma = database.prisma;
  const hasher = new PasswordHasher(config.bcryptCost, { concurrency: config.bcryptConcurrency });
  const accessTokens = new AccessTokens({
    secret: config.jwtSecret,
    previousSecret: config.jwtSecretPrevious,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttlMs: config.accessTokenTtlMs,
    clockSkewMs: config.clockSkewMs,
    keys: signingKeys ?? undefined,
    clock,
  });
  // Refresh tokens made under JWT_SECRET; those made under JWT_SECRET_PREVIOUS still verify.
  const refreshTokens = new RefreshTokenCodec(
    [config.jwtSecret, config.jwtSecretPrevious].filter((secret): secret is string => Boolean(secret)),
  );
  const audit = new AuditService({ prisma, logger });
  const gate = new SecretGate({
    store,
    clock,
    maxFailures: config.loginMaxFailures,
    windowMs: config.loginFailureWindowMs,
    lockoutMs: config.lockoutDurationMs,
    metrics,
  });
  const rateLimits = new RateLimitService({ store, perMinute: config.ipRateLimit });
  const sessions = new SessionService({
    prisma,
    sql: database.sql,
    clock,
    refreshTokens,
    refreshTokenTtlMs: config.refreshTokenTtlMs,
    sessionMaxAgeMs: config.sessionMaxAgeMs,
    reuseGraceMs: config.refreshReuseGraceMs,
    audit,
    metrics,
    viewerCache,
  });
  const refresh = new RefreshService({
    prisma,
    sql: database.sql,
    clock,
    accessTokens,
    refreshTokens,
    sessions,
    audit,
    metrics,
    logger,
    refreshTokenTtlMs: config.refreshTokenTtlMs,
    reuseGraceMs: config.refreshReuseGraceMs,
    auditRefresh: config.auditRefresh,
    storeGuard: rateLimits,
  });
  const changePassword = new ChangePasswordService({
    prisma,
    hasher,
    accessTokens,
    sessions,
    audit,
    gate,
    clock,
    refreshTokenTtlMs: config.refreshTokenTtlMs,
  });
  const avatarLibrary = new AvatarLibrary({ storage, logger });
  const users = new UserService({ prisma, sql: database.sql, hasher, gate, viewerCache, audit, avatars: avatarLibrary });
  const avatars = new AvatarService({
    prisma,
    library: avatarLibrary,
    users,
    store,
    clock,
    logger,
    maxBytes: config.avatarMaxBytes,
    uploadsPerHour: config.avatarUploadsPerHour,
  });
  const background = new BackgroundTasks(logger);
  const mail = new MailQueue({ mailer, background, logger, metrics });
  const verification = new VerificationService({
    prisma,
    clock,
    store,
    gate,
    rateLimits,
    audit,
    mail,
    background,
    logger,
    // Codes are MACed under a key derived from the JWT secret; while a previous secret is still
    // accepted, so are codes issued under it.
    codeKeys: [config.jwtSecret, config.jwtSecretPrevious]
      .filter((secret): secret is string => Boolean(secret))
      .map((secret) => deriveKey(secret, 'one-time code')),
    viewerCache,
    adminEmails: config.adminEmails,
  });
  const passwordReset = new PasswordResetService({
    prisma,
    clock,
    hasher,
    sessions,
    store,
    gate,
    rateLimits,
    audit,
    mail,
    background,
    logger,
  });
  const auth = new AuthService({
    prisma,
    hasher,
    accessTokens,
    sessions,
    audit,
    gate,
    rateLimits,
    metrics,
    logger,
    onSignup: (user) => verification.afterSignup(user),
  });
  const oauth = new OAuthService({
    prisma,
    store,
    clock,
    auth,
    audit,
    rateLimits,
    logger,
    providers: config.oauthProviders,
    redirectUris: config.oauthRedirectUris,
    onSignup: (user) => verification.afterSignup(user),
    fetch: infra.oauth?.fetch,
    timeoutMs: infra.oauth?.timeoutMs,
  });
  const mfa = new MfaService({
    prisma,
    clock,
    accessTokens,
    sessions,
    audit,
    gate,
    metrics,
    secret: config.jwtSecret,
    previousSecret: config.jwtSecretPrevious,
    adminRequiresAal2: config.mfaRequiredForAdmin,
  });
  const passkeys = new PasskeyService({
    prisma,
    store,
    clock,
    auth,
    audit,
    rateLimits,
    metrics,
    logger,
    webauthn: config.webauthn,
    secret: config.jwtSecret,
  });
  const posts = new PostService({ prisma, sql: database.sql });
  const follows = new FollowService({ prisma, sql: database.sql, users });
  return {
    accessTokens,
    signingKeys: signingKeys ?? null,
    auth,
    sessions,
    refresh,
    changePassword,
    users,
    audit,
    tokenDelivery: new TokenDelivery(config.refreshTokenTransport),
    posts,
    follows,
    gate,
    rateLimits,
    background,
    mail,
    verification,
    passwordReset,
    avatars,
    oauth,
    mfa,
    passkeys,
  };
}
