/**
 * Passkeys (WebAuthn): registering a user's passkeys and signing in with one at AAL2
 * (PasskeyService).
 * Resolvers: passkey.resolver.ts, read by src/schema/build-schema.ts only.
 */
export { PasskeyService } from './passkey.service';
