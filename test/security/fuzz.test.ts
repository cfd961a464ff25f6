/**
 * Property-based fuzzing of every argument of every root field, over real HTTP (docs/api.md §3: no
 * input ever answers INTERNAL_SERVER_ERROR). The list of fields and the type of each argument
 * come from the built schema, so a field added later is fuzzed without touching this file.
 *
 * Each generated request picks a root field, a viewer (anonymous, a user, an ADMIN), whether the
 * arguments travel as variables or as literals in the document, and a value for each argument:
 * mostly of the right GraphQL type but hostile (NUL and other controls, lone surrogates, 100 KB
 * strings, emoji, forged cursors, ids in odd letter case or not ids at all, huge and fractional
 * numbers), sometimes of the wrong JSON type or missing. Every answer must be below HTTP 500 and
 * carry no INTERNAL_SERVER_ERROR; the server must log no error, and afterwards /healthz, /readyz
 * and an ordinary signup and query must still work. An unhandled rejection fails the test too
 * (jest-circus turns one into a test error while a test runs).
 *
 * The per-IP limit is off (IP_RATE_LIMIT=0) so inputs reach the resolvers; the test counts how
 * many did and prints the count per field.
 *
 * It runs in ONE CI pass only: the PostgreSQL + Redis pass (DATABASE_URL set), where statements go
 * through the `pg` driver as in production and the fuzzing takes ~30-60 s with the fixed seed.
 * `npm run fuzz` runs it anywhere (embedded defaults too), longer: FUZZ_RUNS (5000 there, 1000 in
 * CI), FUZZ_SEED (random there and printed, fixed in CI), FUZZ_SHRINK=1 to shrink a failure.
 */
import fc from 'fast-check';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
} from 'graphql';
import { getSchema } from '../../src/schema/build-schema';
import { encodeCursor } from '../../src/lib/pagination';
import { ErrorCode } from '../../src/errors/error-code';
import { LOGIN, signupUser, startTestServer, type TestServer } from '../kit';

const FUZZ = Boolean(process.env.DATABASE_URL) || Boolean(process.env.FUZZ_RUNS);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const PASSWORD = 'correct horse battery';
const describeFuzz = FUZZ ? describe : describe.skip;

// ---------------------------------------------------------------------------------------------
// Values

/** A value known only at run time (a real id or cursor), resolved when the request is built. */
class PoolRef {
  constructor(
    readonly pool: 'ids' | 'cursors',
    readonly index: number,
    readonly spelling: 'as-is' | 'upper' | 'mixed' | 'padded',
  ) {}
}

const spell = (text: string, spelling: PoolRef['spelling']): string => {
  if (spelling === 'upper') return text.toUpperCase();
  if (spelling === 'mixed') return text.replace(/[a-z]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
  if (spelling === 'padded') return ` ${text} `;
  return text;
};

const char = (min: number, max: number) => fc.integer({ min, max }).map((code) => String.fromCharCode(code));
const loneSurrogate = char(0xd800, 0xdfff);
const control = fc.oneof(char(0x00, 0x1f), char(0x7f, 0x9f), fc.constant('\u0000'));

const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc
    .array(
      fc.oneof(
        control,
        loneSurrogate,
        fc.string({ unit: 'grapheme', maxLength: 3 }),
        fc.constantFrom('\uFFFF', '\uFEFF', '\u202E', 'e\u0301'),
      ),
      { maxLength: 24 },
    )
    .map((parts) => parts.join('')),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'null',
    '-'.repeat(36),
    '%00',
    `'; DROP TABLE "User"; --`,
    '__proto__',
    'constructor',
    '{}',
    '[]',
    '\\',
    '"',
  ),
  // 100 KB strings (in UTF-16 units) of one character, hostile or not.
  fc
    .tuple(fc.constantFrom('a', '\u0000', '😀', 'é', '\uD800', ' '), fc.integer({ min: 10_000, max: 100_000 }))
    .map(([c, units]) => c.repeat(Math.ceil(units / c.length))),
);

