import { ErrorCode } from './generated/schema-types';

/** A GraphQL error as it arrives over HTTP (the shape every client library keeps). */
export interface WardenGraphQLError {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: unknown; [key: string]: unknown };
}

/**
 * The codes after which the client signs out: no refresh can help. A refresh that answers one of
 * them, or an operation that does (SESSION_REVOKED, UNAUTHENTICATED), ends in `onSignedOut`.
 */
export const SIGN_OUT_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.REFRESH_TOKEN_EXPIRED,
  ErrorCode.REFRESH_TOKEN_REUSED,
  ErrorCode.REFRESH_TOKEN_INVALID,
  ErrorCode.SESSION_REVOKED,
  ErrorCode.UNAUTHENTICATED,
]);

export type SignOutCode =
  | ErrorCode.REFRESH_TOKEN_EXPIRED
  | ErrorCode.REFRESH_TOKEN_REUSED
  | ErrorCode.REFRESH_TOKEN_INVALID
  | ErrorCode.SESSION_REVOKED
  | ErrorCode.UNAUTHENTICATED;

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export const isErrorCode = (value: unknown): value is ErrorCode => typeof value === 'string' && KNOWN_CODES.has(value);

export const isSignOutCode = (value: unknown): value is SignOutCode => isErrorCode(value) && SIGN_OUT_CODES.has(value);

/**
 * A refresh that did not produce tokens. `code` is Warden's code (`REFRESH_TOKEN_REUSED` …), and
 * `graphQLErrors` the errors the server sent, so adapters can hand them to the operation that
 * was waiting. When `signedOut` is true the token store is already cleared and `onSignedOut`
 * has run.
 */
export class WardenAuthError extends Error {
  override readonly name = 'WardenAuthError';

  constructor(
    readonly code: ErrorCode,
    readonly graphQLErrors: readonly WardenGraphQLError[],
    readonly signedOut: boolean,
  ) {
    super(graphQLErrors[0]?.message ?? code);
  }
}

/** The first Warden code in a list of GraphQL errors. */
export function firstErrorCode(errors: readonly WardenGraphQLError[] | undefined | null): ErrorCode | undefined {
  for (const error of errors ?? []) {
    const code = error?.extensions?.code;
    if (isErrorCode(code)) return code;
  }
  return undefined;
}

/**
 * Warden's code in whatever error object a client hands you: Apollo Client's
 * `CombinedGraphQLErrors` (`errors`), urql's `CombinedError` (`graphQLErrors`, or a
 * `WardenAuthError` as its `networkError`), a `WardenAuthError`, or a plain list of errors.
 */
export function errorCodeOf(error: unknown): ErrorCode | undefined {
  if (!error || typeof error !== 'object') return undefined;
  if (Array.isArray(error)) return firstErrorCode(error as WardenGraphQLError[]);
  if (error instanceof WardenAuthError) return error.code;
  const candidate = error as { errors?: unknown; graphQLErrors?: unknown; networkError?: unknown; extensions?: { code?: unknown } };
  if (isErrorCode(candidate.extensions?.code)) return candidate.extensions.code;
  for (const list of [candidate.graphQLErrors, candidate.errors]) {
    if (Array.isArray(list)) {
      const code = firstErrorCode(list as WardenGraphQLError[]);
      if (code) return code;
    }
  }
  return candidate.networkError ? errorCodeOf(candidate.networkError) : undefined;
}
