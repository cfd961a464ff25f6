import { validate as classValidate } from 'class-validator';
import type { ValidatorFn } from 'type-graphql';
import { AppError, ValidationError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';
import { isCredentialsInput, textProblem } from './validators';

/**
 * Runs before every resolver, once for each of its arguments (type-graphql's global validateFn),
 * so no argument of any field, root or nested, reaches a service unchecked:
 * - every string in the argument, however deeply nested, must be text PostgreSQL can store as it
 *   is (no NUL, no lone surrogate), whatever the field; nothing is ever silently replaced;
 * - input objects then get their class-validator rules (once their text can be stored).
 * Each bad field is reported by its own name (`extensions.fields.bio`) as BAD_USER_INPUT; an
 * input marked @CredentialsInput() answers INVALID_CREDENTIALS instead.
 */
export const validateArgs: ValidatorFn = async (value, _type, resolverData) => {
  if (value === null || value === undefined) return;
  const fields = unstorableText(value, argumentName(value, resolverData.args));
  const isObject = typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
  if (isObject && isCredentialsInput(value)) {
    if (Object.keys(fields).length > 0) throw new AppError(ErrorCode.INVALID_CREDENTIALS);
    return;
  }
  // Text that cannot be stored is reported alone: the field rules below come from libraries that
  // do not all expect it (validator's isEmail throws on a lone surrogate instead of answering).
  // Only instances of input classes carry rules: a JSONObject argument is a plain object, made
  // without a prototype from a literal, which class-validator cannot even look up (it throws).
  if (isObject && isInputInstance(value) && Object.keys(fields).length === 0) {
    const errors = await classValidate(value as object, { forbidUnknownValues: false, validationError: { target: false, value: false } });
    for (const error of errors) {
      const messages = Object.values(error.constraints ?? {});
      fields[error.property] = messages[0] ?? 'is not valid';
    }
  }
  if (Object.keys(fields).length > 0) throw new ValidationError(fields);
};

/** An instance of an input or args class (what class-validator has rules for), not a plain JSON object. */
function isInputInstance(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype !== null && prototype !== Object.prototype;
}

/** The name a scalar argument was given under (objects report their own fields' names). */
function argumentName(value: unknown, args: Record<string, unknown>): string {
  for (const [name, arg] of Object.entries(args)) if (arg === value) return name;
  return 'input';
}

/**
 * Every string anywhere in `value` (object keys too) that cannot be stored, by the name of the
 * field that holds it. Iterative, so no nesting depth (a JSON scalar has none) overflows the stack.
 */
function unstorableText(value: unknown, name: string): Record<string, string> {
  const found: Record<string, string> = {};
  const pending: Array<[unknown, string]> = [[value, name]];
  while (pending.length > 0) {
    const [item, field] = pending.pop()!;
    if (typeof item === 'string') {
      const problem = textProblem(item);
      if (problem) found[field] ??= problem;
    } else if (Array.isArray(item)) {
      for (const element of item) pending.push([element, field]);
    } else if (item !== null && typeof item === 'object' && !(item instanceof Date)) {
      for (const [key, child] of Object.entries(item)) {
        const problem = textProblem(key);
        if (problem) found[field] ??= problem;
        pending.push([child, key]);
      }
    }
  }
  return found;
}
