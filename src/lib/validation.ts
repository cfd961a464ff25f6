/**
 * What Warden accepts as an email address and as text it stores: plain functions that answer
 * why a value is refused, or null. The GraphQL inputs apply them through schema/validators.ts;
 * services call them directly.
 */
import { isEmail } from 'class-validator';
import { normalizeEmail } from './tokens';

export const MAX_EMAIL_LENGTH = 254;

/** Why an email (after trim, NFKC and lower-casing) is not acceptable, or null. */
export function emailProblem(raw: string): string | null {
  // validator's isEmail throws (encodeURI) on a lone surrogate instead of answering false.
  const unstorable = textProblem(raw);
  if (unstorable) return unstorable;
  const email = normalizeEmail(raw);
  if (email.length > MAX_EMAIL_LENGTH) return `must be at most ${MAX_EMAIL_LENGTH} characters`;
  if (!isEmail(email, { allow_utf8_local_part: true, require_tld: false })) return 'must be an email address';
  return null;
}

/**
 * Text PostgreSQL cannot store as it is. A `text` value cannot hold U+0000, and UTF-8 has no
 * encoding for a lone UTF-16 surrogate (drivers would quietly store U+FFFD instead, so what is read
 * back would differ from what was accepted). Every other code point, noncharacters and controls
 * included, is stored and returned unchanged.
 */
// eslint-disable-next-line no-control-regex -- NUL is exactly what this rejects (PostgreSQL text cannot hold it)
const UNSTORABLE_TEXT = /[\u0000\p{Cs}]/u;

/** Why this text cannot be stored as it is, or null when it can. */
export function textProblem(text: string): string | null {
  const match = UNSTORABLE_TEXT.exec(text);
  if (!match) return null;
  return match[0] === '\u0000' ? 'must not contain NUL characters' : 'must be well-formed Unicode (no lone surrogates)';
}
