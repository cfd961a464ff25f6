/**
 * Query cost that cannot be talked down (docs/api.md §6, issue "close the attack surface", point 1).
 *
 * - The estimate counts every list by its `first` — literal, variable or the variable's default —
 *   clamped to 1..100 as execution clamps it: the nested `$n = 100` query is refused before it
 *   runs, fast, with a message that names the cost; `first: 100000` is clamped and answered.
 * - The list-item cap at execution (MAX_LIST_ITEMS) is a second bound: an operation that
 *   resolves more list items is aborted whole, with one masked error, a log line and a metric.
 * - Ordinary queries and every operation of the typed client SDK keep passing.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Kind, OperationTypeNode, print, type DocumentNode, type OperationDefinitionNode, type TypeNode } from 'graphql';
import * as sdk from '@warden/client';
import { loadConfig } from '../../src/config';
import { QUERY_LIMITS } from '../../src/schema/query-limits';
import { timed, signupUser, startTestServer, type GqlResponse, type SignedUp, type TestServer, scrapeMetrics } from '../kit';

const firstCode = (response: GqlResponse) => response.body.errors?.[0]?.extensions?.code;

/** The attack: the author's posts, each with its author's posts, each with its author's posts' bodies. */
const NESTED_ATTACK = /* GraphQL */ `
  query Attack($n: Int = 100, $me: ID!) {
    posts(first: $n, authorId: $me) {
      edges {
        node {
          author {
            posts(first: $n) {
              edges {
                node {
                  author {
                    posts(first: $n) {
                      edges {
                        node {
                          body
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
`;

/** Published posts for `authorId`: `big` of them with 20 KB bodies, the rest small, one millisecond apart. */
async function seedPosts(server: TestServer, authorId: string, count: number, big: number) {
  const start = Date.now() - count * 1_000;
  await server.app.infra.database.prisma.post.createMany({
    data: Array.from({ length: count }, (_, i) => ({
      id: randomUUID(),
      authorId,
      title: `Post ${i}`,
      body: i < big ? 'x'.repeat(20_000) : `body ${i}`,
      published: true,
      createdAt: new Date(start + i),
      updatedAt: new Date(start + i),
    })),
  });
}

/** An unlabelled counter's value; it must be on the page (a misspelt name fails, not reads 0). */
async function counter(server: TestServer, name: string): Promise<number> {
  const sample = (await scrapeMetrics(server)).find((found) => found.name === name && Object.keys(found.labels).length === 0);
  if (!sample) throw new Error(`metric ${name} missing from /metrics`);
  return sample.value;
}

