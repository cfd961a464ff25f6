/**
 * The refresh-token format (docs/api.md §4): a session id, a generation counter and two MACs, so a
 * session keeps one row whatever the number of rotations.
 *
 *   token = base64url( version (1) ‖ session id (16) ‖ generation (4, big-endian) ‖ tag (16) ‖ check (8) )
 *
 * - `tag` is HMAC-SHA-256 of the first 21 bytes, truncated to 128 bits, under the session's own
 *   key: HKDF-SHA-256 of the master secret (JWT_SECRET) with the session's random salt (kept in
 *   its row). The database alone (salt, no secret) cannot make or check a tag, and neither can
 *   the secret alone (no salt).
 * - `check` is HMAC-SHA-256 of everything before it, truncated to 64 bits, under a key derived
 *   from the master secret only. It is verified before any database read: garbage, a truncated or
 *   bit-flipped token, or a token whose session id or generation was edited never reaches the
 *   database, so its answer cannot depend on whether the session exists.
 *
 * While a previous master secret is configured (JWT_SECRET_PREVIOUS), tokens made under it still
 * verify; new ones are always made under the current secret.
 *
 * Derived session keys are kept in a bounded map (an HKDF costs more than the HMAC it keys), and
 * so is the salt of each session this process lately minted for: a hint that lets a rotation skip
 * reading the row, never a decision — the rotation's statement requires the row's salt to be that
 * salt (src/modules/auth/refresh.service.ts). Neither adds a secret the process does not hold.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export const REFRESH_TOKEN_VERSION = 1;
const HEADER_BYTES = 1 + 16 + 4;
const TAG_BYTES = 16;
const CHECK_BYTES = 8;
const TOKEN_BYTES = HEADER_BYTES + TAG_BYTES + CHECK_BYTES;
/** base64url without padding of TOKEN_BYTES (45) bytes. */
export const REFRESH_TOKEN_LENGTH = Math.ceil((TOKEN_BYTES * 4) / 3);
/** The largest generation the row's `integer` column holds; a session that reaches it must sign in again. */
export const MAX_GENERATION = 2 ** 31 - 1;
export const SALT_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A new session's salt: 128 random bits, not secret (the key needs the master secret too). */
export const newSessionSalt = (): Uint8Array<ArrayBuffer> => new Uint8Array(randomBytes(SALT_BYTES));

/** What a token says once its check has verified; the tag is verified against the row's salt. */
export interface ParsedRefreshToken {
  sessionId: string;
  generation: number;
  /** Which master secret made the check (0 = current, 1 = previous); the tag is under the same one. */
  secretIndex: number;
  header: Buffer;
  tag: Buffer;
}

/** How many session keys and salts are remembered; a session key is 32 bytes. */
export const SESSION_KEY_CACHE_SIZE = 10_000;

export class RefreshTokenCodec {
  private readonly secrets: Buffer[];
  private readonly checkKeys: Buffer[];
  /** `${secretIndex}:${salt}` → HKDF(secret, salt): the session key. */
  private readonly sessionKeys = new LRUCache<string, Buffer>({ max: SESSION_KEY_CACHE_SIZE });
  /** session id → the salt it was last minted under. */
  private readonly salts = new LRUCache<string, Uint8Array>({ max: SESSION_KEY_CACHE_SIZE });