const emailish = fc.oneof(
  fc.emailAddress(),
  fc.uuid().map((id) => `fuzz-${id.slice(0, 13)}@example.test`),
  hostileString.map((text) => `${text}@example.test`),
);
const passwordish = fc.oneof(fc.constant(PASSWORD), fc.string({ unit: 'binary', minLength: 8, maxLength: 80 }), hostileString);
const codeish = fc.oneof(
  fc.integer({ min: 0, max: 999_999 }).map((n) => String(n).padStart(6, '0')),
  fc.base64String({ maxLength: 64 }),
);
const forgedCursor = fc.oneof(
  fc.tuple(fc.date({ noInvalidDate: false }), fc.oneof(fc.uuid(), hostileString)).map(([date, id]) => {
    const iso = Number.isNaN(date.getTime()) ? 'Invalid Date' : date.toISOString();
    return Buffer.from(`${iso}|${id}`, 'utf8').toString('base64url');
  }),
  fc
    .tuple(fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }), fc.uuid())
    .map(([ms, id]) => encodeCursor({ createdAt: new Date(ms), id })),
  fc.constantFrom(Buffer.from(`2024-01-01T00:00:00.000Z|${'-'.repeat(36)}`).toString('base64url'), '!!!!', 'A'.repeat(5000)),
  fc.base64String({ maxLength: 120 }),
  fc.tuple(fc.nat(), fc.constant('as-is' as const)).map(([index, spelling]) => new PoolRef('cursors', index, spelling)),
);
const stringValue = fc.oneof(
  { arbitrary: hostileString, weight: 5 },
  { arbitrary: emailish, weight: 2 },
  { arbitrary: passwordish, weight: 2 },
  { arbitrary: codeish, weight: 1 },
  { arbitrary: forgedCursor, weight: 2 },
);
const idValue = fc.oneof(
  {
    arbitrary: fc
      .tuple(fc.nat(), fc.constantFrom('as-is', 'upper', 'mixed', 'padded') as fc.Arbitrary<PoolRef['spelling']>)
      .map(([i, s]) => new PoolRef('ids', i, s)),
    weight: 5,
  },
  { arbitrary: fc.uuid(), weight: 2 },
  { arbitrary: hostileString, weight: 2 },
  { arbitrary: fc.integer(), weight: 1 },
);
const intValue = fc.oneof(
  fc.integer({ min: -5, max: 200 }),
  fc.constantFrom(0, -1, 100, 101, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53 + 2, 1e300, -1e300, 1.5, -0),
  fc.integer(),
  fc.double(),
);
/** Anything JSON can carry, for "wrong JSON type". */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(true, 0, -1, 1e308, '', [], {}, [null], { '': '\u0000' }),
);

/**
 * Strings shaped like what a field of this name takes, half the time, so that enough inputs get
 * past validation to reach the services (a signup needs an email, a password and a name that
 * all pass). Only the values depend on names; which fields and arguments exist comes from the schema.
 */
function stringFor(name: string): fc.Arbitrary<unknown> {
  const shaped = /email/i.test(name)
    ? emailish
    : /password/i.test(name)
      ? passwordish
      : /^(after|before|cursor)$/i.test(name)
        ? forgedCursor
        : /code|token/i.test(name)
          ? codeish
          : null;
  return shaped ? fc.oneof(shaped, stringValue) : stringValue;
}

