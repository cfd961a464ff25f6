import { ValidateBy, isEmail, type ValidationOptions } from 'class-validator';
import { passwordProblem } from '../lib/password';
import { normalizeEmail } from '../lib/tokens';

export const MAX_EMAIL_LENGTH = 254;

/** Why an email (after trim, NFKC and lower-casing) is not acceptable, or null. */
export function emailProblem(raw: string): string | null {
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
