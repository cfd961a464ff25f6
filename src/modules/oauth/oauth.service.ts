/**
 * Sign-in and account linking with OpenID Connect providers (docs/api.md §3), through openid-client.
 * Knows nothing of GraphQL: the resolver hands it the request's meta and cookies.
 *
 * start… makes a PKCE verifier, a state and a nonce (CSPRNG), remembers them server-side under
 * the state's hash for 10 minutes (OAuthStates), and binds them to the starting browser with an
 * HttpOnly cookie. finish… takes that record once, checks the provider, the purpose and the
 * cookie, exchanges the code, validates the ID token (signature through the provider's JWKS,
 * iss, aud, azp, exp, nonce) and only then looks at who the user is.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type * as OpenIdClient from 'openid-client' with { 'resolution-mode': 'import' };
import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import type { OAuthProviderConfig } from '../../config';
import { AppError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { Store } from '../../infra/store';
import type { Clock } from '../../lib/clock';
import { normalizeEmail } from '../../lib/tokens';
import { emailProblem } from '../../lib/validation';
import type { CookieJar, RequestMeta, UserRow } from '../../domain/types';
import { Role, USER_SELECT } from '../user';
import type { AuditService, RateLimitService } from '../security';
import type { AuthService } from '../identity';
import type { IssuedTokens } from '../session';
import { OAuthStates, hashOf, type PendingOAuth } from './oauth-states';

/** The browser-binding cookie (HttpOnly, SameSite=Lax, Path=/graphql). */
export const OAUTH_COOKIE = 'warden_oauth';
/** How long a started sign-in may be finished. */
export const OAUTH_STATE_TTL_MS = 10 * 60_000;
/** Default bound on each call to a provider (discovery, token, JWKS, userinfo). */
export const OAUTH_PROVIDER_TIMEOUT_MS = 5_000;
/** After a failed discovery, how long before it is tried again (calls in between fail at once). */
const DISCOVERY_RETRY_MS = 2_000;
/** How long a provider's discovery document is trusted before it is read again. */
const DISCOVERY_CACHE_MS = 60 * 60_000;

export interface IdentityRow {
  provider: string;
  subject: string;
  email: string | null;
  createdAt: Date;
}

export interface OAuthServiceDeps {
  prisma: PrismaClient;
  store: Store;
  clock: Clock;
  auth: AuthService;
  audit: AuditService;
  rateLimits: RateLimitService;
  logger: Logger;
  providers: readonly OAuthProviderConfig[];
  redirectUris: readonly string[];
  /** Runs after a new user with an unverified email signs up (the verification code is mailed). */
  onSignup?: (user: UserRow) => void;
  /** The fetch used for every provider call; the platform's by default. */
  fetch?: typeof fetch;
  timeoutMs?: number;
}

type Client = typeof OpenIdClient;
/** openid-client is ESM-only; `module: node16` keeps this a native import() in the CommonJS output. */
let clientModule: Promise<Client> | undefined;
const loadClient = () => (clientModule ??= import('openid-client'));

/** What a validated provider response says about the user. */
interface ProviderAccount {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

/** A provider problem: answered as OAUTH_FAILED, logged with its cause. */
class ProviderError extends Error {
  override name = 'ProviderError';
}

export class OAuthService {
  private readonly states: OAuthStates;
  private readonly discovered = new Map<string, { config: Promise<OpenIdClient.Configuration>; at: number; failedAt?: number }>();
  private readonly byId: ReadonlyMap<string, OAuthProviderConfig>;

  constructor(private readonly deps: OAuthServiceDeps) {
    this.states = new OAuthStates(deps.store, deps.clock, OAUTH_STATE_TTL_MS);
    this.byId = new Map(deps.providers.map((provider) => [provider.id, provider]));
  }

  providers(): Array<{ id: string; name: string }> {
    return this.deps.providers.map(({ id, name }) => ({ id, name }));
  }