/** A value for an argument or input field of this type: mostly the right type, always hostile. */
function valueFor(type: GraphQLInputType, name: string, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) {
    return fc.oneof(
      { arbitrary: valueFor(type.ofType, name, depth), weight: 20 },
      { arbitrary: fc.constant(null), weight: 1 },
      { arbitrary: anyJson, weight: 1 },
    );
  }
  const inner = ((): fc.Arbitrary<unknown> => {
    if (isListType(type))
      return fc.oneof(fc.array(valueFor(type.ofType, name, depth + 1), { maxLength: 3 }), valueFor(type.ofType, name, depth + 1));
    if (isInputObjectType(type)) {
      if (depth > 3) return fc.constant(null);
      const fields = Object.values(type.getFields());
      const record = fc.record(Object.fromEntries(fields.map((field) => [field.name, valueFor(field.type, field.name, depth + 1)])), {
        requiredKeys: fields.filter((field) => isNonNullType(field.type)).map((field) => field.name),
      });
      return fc.oneof({ arbitrary: record, weight: 9 }, { arbitrary: record.map((value) => ({ ...value, notAField: 1 })), weight: 1 });
    }
    if (isEnumType(type))
      return fc.oneof(
        { arbitrary: fc.constantFrom(...type.getValues().map((value) => value.name)), weight: 4 },
        { arbitrary: hostileString, weight: 1 },
      );
    if (isScalarType(type)) {
      switch (type.name) {
        case 'String':
          return stringFor(name);
        case 'ID':
          return idValue;
        case 'Int':
          return intValue;
        case 'Float':
          return fc.oneof(intValue, fc.double());
        case 'Boolean':
          return fc.boolean();
        case 'DateTime':
          return fc.oneof(
            fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
            hostileString,
          );
        default:
          return anyJson;
      }
    }
    return anyJson;
  })();
  return fc.oneof({ arbitrary: inner, weight: 16 }, { arbitrary: fc.constant(null), weight: 1 }, { arbitrary: anyJson, weight: 1 });
}

// ---------------------------------------------------------------------------------------------
// Requests

interface RootField {
  kind: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
}

interface FuzzRequest {
  root: RootField;
  viewer: 'anonymous' | 'user' | 'admin';
  literal: boolean;
  args: Record<string, unknown>;
}

function requestFor(root: RootField): fc.Arbitrary<FuzzRequest> {
  const args = fc.record(Object.fromEntries(root.field.args.map((arg) => [arg.name, valueFor(arg.type, arg.name)])), {
    requiredKeys: root.field.args.filter((arg) => isNonNullType(arg.type)).map((arg) => arg.name),
  });
  return fc.record({
    root: fc.constant(root),
    viewer: fc.constantFrom('anonymous', 'user', 'admin') as fc.Arbitrary<FuzzRequest['viewer']>,
    literal: fc.boolean(),
    args: args,
  });
}

/** Leaf fields without required arguments, or __typename: enough to make every resolver run. */
function selectionFor(type: GraphQLOutputType): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  if (!isObjectType(named)) return '{ __typename }';
  const leaves = Object.values(named.getFields())
    .filter((field) => isLeafType(getNamedType(field.type)) && field.args.every((arg) => !isNonNullType(arg.type)))
    .map((field) => field.name);
  return `{ __typename ${leaves.join(' ')} }`;
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A JSON value written as a GraphQL literal (JSON string escapes are GraphQL escapes too). */
function literal(value: unknown, type: GraphQLInputType | undefined): string {
  const named = type ? getNamedType(type) : undefined;
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return isEnumType(named) && NAME.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'boolean') return String(value);
  const itemType = type && isNonNullType(type) ? type.ofType : type;
  if (Array.isArray(value))
    return `[${value.map((item) => literal(item, itemType && isListType(itemType) ? itemType.ofType : undefined)).join(', ')}]`;
  const fields = isInputObjectType(named) ? named.getFields() : {};
  const entries = Object.entries(value as Record<string, unknown>).filter(([key]) => NAME.test(key));
  return `{${entries.map(([key, item]) => `${key}: ${literal(item, fields[key]?.type)}`).join(', ')}}`;
}

function operation(request: FuzzRequest, resolve: (value: unknown) => unknown): { query: string; variables: Record<string, unknown> } {
  const { field, kind } = request.root;
  const present = field.args.filter((arg) => arg.name in request.args);
  const value = (arg: GraphQLArgument) => resolve(request.args[arg.name]);
  const call = (text: string[]) => (text.length ? `(${text.join(', ')})` : '');
  if (request.literal) {
    return {
      query: `${kind} { ${field.name}${call(present.map((arg) => `${arg.name}: ${literal(value(arg), arg.type)}`))} ${selectionFor(field.type)} }`,
      variables: {},
    };
  }
  const definitions = present.map((arg) => `$${arg.name}: ${String(arg.type)}`);
  return {
    query: `${kind}${call(definitions)} { ${field.name}${call(present.map((arg) => `${arg.name}: $${arg.name}`))} ${selectionFor(field.type)} }`,
    variables: Object.fromEntries(present.map((arg) => [arg.name, value(arg)])),
  };
}

