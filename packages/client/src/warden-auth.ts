/**
 * The part of Warden's client that both adapters share: the tokens, the one refresh in flight,
 * and signing out. It knows nothing of Apollo or urql; it speaks to Warden with `fetch`.
 */
import { ErrorCode } from './generated/schema-types';
import { firstErrorCode, isSignOutCode, WardenAuthError, type SignOutCode, type WardenGraphQLError } from './errors';
import { memoryTokenStore, type TokenStore, type WardenTokens } from './token-store';

/**
 * The refresh mutation the client sends. It is a plain string so this module needs no GraphQL
 * library at run time; a test checks it against schema.graphql.
 */
export const REFRESH_TOKEN_MUTATION = `mutation WardenRefreshToken($refreshToken: String) {
  refreshToken(refreshToken: $refreshToken) {
    accessToken
    accessTokenExpiresAt
    refreshToken
    refreshTokenExpiresAt
  }
}`;

/** What `refreshToken`, `login`, `signup` and `changePassword` return (AuthPayload). */
export interface WardenTokenPayload {
  accessToken: string;
  accessTokenExpiresAt?: string;
  /** null when the server sends the refresh token only as a cookie */
  refreshToken?: string | null;
  refreshTokenExpiresAt?: string;
  /** The user has a verified factor and this session is still AAL1 (when the selection asks for it). */
  mfaRequired?: boolean;
}

export interface SignedOutEvent {
  /** why: a refresh answered REFRESH_TOKEN_EXPIRED / _REUSED / _INVALID or SESSION_REVOKED, or an operation answered SESSION_REVOKED or UNAUTHENTICATED */
  code: SignOutCode;
  error?: WardenGraphQLError;
}

/**
 * The session needs a second factor: an operation answered MFA_REQUIRED (`reason: 'MFA_REQUIRED'`,
 * with the error and the operation's name), or a sign-in returned `mfaRequired: true`
 * (`reason: 'SIGN_IN'`). Ask the user for a code and send `verifyMfa(code)`; the client keeps the
 * AAL2 tokens it returns, then retry.
 */
export interface MfaRequiredEvent {
  reason: 'MFA_REQUIRED' | 'SIGN_IN';
  operationName?: string;
  error?: WardenGraphQLError;
}

export interface WardenAuthOptions {
  /** Warden's GraphQL endpoint, e.g. `https://api.example.com/graphql`; the refresh is POSTed here. */
  url: string | URL;
  /** Where the tokens live; memory by default. */
  tokenStore?: TokenStore;
  /** Called once when the session is over and the user must sign in again; the store is already cleared. */
  onSignedOut?: (event: SignedOutEvent) => void;
  /** Called when the session must be raised to AAL2 with `verifyMfa` (see MfaRequiredEvent). */
  onMfaRequired?: (event: MfaRequiredEvent) => void;
  /** Called after every successful refresh with the new payload (to schedule, log, or sync tabs). */
  onRefreshed?: (payload: WardenTokenPayload) => void;
  /** The fetch used for the refresh call; the global one by default. */
  fetch?: typeof fetch;
  /**
   * Credentials mode of the refresh call. In cookie transport across origins use `'include'`
   * (and the same on your HTTP link), so the browser sends and stores the `refresh_token` cookie.
   */
  credentials?: 'omit' | 'same-origin' | 'include';
  /** Extra headers for the refresh call. */
  headers?: Record<string, string>;
  /**
   * Keep the tokens that `signup`, `login`, `changePassword`, `refreshToken`, `verifyMfa` or `finishPasskeyLogin` return through
   * the client (true by default), so the app need not call `signIn` itself. `changePassword`
   * in particular replaces the refresh token: a client that kept the old one would be signed
   * out at its next refresh.
   */
  captureTokens?: boolean;
}

/** Mutations whose payload is an AuthPayload (by response key; an alias hides it). */
const TOKEN_ISSUING_FIELDS = ['signup', 'login', 'changePassword', 'refreshToken', 'verifyMfa', 'finishPasskeyLogin'] as const;

const EMPTY: WardenTokens = { accessToken: null, refreshToken: null };

export class WardenAuth {
  private tokens: WardenTokens = EMPTY;
  private readonly store: TokenStore;
  private readonly loaded: Promise<void>;
  private inflight: Promise<string> | undefined;
  /** onSignedOut has run for the current (empty) state; reset by the next sign-in or refresh. */
  private signedOutNotified = false;

  constructor(private readonly options: WardenAuthOptions) {
    this.store = options.tokenStore ?? memoryTokenStore();
    this.loaded = this.reload();
  }

  /** Resolves once the token store has been read. */
  ready(): Promise<void> {
    return this.loaded;
  }

  /** The access token to send now (null: none). */
  get accessToken(): string | null {
    return this.tokens.accessToken;
  }

  get refreshTokenValue(): string | null {
    return this.tokens.refreshToken;
  }

  /**
   * The headers an operation carries: the bearer token, or, without one,
   * `Apollo-Require-Preflight`, which Warden's CSRF prevention asks of GET requests (urql sends
   * queries as GET).
   */
  headersFor(accessToken: string | null = this.tokens.accessToken): Record<string, string> {
    return accessToken ? { authorization: `Bearer ${accessToken}` } : { 'apollo-require-preflight': 'true' };
  }

  /** Keep the tokens of a `login`, `signup` or `changePassword` payload. */
  async signIn(payload: WardenTokenPayload): Promise<void> {
    await this.loaded;
    await this.save({ accessToken: payload.accessToken, refreshToken: payload.refreshToken ?? null });
  }

