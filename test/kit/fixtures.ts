/** Operations and readers many test files share. */
import jwt from 'jsonwebtoken';
import { MeDocument } from '@warden/client';
import type { GqlResponse } from './gql';

/** The viewer (typed): `server.gql(ME, {}, { token })` → `data.me` with the user's fields and counts. */
export const ME = MeDocument;

export const REFRESH = /* GraphQL */ `
  mutation Refresh($refreshToken: String) {
    refreshToken(refreshToken: $refreshToken) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      refreshTokenExpiresAt
      user {
        id
        email
      }
    }
  }
`;

export const LOGOUT = /* GraphQL */ `
  mutation Logout($scope: LogoutScope, $refreshToken: String) {
    logout(scope: $scope, refreshToken: $refreshToken)
  }
`;

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
}

/** The new pair of a successful refresh; throws (failing the test) with the errors otherwise. */
export function pairOf(response: GqlResponse): TokenPair {
  const pair = refreshedPair(response);
  if (!pair) throw new Error(`refresh failed: ${JSON.stringify(response.body.errors ?? response.body)}`);
  return pair;
}

/** The new pair of a refresh, or null when it was refused (for tests that count refusals). */
export function refreshedPair(response: GqlResponse): TokenPair | null {
  return (response.body.data as { refreshToken?: TokenPair } | null | undefined)?.refreshToken ?? null;
}

/** The session id (`sid`) an access token names. */
export const sessionIdOf = (accessToken: string): string => (jwt.decode(accessToken) as { sid: string }).sid;
