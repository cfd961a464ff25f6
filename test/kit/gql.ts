/**
 * GraphQL over HTTP for tests, typed by the generated documents: `server.gql(MeDocument)` answers
 * a `GqlResponse<MeQuery>` and checks the variables' type; a plain string (for the malformed and
 * hostile operations the attack tests send) answers loosely typed data.
 */
import { print, type DocumentNode } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

export type { TypedDocumentNode };

export interface GqlResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: { data?: T | null; errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }> };
}

export interface GqlOptions {
  token?: string;
  headers?: Record<string, string>;
}

/** What `gql` takes: a generated document, or the operation's text. */
export interface Gql {
  <TData, TVariables extends Record<string, unknown> = Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
    options?: GqlOptions,
  ): Promise<GqlResponse<TData>>;
  <TData = Record<string, any>>(query: string, variables?: Record<string, unknown>, options?: GqlOptions): Promise<GqlResponse<TData>>;
  /** Either, when the caller takes both (loosely typed). */
  <TData = Record<string, any>>(
    query: string | DocumentNode,
    variables?: Record<string, unknown>,
    options?: GqlOptions,
  ): Promise<GqlResponse<TData>>;
}

const printed = new WeakMap<DocumentNode, string>();

/** The operation's text: a string as it is, a document printed once. */
export function operationText(query: string | DocumentNode): string {
  if (typeof query === 'string') return query;
  let text = printed.get(query);
  if (text === undefined) {
    text = print(query);
    printed.set(query, text);
  }
  return text;
}

/** POSTs one operation to `graphqlUrl`; fails on a body that is not JSON (a 5xx page, say). */
export async function postGql(
  graphqlUrl: string,
  query: string | DocumentNode,
  variables?: Record<string, unknown>,
  options: GqlOptions = {},
): Promise<GqlResponse<any>> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query: operationText(query), variables }),
  });
  const text = await response.text();
  let body: GqlResponse['body'];
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`non-JSON response ${response.status}: ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** A `gql` bound to one GraphQL endpoint. */
export function gqlAt(graphqlUrl: string): Gql {
  return ((query: string | DocumentNode, variables?: Record<string, unknown>, options?: GqlOptions) =>
    postGql(graphqlUrl, query, variables, options)) as Gql;
}