describe('the cost estimate', () => {
  let server: TestServer;
  let author: SignedUp;
  let reader: SignedUp;
  beforeAll(async () => {
    server = await startTestServer();
    author = await signupUser(server);
    reader = await signupUser(server);
    // 120 posts, so a clamped page (100) is visibly shorter than the list; 30 of them 20 KB.
    await seedPosts(server, author.user.id, 120, 30);
    const follow = await server.gql(
      'mutation($id: ID!) { follow(userId: $id) { id } }',
      { id: author.user.id },
      { token: reader.accessToken },
    );
    expect(follow.body.errors).toBeUndefined();
    // Warm up parsing, validation and the first query, so timings measure the limits.
    await server.gql('{ me { id } }', undefined, { token: author.accessToken });
  });
  afterAll(() => server.close());

  it.each([
    ['the variable left to its default (100)', {}],
    ['the variable passed as 100', { n: 100 }],
    ['the variable passed as 100000 (clamped to 100, still too costly)', { n: 100_000 }],
  ])('refuses the nested query with %s before it runs, naming the cost', async (_what, variables) => {
    const { ms, value } = await timed(() => server.gql(NESTED_ATTACK, { me: author.user.id, ...variables }, { token: author.accessToken }));
    expect(value.status).toBe(400);
    expect(firstCode(value)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(value.body.errors).toHaveLength(1);
    const message = value.body.errors![0].message;
    expect(message).toMatch(/^Query cost \d+ exceeds the limit of 5000/);
    expect(message).not.toMatch(/syntax error/i);
    // 100 × (1 + 100 × (1 + 100 × 4 + …)) — about three million, as written in the message.
    expect(Number(/cost (\d+)/.exec(message)![1])).toBeGreaterThan(3_000_000);
    expect(value.body.data).toBeUndefined();
    expect(ms).toBeLessThan(1_000);
  });

  it('refuses the same query with `first: 100` written literally', async () => {
    const literal = NESTED_ATTACK.replace('$n: Int = 100, ', '').replaceAll('first: $n', 'first: 100');
    expect(literal).not.toContain('$n');
    const response = await server.gql(literal, { me: author.user.id }, { token: author.accessToken });
    expect(response.status).toBe(400);
    expect(firstCode(response)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(response.body.errors?.[0]?.message).toMatch(/^Query cost \d+ exceeds the limit/);
  });

  it('counts a small `first` as small: the same nesting at 3 per level runs', async () => {
    const response = await server.gql(NESTED_ATTACK, { me: author.user.id, n: 3 }, { token: author.accessToken });
    expect(response.body.errors).toBeUndefined();
    const outer = response.body.data!.posts.edges;
    expect(outer).toHaveLength(3);
    expect(outer[0].node.author.posts.edges[0].node.author.posts.edges).toHaveLength(3);
  });

  it('remembers an estimate only for the same `first` and `@include` values: a cheap request of a query never lets a costly one of it through', async () => {
    // The cost of an operation is remembered per values of its Int and Boolean variables ($me,
    // an ID, is not one); an attacker who warms the query with cheap values must still be
    // refused with costly ones.
    const deep = NESTED_ATTACK.replace('$me: ID!)', '$me: ID!, $deep: Boolean!)').replace(
      'author {\n            posts(first: $n)',
      'author @include(if: $deep) {\n            posts(first: $n)',
    );
    expect(deep).toContain('@include(if: $deep)');
    const ask = (variables: Record<string, unknown>) =>
      server.gql(deep, { me: author.user.id, ...variables }, { token: author.accessToken });
    const answered = (response: GqlResponse) => ({ status: response.status, errors: response.body.errors?.map((e) => e.message) });
    const ok = { status: 200, errors: undefined };
    const refused = { status: 400, errors: [expect.stringMatching(/^Query cost \d+ exceeds the limit of 5000/)] };
    for (const round of [1, 2]) {
      expect({ round, ...answered(await ask({ n: 3, deep: true })) }).toEqual({ round, ...ok });
      expect({ round, ...answered(await ask({ n: 100, deep: true })) }).toEqual({ round, ...refused });
      // Left to its default (100): not the same as 3.
      expect({ round, ...answered(await ask({ deep: true })) }).toEqual({ round, ...refused });
      // The costly levels left out by @include: cheap again, though `first` is 100.
      expect({ round, ...answered(await ask({ n: 100, deep: false })) }).toEqual({ round, ...ok });
      expect({ round, ...answered(await ask({ n: 100, deep: true })) }).toEqual({ round, ...refused });
    }
  });

  it('counts the argument default (20) when `first` is left out', async () => {
    // 20 × 20 × 20 bodies: refused, where the old estimate (literal `first` only) let it run.
    const noFirst = '{ posts { edges { node { author { posts { edges { node { author { posts { edges { node { body } } } } } } } } } } } }';
    const response = await server.gql(noFirst, undefined, { token: author.accessToken });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.message).toMatch(/^Query cost \d+ exceeds the limit/);
  });

  it.each([
    ['literal', 'query { posts(first: 100000, authorId: "AUTHOR") { edges { node { id } } pageInfo { hasNextPage } } }', {}],
    [
      'variable',
      'query($n: Int) { posts(first: $n, authorId: "AUTHOR") { edges { node { id } } pageInfo { hasNextPage } } }',
      { n: 100_000 },
    ],
    [
      'variable default',
      'query($n: Int = 100000) { posts(first: $n, authorId: "AUTHOR") { edges { node { id } } pageInfo { hasNextPage } } }',
      {},
    ],
  ])('clamps a %s `first: 100000` to 100 and answers', async (_what, query, variables) => {
    const response = await server.gql(query.replace('AUTHOR', author.user.id), variables, { token: author.accessToken });
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.posts.edges).toHaveLength(100);
    expect(response.body.data!.posts.pageInfo.hasNextPage).toBe(true);
  });

  it('refuses a fragment expansion too large to estimate, without a stack or a 500', async () => {
    // Each level spreads the one below twelve times: 12^4 `id` fields from a short document.
    const levels = Array.from(
      { length: 4 },
      (_, i) => `fragment F${i} on User { ${Array.from({ length: 12 }, () => `...F${i + 1}`).join(' ')} }`,
    );
    const query = `{ me { ...F0 } } ${levels.join(' ')} fragment F4 on User { id }`;
    const response = await server.gql(query, undefined, { token: author.accessToken });
    expect(response.status).toBe(400);
    expect(firstCode(response)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(response.body.errors?.[0]?.message).toMatch(/^Query cost could not be estimated/);
  });

  it('leaves variables that do not coerce to the usual BAD_USER_INPUT', async () => {
    const response = await server.gql(NESTED_ATTACK, { me: author.user.id, n: 'many' }, { token: author.accessToken });
    expect(response.status).toBe(400);
    expect(firstCode(response)).toBe('BAD_USER_INPUT');
  });

  describe('ordinary queries keep passing', () => {
    it('a 100-post feed page with authors and their counts', async () => {
      const response = await server.gql(
        `{ feed(first: 100) { edges { cursor node { id title body published createdAt updatedAt
             author { id name avatarUrl bio followerCount followingCount } } }
           pageInfo { hasNextPage endCursor } } }`,
        undefined,
        { token: reader.accessToken },
      );
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data!.feed.edges).toHaveLength(100);
      expect(response.body.data!.feed.edges[0].node.author.followerCount).toBe(1);
    });

    it("posts(first: 20) with each author's first 5 posts", async () => {
      const response = await server.gql(
        // One author's posts: the PostgreSQL pass shares its database with other suites' posts.
        `query($me: ID) { posts(first: 20, authorId: $me) { edges { cursor node { id title body createdAt
             author { id name posts(first: 5) { edges { cursor node { id title published } } pageInfo { hasNextPage endCursor } } } } }
           pageInfo { hasNextPage endCursor } } }`,
        { me: author.user.id },
        { token: reader.accessToken },
      );
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data!.posts.edges).toHaveLength(20);
      expect(response.body.data!.posts.edges[0].node.author.posts.edges).toHaveLength(5);
    });

    const operations = Object.entries(sdk)
      .filter(([name]) => name.endsWith('Document'))
      .map(([name, document]) => {
        const doc = document as unknown as DocumentNode;
        const operation = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
        return { name: name.replace(/Document$/, ''), doc, operation };
      })
      .filter((entry): entry is { name: string; doc: DocumentNode; operation: OperationDefinitionNode } => entry.operation !== undefined)
      // Logout ends the session the others run in: last.
      .sort((a, b) => Number(a.name === 'Logout') - Number(b.name === 'Logout'));

    it('the SDK has operations to check', () => {
      expect(operations.map((o) => o.name)).toEqual(
        expect.arrayContaining(['Me', 'Feed', 'Posts', 'UserPosts', 'Users', 'Login', 'CreatePost']),
      );
    });

    /** Worst-case variables: every `first` at 100, the rest plausible enough to reach the resolvers. */
    function variablesFor(operation: string, me: SignedUp): Record<string, unknown> {
      const inputs: Record<string, unknown> = {
        Signup: { email: `sdk-${randomUUID()}@example.test`, password: 'correct horse battery', name: 'SDK' },
        Login: { email: me.email, password: me.password },
        CreatePost: { title: 'SDK post', body: 'SDK body', published: true },
        UpdatePost: { title: 'SDK post, edited' },
        UpdateMe: { bio: 'SDK bio' },
      };
      return {
        first: 100,
        after: null,
        id: operation === 'User' || operation === 'UserPosts' ? author.user.id : randomUUID(),
        userId: author.user.id,
        authorId: author.user.id,
        code: '000000',
        email: me.email,
        token: 'not-a-reset-token',
        currentPassword: 'not the password',
        newPassword: 'another long password',
        password: 'not the password',
        role: 'USER',
        scope: 'LOCAL',
        refreshToken: null,
        contentType: 'image/png',
        byteSize: 1024,
        key: `avatar-uploads/${me.user.id}/not-started`,
        input: inputs[operation],
      };
    }

    /** A value of a variable's declared scalar type; input objects must be named in the table above. */
    function plausible(type: TypeNode): unknown {
      if (type.kind !== Kind.NAMED_TYPE) return plausible(type.type);
      const scalars: Record<string, unknown> = { String: 'sdk', ID: randomUUID(), Int: 1, Float: 1, Boolean: false, JSONObject: {} };
      if (type.name.value in scalars) return scalars[type.name.value];
      throw new Error(`variablesFor() needs a value for an argument of type ${type.name.value}`);
    }

    it('every operation of the typed SDK, at `first: 100`, gets past the query limits', async () => {
      // A user of its own: Logout ends its session, ChangePassword and DeleteMe get a wrong password.
      const me = await signupUser(server);
      const refused: string[] = [];
      for (const { name, doc, operation } of operations) {
        const known = variablesFor(name, me);
        // A variable the table does not name gets a plausible value of its type, so an operation
        // added to the SDK later is checked too instead of failing here for want of an argument.
        const variables = Object.fromEntries(
          (operation.variableDefinitions ?? []).map((v) => [
            v.variable.name.value,
            v.variable.name.value in known ? known[v.variable.name.value] : plausible(v.type),
          ]),
        );
        const response = await server.gql(print(doc), variables, { token: me.accessToken });
        const codes = (response.body.errors ?? []).map((error) => error.extensions?.code);
        if (response.status !== 200 || codes.some((code) => code === 'GRAPHQL_VALIDATION_FAILED' || code === 'INTERNAL_SERVER_ERROR')) {
          refused.push(`${name}: ${response.status} ${JSON.stringify(response.body.errors)}`);
        }
        // A query answers in full, but Users, which needs ADMIN.
        const allowed = operation.operation === OperationTypeNode.QUERY ? (name === 'Users' ? ['FORBIDDEN'] : []) : codes;
        if (!codes.every((code) => allowed.includes(code))) refused.push(`${name}: ${JSON.stringify(response.body.errors)}`);
      }
      expect(refused).toEqual([]);
    });
  });
});