  /**
   * startOAuthLogin / startOAuthLink: the provider's authorization URL and the state.
   * @throws ValidationError for an unknown provider or a redirect URI not listed exactly;
   *   AppError OAUTH_FAILED when the provider cannot be reached; RetryLaterError RATE_LIMITED.
   */
  async start(
    input: { provider: string; redirectUri: string },
    purpose: PendingOAuth['purpose'],
    userId: string | null,
    cookies: CookieJar,
    meta: RequestMeta,
  ): Promise<{ authorizationUrl: string; state: string }> {
    if (purpose === 'login') await this.deps.rateLimits.consumeIp('startOAuthLogin', meta.ip);
    const provider = this.provider(input.provider);
    if (!this.deps.redirectUris.includes(input.redirectUri))
      throw new ValidationError({ redirectUri: 'is not one of the allowed redirect URIs' });
    const client = await loadClient();
    const config = await this.configuration(provider);
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const browser = this.browserBinding(cookies);
    await this.states.put(state, {
      provider: provider.id,
      purpose,
      userId,
      redirectUri: input.redirectUri,
      codeVerifier,
      nonce,
      browser: hashOf(browser),
    });
    cookies.set(OAUTH_COOKIE, browser, { maxAgeSeconds: OAUTH_STATE_TTL_MS / 1000, sameSite: 'lax' });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: input.redirectUri,
      scope: provider.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      response_type: 'code',
    });
    return { authorizationUrl: url.href, state };
  }

  /**
   * finishOAuthLogin: signs in the identity's owner, else the verified account with the
   * provider's verified email (linking it), else a new user.
   * @throws AppError OAUTH_FAILED (bad, expired, replayed or foreign state; another browser; a
   *   code the provider refuses; an ID token that fails validation), ACCOUNT_EXISTS (an account
   *   with that email that cannot be linked automatically; nothing is linked).
   */
  async finishLogin(
    input: { provider: string; code: string; state: string },
    cookies: CookieJar,
    meta: RequestMeta,
  ): Promise<IssuedTokens> {
    await this.deps.rateLimits.consumeIp('finishOAuthLogin', meta.ip);
    const { provider, account } = await this.complete(input, 'login', null, cookies);
    const owned = await this.deps.prisma.oAuthIdentity.findUnique({
      where: { provider_subject: { provider: provider.id, subject: account.subject } },
      select: { user: { select: USER_SELECT } },
    });
    if (owned) {
      const tokens = await this.deps.auth.startSession(owned.user, meta, ['oauth']);
      await this.deps.audit.record('oauth_login', {
        userId: owned.user.id,
        sessionId: tokens.sessionId,
        meta,
        detail: { provider: provider.id },
      });
      return tokens;
    }
    if (!account.email) throw this.failed(`provider ${provider.id} gave no usable email`);
    const existing = (await this.deps.prisma.user.findUnique({ where: { email: account.email }, select: USER_SELECT })) as UserRow | null;
    if (existing) {
      // Both sides verified, or nothing: linking into an unverified account would hand it to
      // whoever registered the address first (pre-account takeover).
      if (!account.emailVerified || !existing.emailVerified) throw new AppError(ErrorCode.ACCOUNT_EXISTS);
      await this.createIdentity(existing.id, provider.id, account);
      const tokens = await this.deps.auth.startSession(existing, meta, ['oauth']);
      await this.deps.audit.record('oauth_linked', {
        userId: existing.id,
        sessionId: tokens.sessionId,
        meta,
        detail: { provider: provider.id, by: 'verified_email' },
      });
      await this.deps.audit.record('oauth_login', {
        userId: existing.id,
        sessionId: tokens.sessionId,
        meta,
        detail: { provider: provider.id },
      });
      return tokens;
    }
    const user = await this.createUser(provider.id, account);
    const tokens = await this.deps.auth.startSession(user, meta, ['oauth']);
    await this.deps.audit.record('oauth_signup', { userId: user.id, sessionId: tokens.sessionId, meta, detail: { provider: provider.id } });
    if (!user.emailVerified) this.deps.onSignup?.(user);
    return tokens;
  }

  /**
   * finishOAuthLink: adds the provider identity to the signed-in user who started the link.
   * @throws AppError OAUTH_FAILED as finishLogin, or when another user started it;
   *   ACCOUNT_EXISTS when the identity belongs to another user; ValidationError when the user
   *   already has another identity at this provider.
   */
  async finishLink(
    input: { provider: string; code: string; state: string },
    userId: string,
    cookies: CookieJar,
    meta: RequestMeta,
  ): Promise<IdentityRow> {
    const { provider, account } = await this.complete(input, 'link', userId, cookies);
    const owned = await this.deps.prisma.oAuthIdentity.findUnique({
      where: { provider_subject: { provider: provider.id, subject: account.subject } },
    });
    if (owned) {
      if (owned.userId !== userId) throw new AppError(ErrorCode.ACCOUNT_EXISTS);
      return owned;
    }
    const identity = await this.createIdentity(userId, provider.id, account);
    await this.deps.audit.record('oauth_linked', { userId, meta, detail: { provider: provider.id, by: 'link' } });
    return identity;
  }

  /**
   * Removes the user's identity at `provider`, unless it is their last way to sign in.
   * @throws ValidationError for an unknown provider or the last sign-in method; AppError NOT_FOUND when none is linked.
   */
  async unlink(userId: string, providerId: string, meta: RequestMeta): Promise<true> {
    await this.deps.prisma.$transaction(async (tx) => {
      // One unlink at a time per user, so two concurrent ones cannot each leave the other as the last.
      await tx.$queryRaw`SELECT 1 FROM "User" WHERE "id" = ${userId}::uuid FOR UPDATE`;
      const user = await tx.user.findUnique({
        where: { id: userId },
        select: { passwordHash: true, identities: { select: { provider: true } }, _count: { select: { passkeys: true } } },
      });
      if (!user) throw new AppError(ErrorCode.UNAUTHENTICATED);
      if (!user.identities.some((identity) => identity.provider === providerId)) throw new AppError(ErrorCode.NOT_FOUND);
      const others = user.identities.length - 1;
      // A password, another identity or a passkey is a way to sign in (docs/api.md §3).
      if (user.passwordHash === null && others === 0 && user._count.passkeys === 0) {
        throw new ValidationError({
          provider: 'is your only way to sign in; set a password (password reset), link another provider or add a passkey first',
        });
      }
      await tx.oAuthIdentity.delete({ where: { userId_provider: { userId, provider: providerId } } });
    });
    await this.deps.audit.record('oauth_unlinked', { userId, meta, detail: { provider: providerId } });
    return true;
  }

  async identities(userId: string): Promise<IdentityRow[]> {
    return this.deps.prisma.oAuthIdentity.findMany({
      where: { userId },
      select: { provider: true, subject: true, email: true, createdAt: true },
      orderBy: [{ createdAt: 'asc' }, { provider: 'asc' }],
    });
  }

  /** Takes the pending record, checks it, exchanges the code and validates what comes back. */
  private async complete(
    input: { provider: string; code: string; state: string },
    purpose: PendingOAuth['purpose'],
    userId: string | null,
    cookies: CookieJar,
  ): Promise<{ provider: OAuthProviderConfig; account: ProviderAccount }> {
    const provider = this.provider(input.provider);
    if (input.state.length === 0 || input.state.length > 512 || input.code.length === 0 || input.code.length > 4096)
      throw this.failed('malformed code or state');
    // Taken before anything else is checked: a state is spent by any attempt to finish it.
    const pending = await this.states.take(input.state);
    if (!pending) throw this.failed('unknown, expired or replayed state');
    if (pending.provider !== provider.id || pending.purpose !== purpose || pending.userId !== userId)
      throw this.failed('state from another flow');
    const browser = cookies.get(OAUTH_COOKIE);
    if (!browser || !sameText(hashOf(browser), pending.browser)) throw this.failed('state started in another browser');
    const client = await loadClient();
    const config = await this.configuration(provider);
    const callback = new URL(pending.redirectUri);
    callback.searchParams.set('code', input.code);
    callback.searchParams.set('state', input.state);
    // The record names the provider, so a response from another issuer cannot be mixed in;
    // a provider that announces RFC 9207 gets its own issuer, the one discovery verified.
    if (config.serverMetadata().authorization_response_iss_parameter_supported)
      callback.searchParams.set('iss', config.serverMetadata().issuer);
    let claims: Record<string, unknown>;
    let accessToken: string;
    try {
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedNonce: pending.nonce,
        expectedState: input.state,
        idTokenExpected: true,
      });
      claims = tokens.claims() ?? {};
      accessToken = tokens.access_token;
    } catch (error) {
      throw this.failed('code exchange or ID token validation failed', error);
    }
    const subject = claims.sub;
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 255) throw this.failed('ID token without a usable sub');
    let profile: Record<string, unknown> = claims;
    if (typeof claims.email !== 'string') {
      try {
        profile = { ...(await client.fetchUserInfo(config, accessToken, subject)), ...claims };
      } catch (error) {
        throw this.failed('userinfo failed', error);
      }
    }
    const rawEmail = typeof profile.email === 'string' ? normalizeEmail(profile.email) : null;
    const email = rawEmail && !emailProblem(rawEmail) ? rawEmail : null;
    const name = typeof profile.name === 'string' && profile.name.trim() ? profile.name.trim().slice(0, 100) : null;
    // Verified only when the provider says so, as a boolean (some send the string "true").
    const verified = profile.email_verified === true || profile.email_verified === 'true';
    return { provider, account: { subject, email, emailVerified: email !== null && verified, name } };
  }

  private async createIdentity(userId: string, provider: string, account: ProviderAccount): Promise<IdentityRow> {
    try {
      return await this.deps.prisma.oAuthIdentity.create({
        data: { userId, provider, subject: account.subject, email: account.email },
        select: { provider: true, subject: true, email: true, createdAt: true },
      });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        // (provider, sub) taken meanwhile by another user, or this user already has one at the provider.
        const mine = await this.deps.prisma.oAuthIdentity.findUnique({ where: { userId_provider: { userId, provider } } });
        if (mine) throw new ValidationError({ provider: 'another account at this provider is already linked; unlink it first' });
        throw new AppError(ErrorCode.ACCOUNT_EXISTS);
      }
      throw error;
    }
  }

  /** A new user without a password, with the identity, in one transaction. */
  private async createUser(provider: string, account: ProviderAccount): Promise<UserRow> {
    const id = randomUUID();
    const name = account.name ?? account.email!.split('@')[0];
    try {
      return (await this.deps.prisma.user.create({
        data: {
          id,
          email: account.email!,
          name,
          passwordHash: null,
          role: Role.USER,
          emailVerified: account.emailVerified,
          avatarUrl: `https://api.dicebear.com/9.x/identicon/svg?seed=${id}`,
          bio: `Hi, I'm ${name}!`,
          identities: { create: { provider, subject: account.subject, email: account.email } },
        },
        select: USER_SELECT,
      })) as UserRow;
    } catch (error) {
      // The email or the identity was taken by a concurrent finish: start again.
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') throw this.failed('concurrent sign-up', error);
      throw error;
    }
  }

  private provider(id: string): OAuthProviderConfig {
    const provider = this.byId.get(id);
    if (!provider) throw new ValidationError({ provider: 'is not a configured provider' });
    return provider;
  }

  /** This browser's binding value: the one it already has, so two tabs can sign in at once, or a new one. */
  private browserBinding(cookies: CookieJar): string {
    const current = cookies.get(OAUTH_COOKIE);
    return current && /^[A-Za-z0-9_-]{43}$/.test(current) ? current : randomBytes(32).toString('base64url');
  }

  /**
   * The provider's discovered configuration, cached for an hour. A failed discovery is not
   * cached: it is retried on a later call (after DISCOVERY_RETRY_MS; calls before fail at once).
   * @throws AppError OAUTH_FAILED
   */
  private async configuration(provider: OAuthProviderConfig): Promise<OpenIdClient.Configuration> {
    const now = this.deps.clock.now();
    const cached = this.discovered.get(provider.id);
    if (cached && cached.failedAt !== undefined && now - cached.failedAt < DISCOVERY_RETRY_MS)
      throw this.failed(`discovery of ${provider.id} failed recently`);
    if (!cached || cached.failedAt !== undefined || now - cached.at > DISCOVERY_CACHE_MS) {
      const entry: { config: Promise<OpenIdClient.Configuration>; at: number; failedAt?: number } = {
        config: this.discover(provider),
        at: now,
      };
      this.discovered.set(provider.id, entry);
      entry.config.catch(() => {
        entry.failedAt = this.deps.clock.now();
      });
    }
    try {
      return await this.discovered.get(provider.id)!.config;
    } catch (error) {
      throw this.failed(`discovery of ${provider.id} failed`, error);
    }
  }

  private async discover(provider: OAuthProviderConfig): Promise<OpenIdClient.Configuration> {
    const client = await loadClient();
    const timeoutMs = this.deps.timeoutMs ?? OAUTH_PROVIDER_TIMEOUT_MS;
    const base = this.deps.fetch ?? fetch;
    // Every call to the provider (discovery, token, JWKS, userinfo) is bounded, whatever the provider does.
    const bounded = ((url: string, options: RequestInit) =>
      base(url, {
        ...options,
        signal: options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      })) as unknown as typeof fetch;
    const auth = provider.clientSecret ? client.ClientSecretPost(provider.clientSecret) : client.None();
    const config = await client.discovery(
      new URL(provider.issuer),
      provider.clientId,
      provider.clientSecret ? { client_secret: provider.clientSecret } : undefined,
      auth,
      {
        [client.customFetch]: bounded,
        timeout: Math.ceil(timeoutMs / 1000),
      },
    );
    config[client.customFetch] = bounded;
    config.timeout = Math.ceil(timeoutMs / 1000);
    // Verify the ID token's signature against the provider's JWKS too, not only TLS.
    client.enableNonRepudiationChecks(config);
    return config;
  }

  private failed(reason: string, cause?: unknown): AppError {
    if (!(cause instanceof AppError))
      this.deps.logger.warn(
        { err: cause instanceof Error ? new ProviderError(`${reason}: ${cause.message}`) : undefined, reason },
        'oauth failed',
      );
    return cause instanceof AppError ? cause : new AppError(ErrorCode.OAUTH_FAILED);
  }
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
