import { ValidateBy, isEmail, type ValidationOptions } from 'class-validator';
import { passwordProblem } from '../lib/password';
import { normalizeEmail } from '../lib/tokens';

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

/** An email address, judged in its normalised form, at most 254 characters. */
export const IsAccountEmail = (options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'isAccountEmail',
      validator: {
        validate: (value) => typeof value === 'string' && emailProblem(value) === null,
        defaultMessage: (args) => (typeof args?.value === 'string' ? emailProblem(args.value) : null) ?? 'must be an email address',
      },
    },
    options,
  );

/** 8 to 72 bytes of UTF-8: bcrypt reads no more, and nothing is silently truncated. */
export const IsPassword = (options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'isPassword',
      validator: {
        validate: (value) => typeof value === 'string' && passwordProblem(value) === null,
        defaultMessage: (args) => (typeof args?.value === 'string' ? passwordProblem(args.value) : null) ?? 'must be a string',
      },
    },
    options,
  );

/**
 * Text PostgreSQL cannot store as it is. A `text` value cannot hold U+0000, and UTF-8 has no
 * encoding for a lone UTF-16 surrogate (drivers would quietly store U+FFFD instead, so what is read
 * back would differ from what was accepted). Every other code point, noncharacters and controls
 * included, is stored and returned unchanged.
 */
const UNSTORABLE_TEXT = /[\u0000\p{Cs}]/u;

/** Why this text cannot be stored as it is, or null when it can. */
export function textProblem(text: string): string | null {
  const match = UNSTORABLE_TEXT.exec(text);
  if (!match) return null;
  return match[0] === '\u0000' ? 'must not contain NUL characters' : 'must be well-formed Unicode (no lone surrogates)';
}

const CREDENTIAL_INPUTS = new WeakSet<object>();

/**
 * Marks an input class whose unacceptable text is answered INVALID_CREDENTIALS instead of
 * BAD_USER_INPUT with field names, so the answer never says which part was wrong (`login`).
 */
export function CredentialsInput(): ClassDecorator {
  return (target) => {
    CREDENTIAL_INPUTS.add(target);
  };
}

export const isCredentialsInput = (value: object): boolean => CREDENTIAL_INPUTS.has(value.constructor);
