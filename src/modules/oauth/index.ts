/**
 * OAuth / OpenID Connect sign-in with configured providers, and linking their identities to
 * users (OAuthService).
 * Resolvers: oauth.resolver.ts, read by src/schema/build-schema.ts only.
 */
export { OAuthService } from './oauth.service';
