/**
 * A session's token pair: the access token signed at the session's assurance level and methods,
 * with the refresh token the session was just given. Every sign-in (password, OAuth, passkey), a
 * change of password and an MFA step-up issue their tokens through it.
 */
import type { AccessTokens } from '../../lib/jwt';
import type { Assurance, UserRow } from '../../domain/types';

export interface IssuedTokens {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  sessionId: string;
  user: UserRow;
  /** The session's assurance level. */
  aal: Assurance;
  /** The user has a verified factor and the session is still AAL1: verifyMfa is next. */
  mfaRequired: boolean;
}

/**
 * The token pair of a session whose refresh token was just issued (opened, or re-keyed by a
 * credential change or a step-up): signs its access token at the session's level and methods.
 */
export function issueTokens(
  accessTokens: AccessTokens,
  session: { sessionId: string; user: UserRow; aal: Assurance; amr: string[]; refreshToken: string; refreshTokenExpiresAt: Date },
  mfaRequired: boolean,
): IssuedTokens {
  const { sessionId, user, aal, amr } = session;
  const access = accessTokens.sign({ userId: user.id, sessionId, role: user.role, aal, amr });
  return {
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: session.refreshToken,
    refreshTokenExpiresAt: session.refreshTokenExpiresAt,
    sessionId,
    user,
    aal,
    mfaRequired,
  };
}
