import type { CookieJar } from '../../domain/types';
import type { RefreshTokenTransport } from '../../config';
import { AssuranceLevel, type AuthPayload } from './auth.types';
import type { IssuedTokens } from './issue-tokens';
import { ownRows } from '../user';

export const REFRESH_COOKIE = 'refresh_token';

/**
 * Hands issued tokens to the client per REFRESH_TOKEN_TRANSPORT: in the body, in the
 * `refresh_token` cookie (HttpOnly, SameSite=Strict, Path=/graphql), or both.
 */
export class TokenDelivery {
  constructor(private readonly transport: RefreshTokenTransport) {}

  deliver(cookies: CookieJar, issued: IssuedTokens): AuthPayload {
    if (this.transport !== 'body') {
      cookies.set(REFRESH_COOKIE, issued.refreshToken, { expires: issued.refreshTokenExpiresAt });
    }
    ownRows.add(issued.user);
    return {
      accessToken: issued.accessToken,
      accessTokenExpiresAt: issued.accessTokenExpiresAt,
      refreshToken: this.transport === 'cookie' ? null : issued.refreshToken,
      refreshTokenExpiresAt: issued.refreshTokenExpiresAt,
      user: issued.user,
      assurance: issued.aal === 'aal2' ? AssuranceLevel.AAL2 : AssuranceLevel.AAL1,
      mfaRequired: issued.mfaRequired,
    };
  }

  /** The refresh token a request carries: the argument first, then the cookie. */
  presented(argument: string | null | undefined, cookies: CookieJar): string | undefined {
    if (argument !== undefined && argument !== null) return argument;
    return this.transport === 'body' ? undefined : cookies.get(REFRESH_COOKIE);
  }

  clear(cookies: CookieJar): void {
    if (this.transport !== 'body') cookies.clear(REFRESH_COOKIE);
  }
}
