/**
 * Sessions: opening, checking and revoking sessions (SessionService), refresh-token rotation
 * with reuse detection (RefreshService), the token pair of a session (issueTokens, IssuedTokens)
 * and how it reaches the client, body or cookie (TokenDelivery, AuthPayload, AssuranceLevel), the
 * per-instance cache of live sessions with cross-instance invalidation (ViewerCache), and the job
 * that deletes ended sessions (SessionCleanup).
 * Resolvers: session.resolver.ts, read by src/schema/build-schema.ts only.
 */
export { AssuranceLevel, AuthPayload } from './auth.types';
export { issueTokens, type IssuedTokens } from './issue-tokens';
export { RefreshService } from './refresh.service';
export { SessionCleanup } from './session-cleanup';
export { SessionService } from './session.service';
export { TokenDelivery } from './token-delivery';
export { ViewerCache } from './viewer-cache';
