/**
 * JWT signing keys: the key set access tokens are signed and verified with, kept in the database
 * and rotated through next → current → previous → retired (SigningKeys, openSigningKeys), the
 * `keys:*` command line (runKeysCommand), and a secret's fingerprint for other sealed data
 * (secretFingerprint).
 */
export { SigningKeys, openSigningKeys, secretFingerprint } from './signing-keys';
export { runKeysCommand } from './keys-command';