  /** `secrets[0]` makes new tokens; every one verifies. */
  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('RefreshTokenCodec needs a secret');
    this.secrets = secrets.map((secret) => Buffer.from(secret, 'utf8'));
    this.checkKeys = this.secrets.map((secret) => hkdf(secret, Buffer.from('warden refresh check', 'utf8'), 'refresh-token check v1'));
  }

  /** The token of `generation` in the session with this id and salt, under the current secret. */
  mint(sessionId: string, salt: Uint8Array, generation: number): string {
    if (!Number.isInteger(generation) || generation < 0 || generation > MAX_GENERATION) throw new RangeError('generation out of range');
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(REFRESH_TOKEN_VERSION, 0);
    Buffer.from(sessionId.replace(/-/g, ''), 'hex').copy(header, 1);
    header.writeUInt32BE(generation, 17);
    const tag = this.tag(0, salt, header);
    this.salts.set(sessionId, Uint8Array.from(salt));
    const body = Buffer.concat([header, tag]);
    return Buffer.concat([body, this.check(0, body)]).toString('base64url');
  }

  /**
   * Length, alphabet, version and the secret-keyed check, without any database access; null for
   * anything else. Constant-time comparison of the check.
   */
  parse(token: string): ParsedRefreshToken | null {
    if (token.length !== REFRESH_TOKEN_LENGTH || !BASE64URL.test(token)) return null;
    const bytes = Buffer.from(token, 'base64url');
    if (bytes.length !== TOKEN_BYTES || bytes.toString('base64url') !== token) return null;
    const body = bytes.subarray(0, HEADER_BYTES + TAG_BYTES);
    const check = bytes.subarray(HEADER_BYTES + TAG_BYTES);
    let secretIndex = -1;
    // Every secret is tried, so the time taken does not say which one matched.
    for (let i = 0; i < this.secrets.length; i += 1) {
      if (timingSafeEqual(this.check(i, body), check) && secretIndex < 0) secretIndex = i;
    }
    if (secretIndex < 0) return null;
    const header = bytes.subarray(0, HEADER_BYTES);
    if (header.readUInt8(0) !== REFRESH_TOKEN_VERSION) return null;
    const sessionId = sessionIdOf(header);
    const generation = header.readUInt32BE(17);
    if (generation > MAX_GENERATION) return null;
    return {
      sessionId,
      generation,
      secretIndex,
      header: Buffer.from(header),
      tag: Buffer.from(bytes.subarray(HEADER_BYTES, HEADER_BYTES + TAG_BYTES)),
    };
  }

  /** Does the parsed token's tag verify under this session's salt? Constant time. */
  verifyTag(parsed: ParsedRefreshToken, salt: Uint8Array): boolean {
    return timingSafeEqual(this.tag(parsed.secretIndex, salt, parsed.header), parsed.tag);
  }

  /**
   * The salt this session's last token from this process was minted under, if still remembered:
   * what the session row held then, which may have changed since (a hint, see the file's head).
   */
  knownSalt(sessionId: string): Uint8Array | undefined {
    return this.salts.get(sessionId);
  }

  /** Forgets every known salt: each session's next rotation here reads its row first. */
  forgetSalts(): void {
    this.salts.clear();
  }

  private tag(secretIndex: number, salt: Uint8Array, header: Buffer): Buffer {
    const saltBytes = Buffer.from(salt);
    const cacheKey = `${secretIndex}:${saltBytes.toString('base64')}`;
    let key = this.sessionKeys.get(cacheKey);
    if (!key) {
      key = hkdf(this.secrets[secretIndex], saltBytes, 'refresh-token session key v1');
      this.sessionKeys.set(cacheKey, key);
    }
    return createHmac('sha256', key).update(header).digest().subarray(0, TAG_BYTES);
  }

  private check(secretIndex: number, body: Buffer): Buffer {
    return createHmac('sha256', this.checkKeys[secretIndex]).update(body).digest().subarray(0, CHECK_BYTES);
  }
}

/**
 * The session id and generation a token claims, WITHOUT verifying anything: for tests and
 * diagnostics only, never to decide access. Null when it is not of this format's shape.
 */
export function unverifiedFields(token: string): { version: number; sessionId: string; generation: number } | null {
  if (token.length !== REFRESH_TOKEN_LENGTH || !BASE64URL.test(token)) return null;
  const bytes = Buffer.from(token, 'base64url');
  return {
    version: bytes.readUInt8(0),
    sessionId: sessionIdOf(bytes),
    generation: bytes.readUInt32BE(17),
  };
}

/** The session id a token's header carries (bytes 1..16), as the UUID the Session row uses. */
function sessionIdOf(header: Buffer): string {
  const hex = header.subarray(1, 17).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function hkdf(secret: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, salt, Buffer.from(info, 'utf8'), 32));
}
