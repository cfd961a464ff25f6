/**
 * Account recovery and verification: e-mail verification codes (VerificationService) and
 * password reset by a mailed token (PasswordResetService), both built on single-use tokens stored
 * as hashes.
 * Resolvers: account.resolver.ts, read by src/schema/build-schema.ts only.
 */
export { PasswordResetService } from './password-reset.service';
export { VerificationService } from './verification.service';
