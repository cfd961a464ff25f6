/**
 * GraphQL over HTTP conformance: the `graphql-http` package's server audits, run against a real
 * Warden. Every audit passes for a client that sends a preflight-forcing header (as Apollo Client
 * and urql do through Warden's client module); without one, CSRF prevention refuses the three
 * optional (MAY) GET audits and nothing else.
 */
import { serverAudits, type AuditFail, type AuditResult } from 'graphql-http';
import { acceptsOnlyLegacyJson } from '../../src/plugins/legacy-json-status';
import { startTestServer, type TestServer } from '../kit';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const failures = (results: AuditResult[]) =>
  results
    .filter((result) => result.status !== 'ok')
    .map((result) => `${result.id} ${result.name}: ${'reason' in result ? result.reason : ''}`);

const runAudits = async (fetchFn: typeof fetch) =>
  Promise.all(serverAudits({ url: () => server.graphqlUrl, fetchFn }).map((audit) => audit.fn()));

const withPreflightHeader: typeof fetch = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('apollo-require-preflight', 'true');
  return fetch(input, { ...init, headers });
};

describe('graphql-http server audits', () => {
  it('passes every audit (MUST, SHOULD and MAY) for a client that sends Apollo-Require-Preflight', async () => {
    const results = await runAudits(withPreflightHeader);
    expect(results.length).toBeGreaterThan(50);
    expect(failures(results)).toEqual([]);
  });

  it('passes every MUST and SHOULD audit with plain fetch; CSRF prevention refuses only the three MAY GETs', async () => {
    const results = await runAudits(fetch);
    const failed = results.filter((result): result is AuditFail => result.status !== 'ok');
    expect(failed.map((result) => result.id).sort()).toEqual(['5A70', '6A70', 'D6D5']);
    for (const result of failed) {
      expect(result.name).toMatch(/^MAY .*GET/);
      expect(result.response.status).toBe(400);
      expect(await result.response.text()).toMatch(/CSRF/);
    }
  });
});

describe('status codes for GraphQL request errors', () => {
  const postQuery = (query: string, accept?: string, variables?: Record<string, unknown>) =>
    fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) },
      body: JSON.stringify({ query, variables }),
    });

  it.each([
    ['a parse failure', '{', undefined],
    ['a validation failure', '{ noSuchField }', undefined],
    ['a variable coercion failure', 'query Q($id: ID!) { __typename }', { id: null }],
  ])('answers %s with 200 to Accept: application/json, 400 to graphql-response+json and */*', async (_what, query, variables) => {
    const legacy = await postQuery(query, 'application/json', variables);
    expect(legacy.status).toBe(200);
    expect(legacy.headers.get('content-type')).toContain('application/json');
    expect(((await legacy.json()) as { errors: unknown[] }).errors).toHaveLength(1);

    const modern = await postQuery(query, 'application/graphql-response+json, application/json;q=0.9', variables);
    expect(modern.status).toBe(400);
    expect(modern.headers.get('content-type')).toContain('application/graphql-response+json');

    const anything = await postQuery(query, '*/*', variables);
    expect(anything.status).toBe(400);
  });

  it('keeps 400 for malformed JSON and 405 for a mutation over GET, whatever the client accepts', async () => {
    const malformed = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{ "query": ',
    });
    expect(malformed.status).toBe(400);
    const url = `${server.graphqlUrl}?query=${encodeURIComponent('mutation { logout }')}`;
    const overGet = await fetch(url, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
    expect(overGet.status).toBe(405);
  });

  it('keeps the 200 of a resolver error such as UNAUTHENTICATED (data is present, null)', async () => {
    const response = await postQuery('{ me { id } }', 'application/graphql-response+json');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: unknown; errors: Array<{ extensions: { code: string } }> };
    expect(body.data).toBeNull();
    expect(body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it.each([
    [undefined, true],
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['text/html, application/json;q=0.8', true],
    ['application/graphql-response+json', false],
    ['application/graphql-response+json, application/json;q=0.9', false],
    ['application/graphql-response+json;q=0, application/json', true],
    ['*/*', false],
    ['application/json;q=0', false],
  ])('reads Accept %p as a legacy application/json client: %p', (accept, legacy) => {
    expect(acceptsOnlyLegacyJson(accept)).toBe(legacy);
  });
});
