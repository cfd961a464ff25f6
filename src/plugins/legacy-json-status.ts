import type { ApolloServerPlugin, GraphQLRequestContextWillSendResponse } from '@apollo/server';

/**
 * GraphQL over HTTP, application/json: "The server SHOULD use the 200 status code for every
 * response to a well-formed GraphQL-over-HTTP request, independent of any GraphQL request error"
 * — a legacy client may not read the body of a 4xx. Apollo Server answers 400 to a document that
 * does not parse or validate, or to variables that do not coerce, whatever the client accepts.
 *
 * This plugin turns exactly those three request errors into 200 when the client asked for
 * application/json and not application/graphql-response+json (or sent no Accept at all, which
 * the spec reads as application/json). Everything else keeps its status:
 * - clients that accept application/graphql-response+json (Apollo Client 4, urql) get 400, as
 *   that media type requires;
 * - `Accept: *\/*` (curl, fetch's default) keeps 400, so the status still says what went wrong;
 * - HTTP-level failures (malformed JSON, a missing query, CSRF refusals, mutations over GET,
 *   a body that is too large) never reach a plugin and keep their 4xx.
 */
export function legacyJsonStatusPlugin<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response }: GraphQLRequestContextWillSendResponse<TContext>) {
          if (response.http.status !== 400 || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          if (result.data !== undefined || !result.errors?.length) return;
          if (!result.errors.every((error) => DOCUMENT_ERROR_CODES.has(String(error.extensions?.code)))) return;
          if (!acceptsOnlyLegacyJson(request.http?.headers.get('accept'))) return;
          response.http.status = 200;
        },
      };
    },
  };
}

/** Parse failures, validation failures and variable coercion failures (Apollo's codes). */
const DOCUMENT_ERROR_CODES: ReadonlySet<string> = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT']);

/** True when Accept is absent, or names application/json but not application/graphql-response+json. */
export function acceptsOnlyLegacyJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  const types = accept
    .split(',')
    .map((part) => part.split(';'))
    .filter(([, ...params]) => !params.some((param) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(param)))
    .map(([type]) => type.trim().toLowerCase());
  return types.includes('application/json') && !types.includes('application/graphql-response+json');
}
