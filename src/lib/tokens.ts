import { createHash, createHmac, hkdfSync, randomBytes, randomInt } from 'node:crypto';

/** An opaque secret: 256 bits from the CSPRNG, base64url (43 characters). */
export function newOpaqueToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** What the database keeps instead of a secret token. */
export function sha256(value: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(createHash('sha256').update(value, 'utf8').digest());
}

/**
 * A 256-bit key for one purpose, derived from a server secret with HKDF-SHA256, so one
 * configured secret serves several uses without any key doubling as another.
 */
export function deriveKey(secret: string, purpose: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from('warden', 'utf8'), Buffer.from(purpose, 'utf8'), 32));
}

/**
 * HMAC-SHA256 of `value` under `key`: what the database keeps of a short secret (a 6-digit code
 * has 20 bits, which a plain hash would not protect: anyone with the table could try all of them).
 */
export function keyedHash(key: Uint8Array, value: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(createHmac('sha256', key).update(value, 'utf8').digest());
}

/** A 6-digit code from the CSPRNG. */
export function newNumericCode(digits = 6): string {
  return String(randomInt(0, 10 ** digits)).padStart(digits, '0');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** True when the text has the shape of a token newOpaqueToken() makes. */
export function looksLikeOpaqueToken(text: string, bytes = 32): boolean {
  return text.length === Math.ceil((bytes * 4) / 3) && BASE64URL.test(text);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else cannot name a row and is answered without a query. */
export const isUuid = (text: string): boolean => UUID.test(text);

/** Emails are trimmed, NFKC-normalised and lower-cased before any use (docs/api.md §6). */
export function normalizeEmail(email: string): string {
  return email.trim().normalize('NFKC').toLowerCase();
}
