/**
 * The compiled executor (graphql-jit behind Apollo's executor hook) answers exactly as
 * graphql-js does: the same data and the same errors (message, path, locations) for values,
 * nulls that propagate, resolver errors, aliases, fragments, directives, abstract types and
 * variables; graphql-js itself runs mutations (serially, stopping at the first non-null failure)
 * and operations whose variables do not coerce (its own BAD_USER_INPUT errors).
 */
import { makeExecutableSchema } from '@graphql-tools/schema';
import { execute, Kind, parse, type DocumentNode, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import { createCompiledExecutor } from '../../src/schema/compiled-executor';

const typeDefs = /* GraphQL */ `
  interface Node {
    id: ID!
  }
  type User implements Node {
    id: ID!
    name: String!
    friends(first: Int = 2): [User!]!
    secret: String!
    maybe: String
  }
  type Bot implements Node {
    id: ID!
    model: String
  }
  type Query {
    user(id: ID!): User
    nodes: [Node!]!
    list(first: Int!): [Int!]!
    failing: String
    failingNonNull: User
  }
  type Mutation {
    guess(n: Int!): Boolean!
  }
`;

const guesses: number[] = [];
const schema = makeExecutableSchema({
  typeDefs,
  resolvers: {
    Node: { __resolveType: (node: { model?: string }) => (node.model !== undefined ? 'Bot' : 'User') },
    User: {
      friends: (user: { id: string }, { first }: { first: number }) =>
        Array.from({ length: first }, (_, i) => ({ id: `${user.id}.${i}`, name: `friend ${i}` })),
      secret: (user: { id: string }) => {
        if (user.id.endsWith('.1')) throw new Error(`no secret for ${user.id}`);
        return 's';
      },
      maybe: async () => null,
    },
    Query: {
      user: async (_: unknown, { id }: { id: string }) => ({ id, name: `user ${id}` }),
      nodes: () => [
        { id: 'u', name: 'n' },
        { id: 'b', model: 'm1' },
      ],
      list: (_: unknown, { first }: { first: number }) => Array.from({ length: first }, (_, i) => i),
      failing: () => Promise.reject(new Error('boom')),
      failingNonNull: () => ({ id: 'x.1', name: 'x' }),
    },
    Mutation: {
      guess: (_: unknown, { n }: { n: number }) => {
        guesses.push(n);
        if (n % 2 === 1) throw new Error(`wrong guess ${n}`);
        return true;
      },
    },
  },
});

const executor = createCompiledExecutor(schema);

/** What Apollo hands the executor, reduced to what it reads. */
async function viaExecutor(
  document: DocumentNode,
  variables: Record<string, unknown> = {},
  operationName?: string,
): Promise<ExecutionResult> {
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode =>
      d.kind === Kind.OPERATION_DEFINITION && (operationName === undefined || d.name?.value === operationName),
  );
  const requestContext = { document, operation, operationName: operationName ?? null, request: { variables, operationName }, context: {} };
  return (await executor(requestContext as never)) as ExecutionResult;
}

const plain = (result: ExecutionResult) =>
  JSON.parse(
    JSON.stringify({
      data: result.data,
      errors: result.errors?.map((e) => ({ message: e.message, path: e.path, locations: e.locations })),
    }),
  );

describe('the compiled executor', () => {
  const queries: Array<[string, string, Record<string, unknown>?]> = [
    ['values, aliases and arguments', '{ a: user(id: "1") { id name } b: user(id: "2") { name friends(first: 3) { id name } } }'],
    ['a resolver error in a list item nulls the item up to the nullable field', '{ user(id: "1") { friends { id secret } } }'],
    ['a rejected promise on a nullable field', '{ failing user(id: "3") { maybe } }'],
    ['a non-null error propagates to the nearest nullable parent', '{ failingNonNull { id secret } }'],
    [
      'fragments, @skip and @include',
      'query($s: Boolean!) { user(id: "1") { ...F name @skip(if: $s) } } fragment F on User { id friends @include(if: $s) { id } }',
      { s: true },
    ],
    ['abstract types and __typename', '{ nodes { __typename id ... on User { name } ... on Bot { model } } }'],
    ['variables and defaults', 'query($n: Int!, $id: ID!) { list(first: $n) user(id: $id) { friends { id } } }', { n: 4, id: 'v' }],
    ['one of several named operations', 'query A { list(first: 1) } query B { user(id: "b") { id } }', undefined],
  ];

  it.each(queries)('answers %s exactly as graphql-js does, compiled', async (_name, query, variables = {}) => {
    const document = parse(query);
    const operationName = query.startsWith('query A') ? 'B' : undefined;
    const compiledBefore = executor.stats.compiled;
    const compiled = await viaExecutor(document, variables, operationName);
    expect(executor.stats.compiled).toBe(compiledBefore + 1);
    const interpreted = await execute({ schema, document, variableValues: variables, operationName, contextValue: {} });
    expect(plain(compiled)).toEqual(plain(interpreted));
  });

  it('keeps the original error of a resolver, so error formatting can tell what it was', async () => {
    const result = await viaExecutor(parse('{ failing }'));
    expect(result.errors?.[0].originalError?.message).toBe('boom');
  });

  it('runs an operation whose variables do not coerce through graphql-js, with its errors word for word', async () => {
    const document = parse('query($n: Int!) { list(first: $n) }');
    const interpretedBefore = executor.stats.interpreted;
    const result = await viaExecutor(document, { n: 'many' });
    expect(executor.stats.interpreted).toBe(interpretedBefore + 1);
    expect(plain(result)).toEqual(plain(await execute({ schema, document, variableValues: { n: 'many' } })));
    expect(result.errors?.[0].message).toMatch(/^Variable "\$n" got invalid value "many"/);
  });

  it('runs mutations through graphql-js: root fields one after another, none after the first that fails', async () => {
    guesses.length = 0;
    const result = await viaExecutor(parse('mutation { a: guess(n: 2) b: guess(n: 3) c: guess(n: 5) d: guess(n: 4) }'));
    expect(guesses).toEqual([2, 3]);
    expect(result.data).toBeNull();
    expect(result.errors?.map((e) => e.message)).toEqual(['wrong guess 3']);
  });

  it('compiles an operation once per document', async () => {
    const document = parse('{ list(first: 2) }');
    const compilations = executor.stats.compilations;
    const compiled = executor.stats.compiled;
    for (let i = 0; i < 3; i++) expect((await viaExecutor(document)).data).toEqual({ list: [0, 1] });
    expect(executor.stats.compiled).toBe(compiled + 3);
    expect(executor.stats.compilations).toBe(compilations + 1);
  });
});