describe('the list-item cap at execution (MAX_LIST_ITEMS)', () => {
  const MAX_LIST_ITEMS = 50;
  let server: TestServer;
  let author: SignedUp;
  const logLines: Array<Record<string, unknown>> = [];
  const statements: string[] = [];
  beforeAll(async () => {
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
        done();
      },
    });
    server = await startTestServer({
      env: { MAX_LIST_ITEMS: String(MAX_LIST_ITEMS) },
      logDestination: destination,
      onQuery: (event) => statements.push(event.query),
    });
    author = await signupUser(server);
    await seedPosts(server, author.user.id, 60, 0);
  });
  afterAll(() => server.close());

  const capLines = () => logLines.filter((line) => /MAX_LIST_ITEMS/.test(String(line.msg)));

  it('answers an operation within the cap', async () => {
    const response = await server.gql(
      'query($me: ID!) { posts(first: 50, authorId: $me) { edges { node { id } } } }',
      { me: author.user.id },
      { token: author.accessToken },
    );
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.posts.edges).toHaveLength(50);
  });

  it('aborts an operation the estimate lets through but that resolves more items: one masked error, no data, a log line, a metric', async () => {
    const before = await counter(server, 'warden_list_item_cap_aborts_total');
    const linesBefore = capLines().length;
    // 10 posts, each with 10 of its author's posts: cost 454 (under the limit), 110 list items.
    const query = `query($me: ID!) {
      me { id name }
      posts(first: 10, authorId: $me) { edges { node { id author { posts(first: 10) { edges { node { id title } } } } } } }
    }`;
    const response = await server.gql(query, { me: author.user.id }, { token: author.accessToken });
    expect(response.status).toBe(200);
    expect(response.body.data).toBeNull();
    expect(response.body.errors).toEqual([
      { message: 'Something went wrong; try again later.', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ]);
    expect(await counter(server, 'warden_list_item_cap_aborts_total')).toBe(before + 1);
    const lines = capLines().slice(linesBefore);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, maxItems: MAX_LIST_ITEMS });
    expect(Number(lines[0].items)).toBeGreaterThan(MAX_LIST_ITEMS);
    // Nothing else was logged as unexpected for it: the abort is one event, not one per field.
    expect(logLines.filter((line) => line.msg === 'unexpected error in a GraphQL operation')).toEqual([]);
  });

  it('counts a `first` over the cap before its resolver runs: no post is read', async () => {
    const before = await counter(server, 'warden_list_item_cap_aborts_total');
    // A cost of 201, well within the estimate; 100 items reserved against a cap of 50.
    statements.length = 0;
    const response = await server.gql(
      'query($me: ID!) { posts(first: 100, authorId: $me) { edges { node { id } } } }',
      { me: author.user.id },
      { token: author.accessToken },
    );
    expect(response.body).toEqual({
      data: null,
      errors: [{ message: 'Something went wrong; try again later.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
    });
    expect(await counter(server, 'warden_list_item_cap_aborts_total')).toBe(before + 1);
    expect(statements.filter((sql) => /"Post"/.test(sql))).toEqual([]);
    // The same page within the cap does read the Post table, so the check above can fail.
    const within = await server.gql(
      'query($me: ID!) { posts(first: 5, authorId: $me) { edges { node { id } } } }',
      { me: author.user.id },
      { token: author.accessToken },
    );
    expect(within.body.errors).toBeUndefined();
    expect(statements.filter((sql) => /"Post"/.test(sql)).length).toBeGreaterThan(0);
  });

  it('counts per request: the next operation starts from zero', async () => {
    const response = await server.gql(
      'query($me: ID!) { posts(first: 40, authorId: $me) { edges { node { id } } } }',
      { me: author.user.id },
      { token: author.accessToken },
    );
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.posts.edges).toHaveLength(40);
  });

  it('keeps the default cap above what the estimate lets through', () => {
    // Every item counted by `first` costs at least 1 in the estimate, so with the cap at or above
    // the cost limit, only what the estimate misses can reach the cap.
    expect(loadConfig({}).maxListItems).toBeGreaterThanOrEqual(QUERY_LIMITS.maxCost);
  });
});
