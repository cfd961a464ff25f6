import { GraphQLError } from 'graphql';
import { ErrorCode } from './error-code';

const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  [ErrorCode.UNAUTHENTICATED]: 'You must be signed in.',
  [ErrorCode.ACCESS_TOKEN_EXPIRED]: 'The access token has expired.',
  [ErrorCode.SESSION_REVOKED]: 'This session has ended.',
  [ErrorCode.REFRESH_TOKEN_EXPIRED]: 'The refresh token has expired.',
  [ErrorCode.REFRESH_TOKEN_REUSED]: 'The refresh token was already used; the session has ended.',
  [ErrorCode.REFRESH_TOKEN_INVALID]: 'The refresh token is missing or invalid.',
  [ErrorCode.FORBIDDEN]: 'You are not allowed to do this.',
  [ErrorCode.INVALID_CREDENTIALS]: 'Wrong email or password.',
  [ErrorCode.ACCOUNT_LOCKED]: 'Too many failed attempts; try again later.',
  [ErrorCode.RATE_LIMITED]: 'Too many requests; try again later.',
  [ErrorCode.INVALID_CODE]: 'The code is wrong or has expired.',
  [ErrorCode.EMAIL_TAKEN]: 'That email is already registered.',
  [ErrorCode.BAD_USER_INPUT]: 'Some input is not valid.',
  [ErrorCode.NOT_FOUND]: 'Not found.',
  [ErrorCode.OAUTH_FAILED]: 'Signing in with the provider failed; start again.',
  [ErrorCode.ACCOUNT_EXISTS]: 'An account with this email exists; sign in to it, then link the provider.',
  [ErrorCode.MFA_REQUIRED]: 'This needs a second factor: call verifyMfa.',
  [ErrorCode.INTERNAL_SERVER_ERROR]: 'Something went wrong; try again later.',
};

/** A failure the client is meant to see: a code from ErrorCode and a short generic message. */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message = DEFAULT_MESSAGES[code], extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
    this.code = code;
  }
}

/** Validation failures: `extensions.fields` maps each bad input field to a message. */
export class ValidationError extends AppError {
  constructor(readonly fields: Record<string, string>) {
    super(ErrorCode.BAD_USER_INPUT, DEFAULT_MESSAGES[ErrorCode.BAD_USER_INPUT], { fields });
  }
}

/** Waiting errors carry `extensions.retryAfter` in whole seconds. */
export class RetryLaterError extends AppError {
  constructor(code: ErrorCode.ACCOUNT_LOCKED | ErrorCode.RATE_LIMITED, retryAfterMs: number) {
    super(code, DEFAULT_MESSAGES[code], { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;