  /**
   * Keeps the tokens of a mutation result that issued some (see `captureTokens`).
   * Returns true when it did.
   */
  async capture(data: unknown): Promise<boolean> {
    if (this.options.captureTokens === false || !data || typeof data !== 'object') return false;
    const record = data as Record<string, unknown>;
    // activateTotp returns its AuthPayload under `auth`.
    const activated = (record.activateTotp as { auth?: unknown } | null | undefined)?.auth;
    const payloads = [...TOKEN_ISSUING_FIELDS.map((field) => record[field]), activated];
    for (const candidate of payloads) {
      const payload = candidate as Partial<WardenTokenPayload> | null | undefined;
      if (typeof payload?.accessToken === 'string') {
        await this.signIn(payload as WardenTokenPayload);
        if (payload.mfaRequired === true) this.mfaRequired({ reason: 'SIGN_IN' });
        return true;
      }
    }
    return false;
  }

  /** Tells the app the session needs a second factor (onMfaRequired); a throwing callback is ignored. */
  mfaRequired(event: MfaRequiredEvent): void {
    try {
      this.options.onMfaRequired?.(event);
    } catch {
      // The app's callback must not break the operation's result.
    }
  }

  /** Forget the tokens without calling onSignedOut (after your own `logout` mutation). */
  async clear(): Promise<void> {
    await this.loaded;
    this.tokens = EMPTY;
    this.signedOutNotified = true;
    await this.store.clear();
  }

  /**
   * An operation sent with one of `sentTokens` answered ACCESS_TOKEN_EXPIRED: returns the access
   * token to retry with. When the current token is newer than every token those operations
   * carried, someone already refreshed, so it is returned without a call. Otherwise this joins
   * the one refresh in flight (or starts it).
   * @throws WardenAuthError when the refresh is refused (signed out when its code says so),
   *   or the fetch error when Warden could not be reached.
   */
  async recover(sentTokens: ReadonlyArray<string | null>): Promise<string> {
    await this.loaded;
    if (!this.inflight) await this.reload();
    const current = this.tokens.accessToken;
    if (current !== null && !sentTokens.includes(current)) return current;
    return this.refresh();
  }

  /**
   * Rotates the refresh token now: one call however many callers wait (single flight).
   * Without a stored refresh token the argument is left out, so Warden reads the
   * `refresh_token` cookie (cookie transport). Call it at start to restore a cookie session.
   */
  refresh(): Promise<string> {
    this.inflight ??= this.performRefresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /**
   * An operation sent with `sentToken` answered a sign-out code. Signs out unless a newer
   * session has started since (returns false then), and calls onSignedOut once.
   */
  async signOut(event: SignedOutEvent, sentToken: string | null): Promise<boolean> {
    await this.loaded;
    const current = this.tokens.accessToken;
    if (current !== null && current !== sentToken) return false;
    if (this.signedOutNotified && current === null) return true;
    this.tokens = EMPTY;
    this.signedOutNotified = true;
    await this.store.clear();
    this.options.onSignedOut?.(event);
    return true;
  }

  private async performRefresh(): Promise<string> {
    const before = this.tokens;
    const doFetch = this.options.fetch ?? fetch;
    const response = await doFetch(String(this.options.url), {
      method: 'POST',
      credentials: this.options.credentials,
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json;q=0.9',
        // A valid access token of the same session lets Warden renew an idle-expired refresh token.
        ...(before.accessToken ? { authorization: `Bearer ${before.accessToken}` } : {}),
        ...this.options.headers,
      },
      body: JSON.stringify({
        operationName: 'WardenRefreshToken',
        query: REFRESH_TOKEN_MUTATION,
        variables: before.refreshToken ? { refreshToken: before.refreshToken } : {},
      }),
    });
    let body: { data?: { refreshToken?: WardenTokenPayload | null } | null; errors?: WardenGraphQLError[] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new Error(`Warden refreshToken: HTTP ${response.status} without a GraphQL response`);
    }
    const payload = body.data?.refreshToken;
    if (payload?.accessToken) {
      await this.save({ accessToken: payload.accessToken, refreshToken: payload.refreshToken ?? null });
      this.options.onRefreshed?.(payload);
      return payload.accessToken;
    }
    const errors = body.errors?.length
      ? body.errors
      : [{ message: 'refreshToken returned no tokens', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }];
    const code = firstErrorCode(errors) ?? ErrorCode.INTERNAL_SERVER_ERROR;
    if (isSignOutCode(code)) {
      const signedOut = await this.signOut({ code, error: errors[0] }, before.accessToken);
      throw new WardenAuthError(code, errors, signedOut);
    }
    throw new WardenAuthError(code, errors, false);
  }

  private async save(tokens: WardenTokens): Promise<void> {
    this.tokens = tokens;
    this.signedOutNotified = false;
    await this.store.save(tokens);
  }

  /** Reads the store: the start, and before a refresh (another tab may have refreshed already). */
  private async reload(): Promise<void> {
    const stored = await this.store.load();
    if (stored && (stored.accessToken || stored.refreshToken)) {
      if (stored.accessToken !== this.tokens.accessToken || stored.refreshToken !== this.tokens.refreshToken) {
        this.tokens = { ...stored };
        this.signedOutNotified = false;
      }
    }
  }
}

export function createWardenAuth(options: WardenAuthOptions): WardenAuth {
  return new WardenAuth(options);
}
