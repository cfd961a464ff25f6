/**
 * Sealing a value under a key only the holder of a secret token can derive: HKDF-SHA256 of the
 * token → an AES-256-GCM key. The database keeps the sealed bytes and a SHA-256 of the token,
 * neither of which yields the key, so a copy of the database alone opens nothing.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// A fixed, public salt is fine: the input keying material is a 256-bit random token.
const SALT = Buffer.from('warden/seal/v1', 'utf8');

function keyFor(token: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(token, 'utf8'), SALT, Buffer.from(purpose, 'utf8'), 32));
}

/**
 * Encrypts `plaintext` under a key derived from `token` for `purpose`. `binding` (for example a
 * row id) is authenticated with it, so sealed bytes moved to another row no longer open.
 * Layout: version (1) ‖ iv (12) ‖ tag (16) ‖ ciphertext.
 */
export function sealWithToken(token: string, purpose: string, binding: string, plaintext: Buffer): Uint8Array<ArrayBuffer> {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyFor(token, purpose), iv);
  cipher.setAAD(Buffer.from(binding, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Uint8Array.from(Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), ciphertext]));
}

/** Opens what sealWithToken() made; null when the token, purpose or binding differ or the bytes were altered. */
export function openWithToken(token: string, purpose: string, binding: string, sealed: Uint8Array): Buffer | null {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== VERSION) return null;
  const iv = bytes.subarray(1, 1 + IV_BYTES);
  const tag = bytes.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(token, purpose), iv);
    decipher.setAAD(Buffer.from(binding, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(bytes.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}
