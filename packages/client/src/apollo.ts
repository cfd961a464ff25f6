/**
 * Apollo Client 4: a link that puts Warden's access token on every operation and, when Warden
 * answers ACCESS_TOKEN_EXPIRED, waits for the one refresh in flight and retries the operation
 * once. Place it before the terminating HTTP link:
 *
 *   const auth = createWardenAuth({ url, onSignedOut });
 *   const link = ApolloLink.from([createWardenApolloLink({ auth }), new HttpLink({ uri: url })]);
 */
import { ApolloLink } from '@apollo/client';
// graphql is a peer of @apollo/client, so it is installed wherever this link is.
import { OperationTypeNode } from 'graphql';
import { catchError, defer, from, map, mergeMap, of, throwError, type Observable } from 'rxjs';
import { ErrorCode } from './generated/schema-types';
import { firstErrorCode, isSignOutCode, WardenAuthError } from './errors';
import { WardenAuth, type WardenAuthOptions } from './warden-auth';

export type WardenApolloLinkOptions = WardenAuthOptions | { auth: WardenAuth };

export interface WardenApolloLink extends ApolloLink {
  /** The tokens and refresh behind this link: call `auth.signIn(payload)` after `login`. */
  readonly auth: WardenAuth;
}

export function createWardenApolloLink(options: WardenApolloLinkOptions): WardenApolloLink {
  const auth = 'auth' in options ? options.auth : new WardenAuth(options);

  const link = new ApolloLink((operation, forward) => {
    const send = (accessToken: string | null): Observable<ApolloLink.Result> => {
      operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({
        headers: { ...withoutAuthHeaders(headers), ...auth.headersFor(accessToken) },
      }));
      return forward(operation);
    };

    const afterResult = (result: ApolloLink.Result, sent: string | null, retried: boolean): Observable<ApolloLink.Result> => {
      const errors = 'errors' in result ? result.errors : undefined;
      const code = firstErrorCode(errors);
      if (code === ErrorCode.ACCESS_TOKEN_EXPIRED && !retried) {
        return from(auth.recover([sent])).pipe(
          mergeMap((fresh) => send(fresh).pipe(mergeMap((retry) => afterResult(retry, fresh, true)))),
          // A refused refresh fails this operation with the refresh's own errors
          // (REFRESH_TOKEN_REUSED …), so the error object says why the session ended.
          catchError((error: unknown) =>
            error instanceof WardenAuthError
              ? of({ ...result, errors: error.graphQLErrors } as ApolloLink.Result)
              : throwError(() => error),
          ),
        );
      }
      if (isSignOutCode(code)) {
        return from(auth.signOut({ code, error: errors?.[0] }, sent)).pipe(map(() => result));
      }
      if (code === ErrorCode.MFA_REQUIRED) {
        auth.mfaRequired({
          reason: 'MFA_REQUIRED',
          operationName: operation.operationName || undefined,
          error: errors?.find((e) => firstErrorCode([e]) === code),
        });
      }
      if (operation.operationType === OperationTypeNode.MUTATION && 'data' in result && result.data) {
        return from(auth.capture(result.data)).pipe(map(() => result));
      }
      return of(result);
    };

    return defer(() =>
      from(auth.ready()).pipe(
        mergeMap(() => {
          const sent = auth.accessToken;
          return send(sent).pipe(mergeMap((result) => afterResult(result, sent, false)));
        }),
      ),
    );
  });

  return Object.assign(link, { auth });
}

function withoutAuthHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const rest: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower !== 'authorization' && lower !== 'apollo-require-preflight') rest[name] = value;
  }
  return rest;
}
