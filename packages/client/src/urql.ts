/**
 * urql: Warden's token handling on top of `@urql/exchange-auth`. Put it before `fetchExchange`:
 *
 *   const auth = createWardenAuth({ url, onSignedOut });
 *   const client = new Client({ url, exchanges: [cacheExchange, wardenAuthExchange({ auth }), fetchExchange] });
 *
 * authExchange queues every operation while a refresh runs and retries each failed one once
 * (`authAttempt`); WardenAuth makes the refresh itself single-flight and skips it when the
 * failed operations carried a token that has already been replaced.
 */
import {
  CombinedError,
  composeExchanges,
  getOperationName,
  makeOperation,
  mapExchange,
  type Exchange,
  type Operation,
  type OperationResult,
} from '@urql/core';
import { authExchange } from '@urql/exchange-auth';
import { ErrorCode } from './generated/schema-types';
import { firstErrorCode, isSignOutCode, WardenAuthError, type WardenGraphQLError } from './errors';
import { WardenAuth, type WardenAuthOptions } from './warden-auth';

export type WardenAuthExchangeOptions = WardenAuthOptions | { auth: WardenAuth };

export interface WardenAuthExchange extends Exchange {
  /** The tokens and refresh behind this exchange: call `auth.signIn(payload)` after `login`. */
  readonly auth: WardenAuth;
}

export function wardenAuthExchange(options: WardenAuthExchangeOptions): WardenAuthExchange {
  const auth = 'auth' in options ? options.auth : new WardenAuth(options);
  // Tokens carried by operations that answered ACCESS_TOKEN_EXPIRED since the last refreshAuth.
  const expiredTokens: Array<string | null> = [];

  const inner = authExchange(async () => {
    await auth.ready();
    return {
      addAuthToOperation: (operation) => withHeaders(operation, auth.headersFor(auth.accessToken)),
      didAuthError: (error, operation) => {
        // Called for retried operations too, which authExchange will not retry again.
        if (operation.context.authAttempt) return false;
        if (firstErrorCode(error.graphQLErrors as readonly WardenGraphQLError[]) !== ErrorCode.ACCESS_TOKEN_EXPIRED) return false;
        expiredTokens.push(sentAccessToken(operation));
        return true;
      },
      refreshAuth: async () => {
        await auth.recover(expiredTokens.splice(0));
      },
    };
  });

  // Results of the auth exchange pass through this one on their way back to the client.
  const outcomes = mapExchange({
    onResult(result: OperationResult): OperationResult | Promise<OperationResult> {
      const failure = result.error?.networkError;
      if (failure instanceof WardenAuthError) {
        // The refresh was refused: hand its GraphQL errors (REFRESH_TOKEN_REUSED …) to the
        // operation, as Warden would have, rather than a network error.
        return {
          ...result,
          error: new CombinedError({ graphQLErrors: [...failure.graphQLErrors] as never[], response: result.error?.response }),
        };
      }
      const errors = result.error?.graphQLErrors as readonly WardenGraphQLError[] | undefined;
      const code = firstErrorCode(errors);
      if (isSignOutCode(code)) {
        return auth.signOut({ code, error: errors?.[0] }, sentAccessToken(result.operation)).then(() => result);
      }
      if (code === ErrorCode.MFA_REQUIRED) {
        const operationName = getOperationName(result.operation.query) ?? undefined;
        auth.mfaRequired({ reason: 'MFA_REQUIRED', operationName, error: errors?.find((e) => e.extensions?.code === code) });
      }
      if (result.operation.kind === 'mutation' && result.data) {
        return auth.capture(result.data).then(() => result);
      }
      return result;
    },
  });

  const exchange = composeExchanges([outcomes, inner]);
  return Object.assign(exchange, { auth });
}

function fetchHeaders(operation: Operation): Record<string, string> {
  const fetchOptions =
    typeof operation.context.fetchOptions === 'function' ? operation.context.fetchOptions() : operation.context.fetchOptions;
  const headers = fetchOptions?.headers;
  if (!headers) return {};
  if (headers instanceof Headers) return Object.fromEntries(headers.entries());
  if (Array.isArray(headers)) return Object.fromEntries(headers);
  return { ...(headers as Record<string, string>) };
}

function withHeaders(operation: Operation, headers: Record<string, string>): Operation {
  const fetchOptions =
    typeof operation.context.fetchOptions === 'function' ? operation.context.fetchOptions() : (operation.context.fetchOptions ?? {});
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(fetchHeaders(operation))) {
    const lower = name.toLowerCase();
    if (lower !== 'authorization' && lower !== 'apollo-require-preflight') kept[name] = value;
  }
  return makeOperation(operation.kind, operation, {
    ...operation.context,
    fetchOptions: { ...fetchOptions, headers: { ...kept, ...headers } },
  });
}

function sentAccessToken(operation: Operation): string | null {
  const header = Object.entries(fetchHeaders(operation)).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : null;
}
