/**
 * `@warden/client` (also `warden/client`): the typed SDK generated from Warden's schema.graphql
 * and operations/, and the token handling the Apollo and urql adapters share. The adapters are
 * their own subpaths, `@warden/client/apollo` and `@warden/client/urql`, so each needs only its
 * own optional peer dependency (`@apollo/client` + `rxjs`, or `@urql/core` + `@urql/exchange-auth`).
 */
export * from './generated/schema-types';
export * from './generated/graphql';
export { errorCodeOf, firstErrorCode, isErrorCode, isSignOutCode, SIGN_OUT_CODES, WardenAuthError } from './errors';
export type { SignOutCode, WardenGraphQLError } from './errors';
export { memoryTokenStore, webStorageTokenStore } from './token-store';
export type { KeyValueStorage, TokenStore, WardenTokens } from './token-store';
export { createWardenAuth, REFRESH_TOKEN_MUTATION, WardenAuth } from './warden-auth';
export type { MfaRequiredEvent, SignedOutEvent, WardenAuthOptions, WardenTokenPayload } from './warden-auth';
