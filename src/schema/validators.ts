/**
 * class-validator decorators for the GraphQL inputs. The rules themselves are plain functions in
 * lib/validation.ts, which the services use too (re-exported here).
 */
import { ValidateBy, type ValidationOptions } from 'class-validator';
import { passwordProblem } from '../lib/password';
import { emailProblem } from '../lib/validation';

export { MAX_EMAIL_LENGTH, emailProblem, textProblem } from '../lib/validation';

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