// ---------------------------------------------------------------------------------------------
// The server and its viewers

interface Viewer {
  id: string;
  token: string;
}

interface Answer {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: Array<{ path?: unknown[]; extensions?: { code?: string } }> } | null;
  text: string;
}

/**
 * How far an input got: refused before execution (parse, validation, variable coercion: HTTP 400;
 * a body over MAX_BODY_BYTES: 413), by @auth, by the resolver's argument validation, or through it
 * into the service (whatever the service answered).
 */
type Outcome = 'not-executed' | 'auth-refused' | 'argument-refused' | 'resolved';

function outcomeOf(answer: Answer, field: string): Outcome {
  if (!answer.body || answer.status >= 400) return 'not-executed';
  const errors = answer.body.errors ?? [];
  const fieldErrors = errors.filter((error) => Array.isArray(error.path) && error.path[0] === field);
  if (errors.length > 0 && fieldErrors.length === 0 && !(answer.body.data && field in answer.body.data)) return 'not-executed';
  const code = fieldErrors[0]?.extensions?.code;
  if (
    code === ErrorCode.UNAUTHENTICATED ||
    code === ErrorCode.FORBIDDEN ||
    code === ErrorCode.SESSION_REVOKED ||
    code === ErrorCode.ACCESS_TOKEN_EXPIRED
  )
    return 'auth-refused';
  if (code === ErrorCode.BAD_USER_INPUT) return 'argument-refused';
  return 'resolved';
}

