/**
 * Multi-factor authentication: TOTP factors, recovery codes and stepping a session up to AAL2
 * (MfaService).
 * Resolvers: mfa.resolver.ts, read by src/schema/build-schema.ts only.
 */
export { MfaService } from './mfa.service';
