import { validate as classValidate } from 'class-validator';
import type { ValidatorFn } from 'type-graphql';
import { ValidationError } from '../errors/app-error';

/**
 * Validates input objects with their class-validator rules and reports every bad field by its
 * own name (`extensions.fields.title`), as BAD_USER_INPUT.
 */
export const validateArgs: ValidatorFn = async (value) => {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return;
  const errors = await classValidate(value as object, { forbidUnknownValues: false, validationError: { target: false, value: false } });
  if (errors.length === 0) return;
  const fields: Record<string, string> = {};
  for (const error of errors) {
    const messages = Object.values(error.constraints ?? {});
    fields[error.property] = messages[0] ?? 'is not valid';
  }
  throw new ValidationError(fields);
};