describeFuzz('fuzzing every argument of every root field', () => {
  let server: TestServer;
  let roots: RootField[];
  const errorLogs: string[] = [];
  const viewers: Partial<Record<'user' | 'admin', Viewer>> = {};
  const pools: { ids: string[]; cursors: string[] } = { ids: [], cursors: [] };

  async function post(body: unknown, token?: string): Promise<Answer> {
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: Answer['body'] = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // a non-JSON answer (413 from the body limit, for one) is judged by its status alone
    }
    return { status: response.status, body: parsed, text };
  }

  async function newViewer(role: 'user' | 'admin'): Promise<Viewer> {
    const user = await signupUser(server, { password: PASSWORD, name: `Fuzz ${role}` });
    if (role === 'admin') {
      await server.app.infra.database.prisma.user.update({ where: { id: user.user.id }, data: { role: 'ADMIN' } });
      const login = await server.gql(LOGIN, { input: { email: user.email, password: PASSWORD } });
      return { id: user.user.id, token: login.body.data!.login.accessToken };
    }
    return { id: user.user.id, token: user.accessToken };
  }

  /** Real ids and cursors for PoolRefs: the viewers, other users, a post, a session, a page. */
  async function refreshPools(): Promise<void> {
    const viewer = viewers.user!;
    const created = await server.gql(
      'mutation { createPost(input: { title: "fuzz", body: "fuzz", published: true }) { id } }',
      {},
      { token: viewer.token },
    );
    const page = await server.gql(
      'query { posts(first: 2) { pageInfo { endCursor } edges { cursor } } mySessions { id } }',
      {},
      { token: viewer.token },
    );
    pools.ids = [
      viewers.user!.id,
      viewers.admin!.id,
      created.body.data?.createPost?.id,
      ...(page.body.data?.mySessions ?? []).map((s: { id: string }) => s.id),
    ].filter(Boolean);
    pools.cursors = [
      page.body.data?.posts?.pageInfo?.endCursor,
      ...(page.body.data?.posts?.edges ?? []).map((e: { cursor: string }) => e.cursor),
    ].filter(Boolean);
  }

  /** Replaces a viewer whose session a fuzzed mutation ended (logout, deleteMe, setUserRole). */
  async function ensureViewers(): Promise<void> {
    for (const role of ['user', 'admin'] as const) {
      const viewer = viewers[role];
      const probe =
        viewer &&
        (await server.gql(
          role === 'admin' ? 'query { users(first: 1) { pageInfo { hasNextPage } } }' : 'query { me { id } }',
          {},
          { token: viewer.token },
        ));
      if (!viewer || probe?.body.errors) viewers[role] = await newViewer(role);
    }
    await refreshPools();
  }

  const resolveRef = (value: unknown): unknown => {
    if (value instanceof PoolRef) {
      const pool = pools[value.pool];
      return pool.length ? spell(pool[value.index % pool.length], value.spelling) : null;
    }
    if (Array.isArray(value)) return value.map(resolveRef);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveRef(item)]));
    return value;
  };

  beforeAll(async () => {
    server = await startTestServer({
      env: { IP_RATE_LIMIT: '0', LOG_LEVEL: 'warn', SESSION_CACHE_TTL: '0' },
      logDestination: {
        write(line: string) {
          if (/"level":(50|60)/.test(line)) errorLogs.push(line);
        },
      },
    });
    const schema = await getSchema();
    roots = [
      ...Object.values(schema.getQueryType()!.getFields()).map((field) => ({ kind: 'query' as const, field })),
      ...Object.values(schema.getMutationType()?.getFields() ?? {}).map((field) => ({ kind: 'mutation' as const, field })),
    ];
    await ensureViewers();
  });
  afterAll(() => server?.close());

  it(
    `answers ${RUNS} generated requests (seed ${SEED}) without a 5xx or INTERNAL_SERVER_ERROR, and stays healthy`,
    async () => {
      expect(roots.length).toBeGreaterThan(20);
      const outcomes = new Map<string, Record<Outcome, number>>(
        roots.map((root) => [root.field.name, { 'not-executed': 0, 'auth-refused': 0, 'argument-refused': 0, resolved: 0 }]),
      );
      let sent = 0;
      const started = Date.now();

      await fc.assert(
        fc.asyncProperty(fc.oneof(...roots.map(requestFor)), async (request) => {
          sent++;
          if (sent % 40 === 0) await ensureViewers();
          const viewer = request.viewer === 'anonymous' ? undefined : viewers[request.viewer];
          const body = operation(request, resolveRef);
          const answer = await post(body, viewer?.token);
          const codes = (answer.body?.errors ?? []).map((error) => error.extensions?.code);
          const context = `${answer.status} ${answer.text.slice(0, 500)}\nfor ${JSON.stringify(body).slice(0, 2000)}`;
          if (answer.status >= 500 || codes.includes(ErrorCode.INTERNAL_SERVER_ERROR)) throw new Error(`server error: ${context}`);
          if (answer.status === 200 && !answer.body) throw new Error(`a 200 that is not JSON: ${context}`);
          outcomes.get(request.root.field.name)![outcomeOf(answer, request.root.field.name)]++;
          if (
            viewer &&
            codes.some((code) => code === ErrorCode.SESSION_REVOKED || code === ErrorCode.UNAUTHENTICATED || code === ErrorCode.FORBIDDEN)
          ) {
            await ensureViewers();
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: !process.env.FUZZ_SHRINK, verbose: fc.VerbosityLevel.None },
      );

      // Inputs that got past GraphQL's coercion and the @auth check into the field's resolver
      // (where the arguments are validated), and those that got past that validation too.
      const total = (outcome: Outcome) => [...outcomes.values()].reduce((sum, counts) => sum + counts[outcome], 0);
      const reachedResolver = total('argument-refused') + total('resolved');
      const reachedService = total('resolved');
      const table = [...outcomes.entries()].map(([name, counts]) => `  ${name.padEnd(26)} ${JSON.stringify(counts)}`).join('\n');
      console.log(
        `fuzz: ${sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED}); ` +
          `${reachedResolver} reached a resolver, ${reachedService} got past argument validation into the service\n${table}`,
      );
      expect(sent).toBe(RUNS);
      // The fuzzing is only worth something if inputs get through: a quarter of them reach a
      // service, and in a run of CI's length at least four fields in five see some (all of them do
      // with the fixed seed).
      expect(reachedService).toBeGreaterThan(RUNS / 4);
      const fieldsReached = [...outcomes.values()].filter((counts) => counts.resolved > 0).length;
      if (RUNS >= 1000) expect(fieldsReached).toBeGreaterThanOrEqual(Math.ceil(roots.length * 0.8));

      // Still healthy, and an ordinary request still works.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${server.url}/readyz`);
      expect({ status: ready.status, body: await ready.json() }).toMatchObject({ status: 200 });
      const fresh = await signupUser(server, { name: 'After the fuzz' });
      const me = await server.gql('query { me { id name } }', {}, { token: fresh.accessToken });
      expect(me.body).toEqual({ data: { me: { id: fresh.user.id, name: 'After the fuzz' } } });
      expect(errorLogs).toEqual([]);
    },
    Math.max(600_000, RUNS * 250),
  );

  it('answers malformed request envelopes, POST and GET, with a 4xx, never a 5xx', async () => {
    const bodies: unknown[] = [
      '{',
      '[]',
      'null',
      '"query"',
      { query: 1 },
      { query: 'query { me { id } }', variables: 'x' },
      { query: 'query { me { id } }', variables: [1] },
      { query: 'query($a: Int) { posts(first: $a) { edges { cursor } } }', variables: { a: '1'.repeat(400) } },
      { query: 'query { me { id } }', operationName: '\u0000' },
      { query: 'query { me { id } }', extensions: { persistedQuery: { version: 1, sha256Hash: '\u0000' } } },
      { query: '\u0000' },
      { query: 'query { posts(after: "\uD800") { edges { cursor } } }' },
    ];
    for (const body of bodies) {
      const answer = await post(body, viewers.user!.token);
      const codes = (answer.body?.errors ?? []).map((error) => error.extensions?.code);
      expect({ body, status: answer.status < 500, internal: codes.includes(ErrorCode.INTERNAL_SERVER_ERROR) }).toEqual({
        body,
        status: true,
        internal: false,
      });
    }
    // Queries over GET (urql's default) carry everything in the URL.
    const searches = [
      'query=%7B%20me%20%7B%20id%20%7D%20%7D&variables=%7B',
      'query=%7B%20me%20%7B%20id%20%7D%20%7D&variables=%00',
      'query=%00',
      'query=%7B%20posts(after%3A%20%22%00%22)%20%7B%20edges%20%7B%20cursor%20%7D%20%7D%20%7D',
      'query=%7B%20posts(after%3A%20%22%ED%A0%80%22)%20%7B%20edges%20%7B%20cursor%20%7D%20%7D%20%7D',
      'query=query(%24a%3A%20String)%20%7B%20posts(after%3A%20%24a)%20%7B%20edges%20%7B%20cursor%20%7D%20%7D%20%7D&variables=%7B%22a%22%3A%22%5Cu0000%22%7D',
      'query=%7B%20me%20%7B%20id%20%7D%20%7D&extensions=%7B%22persistedQuery%22%3A1%7D',
      'query=%7B%20me%20%7B%20id%20%7D%20%7D&query=%7B%20me%20%7B%20id%20%7D%20%7D',
      '%FF=%FF',
    ];
    for (const search of searches) {
      const response = await fetch(`${server.graphqlUrl}?${search}`, {
        headers: { authorization: `Bearer ${viewers.user!.token}`, 'apollo-require-preflight': 'true' },
      });
      const text = await response.text();
      expect({ search, status: response.status < 500, internal: text.includes(ErrorCode.INTERNAL_SERVER_ERROR) }).toEqual({
        search,
        status: true,
        internal: false,
      });
    }
    expect(errorLogs).toEqual([]);
  });
});
