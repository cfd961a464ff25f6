/**
 * The real Apollo Client and urql, wired with Warden's client module, against a Warden started
 * by the harness. A counting fetch sees every request they send (the refresh included), and a
 * small cookie jar stands in for the browser in cookie transport.
 */
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache } from '@apollo/client';
import { Client, CombinedError, cacheExchange, fetchExchange } from '@urql/core';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  createWardenAuth,
  ErrorCode,
  errorCodeOf,
  memoryTokenStore,
  type MfaRequiredEvent,
  type SignedOutEvent,
  type TokenStore,
  type WardenAuth,
} from '@warden/client';
import { createWardenApolloLink } from '@warden/client/apollo';
import { wardenAuthExchange } from '@warden/client/urql';
import type { ManualClock } from '../../src/lib/clock';
import { metric, type TestServer } from '../kit';

/** Access tokens live two seconds; no skew, so they are refused the second they expire. */
export const SHORT_TTL_ENV = { ACCESS_TOKEN_TTL: '2s', CLOCK_SKEW: '0' };

/**
 * Moves the server's clock until Warden refuses an access token that expires at `expiresAt`
 * (whole seconds): the expiry is real, no time is slept.
 */
export function expireAccessToken(clock: ManualClock, expiresAt: string): void {
  clock.advance(Math.max(0, Date.parse(expiresAt) - clock.now()) + 100);
}

export interface SeenRequest {
  operationName: string | null;
  /** extensions.code of the response's first error, if any */
  code: string | null;
}

export interface CountingFetch {
  fetch: typeof fetch;
  seen: SeenRequest[];
  count(operationName: string): number;
  refreshCalls(): number;
}

/**
 * Wraps fetch and records each GraphQL request's operation name (POST body or GET URL) and the
 * first error code of its response. With `jar`, it keeps cookies as a browser would.
 * `intercept` may answer a request itself (to simulate a server that keeps refusing).
 */
export function countingFetch(
  options: { jar?: CookieJar; intercept?: (operationName: string | null) => Response | undefined } = {},
): CountingFetch {
  const seen: SeenRequest[] = [];
  const wrapped: typeof fetch = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    let operationName = url.searchParams.get('operationName');
    if (!operationName && typeof init.body === 'string') {
      operationName = (JSON.parse(init.body) as { operationName?: string }).operationName ?? null;
    }
    const headers = new Headers(init.headers);
    if (options.jar) options.jar.apply(headers);
    const response = options.intercept?.(operationName) ?? (await fetch(url, { ...init, headers }));
    if (options.jar) options.jar.store(response);
    const text = await response.clone().text();
    let code: string | null;
    try {
      code = (JSON.parse(text) as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]?.extensions?.code ?? null;
    } catch {
      code = null;
    }
    seen.push({ operationName, code });
    return response;
  };
  const count = (name: string) => seen.filter((request) => request.operationName === name).length;
  return { fetch: wrapped, seen, count, refreshCalls: () => count('WardenRefreshToken') };
}

/** Just enough of a browser's cookie jar for one origin. */
export class CookieJar {
  readonly cookies = new Map<string, string>();
  apply(headers: Headers): void {
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
  }
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, value] = [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1).trim()];
      const expired =
        attributes.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) <= Date.now()) ||
        attributes.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

export interface RunResult<TData> {
  data: TData | null | undefined;
  error: unknown;
  /** Warden's code, read from the client's own error object (not through errorCodeOf) */
  code: ErrorCode | undefined;
}

export interface ClientDriver {
  name: 'apollo' | 'urql';
  auth: WardenAuth;
  signedOut: SignedOutEvent[];
  /** What onMfaRequired was called with. */
  mfaRequired: MfaRequiredEvent[];
  query<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
  ): Promise<RunResult<TData>>;
  mutate<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
  ): Promise<RunResult<TData>>;
}

export interface DriverOptions {
  server: TestServer;
  fetch: typeof fetch;
  tokenStore?: TokenStore;
}

