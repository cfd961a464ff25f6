/**
 * TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps) through the `otpauth` library, with the time
 * passed in so the service's injected clock decides which codes are current.
 */
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_ISSUER = 'Warden';

function totp(secret: string): TOTP {
  return new TOTP({ issuer: TOTP_ISSUER, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(secret) });
}

/** A new base32 secret of 20 random bytes (160 bits, RFC 4226's recommendation). */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/**
 * `otpauth://totp/Warden:<email>?secret=…&issuer=Warden`, what authenticator apps scan (Key URI
 * Format; SHA-1, 6 digits and 30 s are its defaults, so they are left out).
 */
export function totpUri(secret: string, email: string): string {
  return `otpauth://totp/${encodeURIComponent(TOTP_ISSUER)}:${encodeURIComponent(email)}?secret=${secret}&issuer=${encodeURIComponent(TOTP_ISSUER)}`;
}

/** The code of `secret` at `nowMs` (tests and tools). */
export function totpCode(secret: string, nowMs: number): string {
  return totp(secret).generate({ timestamp: nowMs });
}

/**
 * The time step `code` belongs to, when it is the code of the current step or of one step either
 * side, and that step is later than `afterStep` (a code is never accepted twice); else null.
 */
export function matchTotp(secret: string, code: string, nowMs: number, afterStep: number | null): number | null {
  if (!/^[0-9]{6}$/.test(code)) return null;
  const delta = totp(secret).validate({ token: code, timestamp: nowMs, window: 1 });
  if (delta === null) return null;
  const step = Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS) + delta;
  return afterStep !== null && step <= afterStep ? null : step;
}