/** Apollo Client 4: our link before HttpLink, errors as Apollo reports them (CombinedGraphQLErrors). */
export function apolloDriver(options: DriverOptions): ClientDriver {
  const signedOut: SignedOutEvent[] = [];
  const mfaRequired: MfaRequiredEvent[] = [];
  const auth = createWardenAuth({
    url: options.server.graphqlUrl,
    fetch: options.fetch,
    tokenStore: options.tokenStore ?? memoryTokenStore(),
    onSignedOut: (event) => signedOut.push(event),
    onMfaRequired: (event) => mfaRequired.push(event),
  });
  const client = new ApolloClient({
    link: ApolloLink.from([createWardenApolloLink({ auth }), new HttpLink({ uri: options.server.graphqlUrl, fetch: options.fetch })]),
    cache: new InMemoryCache(),
  });
  const read = <TData>(result: { data?: unknown; error?: unknown }): RunResult<TData> => {
    const error = result.error;
    let code: ErrorCode | undefined;
    if (CombinedGraphQLErrors.is(error)) code = error.errors[0]?.extensions?.code as ErrorCode | undefined;
    expect(errorCodeOf(error)).toBe(code);
    return { data: result.data as TData | null | undefined, error, code };
  };
  return {
    name: 'apollo',
    auth,
    signedOut,
    mfaRequired,
    query: async (query, variables) =>
      read(
        await client.query({
          query: query as unknown as TypedDocumentNode,
          variables: variables ?? {},
          fetchPolicy: 'network-only',
          errorPolicy: 'all',
        }),
      ),
    mutate: async (mutation, variables) =>
      read(await client.mutate({ mutation: mutation as unknown as TypedDocumentNode, variables: variables ?? {}, errorPolicy: 'all' })),
  };
}

/** urql: our exchange (over @urql/exchange-auth) before fetchExchange; queries go as GET. */
export function urqlDriver(options: DriverOptions): ClientDriver {
  const signedOut: SignedOutEvent[] = [];
  const mfaRequired: MfaRequiredEvent[] = [];
  const auth = createWardenAuth({
    url: options.server.graphqlUrl,
    fetch: options.fetch,
    tokenStore: options.tokenStore ?? memoryTokenStore(),
    onSignedOut: (event) => signedOut.push(event),
    onMfaRequired: (event) => mfaRequired.push(event),
  });
  const client = new Client({
    url: options.server.graphqlUrl,
    fetch: options.fetch,
    exchanges: [cacheExchange, wardenAuthExchange({ auth }), fetchExchange],
  });
  const read = <TData>(result: { data?: unknown; error?: CombinedError }): RunResult<TData> => {
    const error = result.error;
    let code: ErrorCode | undefined;
    if (error instanceof CombinedError) code = error.graphQLErrors[0]?.extensions?.code as ErrorCode | undefined;
    expect(errorCodeOf(error)).toBe(code);
    return { data: result.data as TData | null | undefined, error, code };
  };
  return {
    name: 'urql',
    auth,
    signedOut,
    mfaRequired,
    query: async <TData, TVariables extends Record<string, unknown>>(query: TypedDocumentNode<TData, TVariables>, variables?: TVariables) =>
      read<TData>(await client.query(query, (variables ?? {}) as TVariables, { requestPolicy: 'network-only' }).toPromise()),
    mutate: async <TData, TVariables extends Record<string, unknown>>(
      mutation: TypedDocumentNode<TData, TVariables>,
      variables?: TVariables,
    ) => read<TData>(await client.mutation(mutation, (variables ?? {}) as TVariables).toPromise()),
  };
}

export const DRIVERS = { apollo: apolloDriver, urql: urqlDriver } as const;

/** Warden's refresh counter, as /metrics shows it. */
export function refreshMetric(server: TestServer, result: 'ok' | 'grace' | 'reused' = 'ok'): Promise<number> {
  return metric(server, 'warden_refresh_total', { result });
}

/** A canned GraphQL response, as Warden sends it. */
export function graphqlResponse(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'content-type': 'application/graphql-response+json; charset=utf-8' },
  });
}
