/**
 * Crafted input never reaches PostgreSQL as something it cannot store, and never answers
 * INTERNAL_SERVER_ERROR (docs/api.md §3): NUL characters and lone UTF-16 surrogates in any string
 * argument are BAD_USER_INPUT (INVALID_CREDENTIALS for `login`), cursors this server did not make
 * are ignored, and following oneself is refused whatever the letter case of the id. Text that is
 * accepted comes back exactly as it was sent. Runs in both CI passes.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { login } from './helpers';
import {
  ME,
  errorCode,
  SIGNUP,
  signupAdmin,
  signupUser,
  startTestServer,
  uniqueEmail,
  type GqlResponse,
  type SignedUp,
  type TestServer,
} from '../kit';

const UPDATE_ME = 'mutation($input: UpdateMeInput!) { updateMe(input: $input) { id name bio } }';
const CREATE_POST = 'mutation($input: CreatePostInput!) { createPost(input: $input) { id title body } }';
const UPDATE_POST = 'mutation($id: ID!, $input: UpdatePostInput!) { updatePost(id: $id, input: $input) { id title body } }';
const GET_POST = 'query($id: ID!) { post(id: $id) { id title body } }';
const FOLLOW = 'mutation($id: ID!) { follow(userId: $id) { id } }';
const UNFOLLOW = 'mutation($id: ID!) { unfollow(userId: $id) { id } }';
const POSTS = 'query($after: String, $authorId: ID) { posts(first: 100, after: $after, authorId: $authorId) { edges { node { id } } } }';
const FEED = 'query($after: String) { feed(first: 100, after: $after) { edges { node { id } } } }';
const USERS = 'query($after: String) { users(first: 100, after: $after) { edges { node { id } } } }';
const USER_POSTS = 'query($id: ID!, $after: String) { user(id: $id) { posts(first: 100, after: $after) { edges { node { id } } } } }';

/** Text PostgreSQL cannot store as it is: NUL, and lone surrogates (UTF-8 has no encoding for them). */
const UNSTORABLE: Array<[string, string]> = [
  ['a NUL character', 'Ada\u0000Lovelace'],
  ['only a NUL', '\u0000'],
  ['a lone high surrogate', 'Ada \uD83D Lovelace'],
  ['a lone low surrogate', 'Ada \uDE00 Lovelace'],
  ['surrogates in the wrong order', 'Ada \uDE00\uD83D'],
];

const fieldsOf = (res: GqlResponse) => res.body.errors?.[0]?.extensions?.fields as Record<string, string> | undefined;

/** The answer is BAD_USER_INPUT naming exactly these fields, with a message string for each. */
function expectBadInput(res: GqlResponse, fields: string[]): void {
  expect(res.status).toBeLessThan(500);
  expect(errorCode(res)).toBe(ErrorCode.BAD_USER_INPUT);
  expect(Object.keys(fieldsOf(res) ?? {}).sort()).toEqual([...fields].sort());
  for (const message of Object.values(fieldsOf(res)!)) expect(typeof message).toBe('string');
}

/** A cursor in this server's own encoding, with whatever inside. */
const cursorOf = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

let server: TestServer;
let adminEmail: string;
let admin: SignedUp;
let alice: SignedUp;

beforeAll(async () => {
  adminEmail = uniqueEmail('admin');
  server = await startTestServer({ env: { ADMIN_EMAILS: adminEmail, IP_RATE_LIMIT: '0' } });
  admin = await signupAdmin(server, adminEmail, 'Ada Admin');
  alice = await signupUser(server, { name: 'Alice' });
});
afterAll(() => server.close());

describe('text PostgreSQL cannot store', () => {
  it.each(UNSTORABLE)('refuses %s in the signup name with BAD_USER_INPUT and creates no account', async (_case, name) => {
    const email = uniqueEmail('nul');
    const res = await server.gql(SIGNUP, { input: { email, password: 'correct horse battery', name } });
    expectBadInput(res, ['name']);
    expect(res.body.data ?? null).toBeNull();
    // Nothing was half made: the email is still free and the password does not sign in.
    expect(errorCode(await login(server, email, 'correct horse battery'))).toBe(ErrorCode.INVALID_CREDENTIALS);
    await signupUser(server, { email, name: 'Fine Name' });
  });

  it('refuses NUL in the signup email and password as BAD_USER_INPUT on those fields', async () => {
    const res = await server.gql(SIGNUP, { input: { email: `a\u0000${uniqueEmail()}`, password: 'correct\u0000horse', name: 'Nul' } });
    expectBadInput(res, ['email', 'password']);
  });

  it('refuses a lone surrogate in the signup email as BAD_USER_INPUT (the email check used to throw on it)', async () => {
    const email = uniqueEmail('surrogate');
    const res = await server.gql(SIGNUP, { input: { email: `\uD800${email}`, password: 'correct horse battery', name: 'Lone' } });
    expectBadInput(res, ['email']);
    const reset = await server.gql('mutation($email: String!) { requestPasswordReset(email: $email) }', { email: `${email}\uDC00` });
    expectBadInput(reset, ['email']);
  });

  it.each(UNSTORABLE)('refuses %s in the updateMe bio and name, and changes nothing', async (_case, text) => {
    const before = (await server.gql(ME, {}, { token: alice.accessToken })).body.data!.me;
    expectBadInput(await server.gql(UPDATE_ME, { input: { bio: text } }, { token: alice.accessToken }), ['bio']);
    // A good field beside a bad one is not written either: no half change.
    expectBadInput(await server.gql(UPDATE_ME, { input: { name: text, bio: 'a fine bio' } }, { token: alice.accessToken }), ['name']);
    expect((await server.gql(ME, {}, { token: alice.accessToken })).body.data!.me).toEqual(before);
  });

  it.each([
    ['email', (email: string) => `${email}\u0000`, (password: string) => password],
    ['email (lone surrogate)', (email: string) => `\uD800${email}`, (password: string) => password],
    ['password', (email: string) => email, (password: string) => `${password}\u0000`],
    ['password (lone surrogate)', (email: string) => email, (password: string) => `${password}\uDFFF`],
  ])('answers INVALID_CREDENTIALS for text that cannot be stored in the login %s', async (_case, email, password) => {
    const user = await signupUser(server);
    const res = await login(server, email(user.email), password(user.password));
    expect(res.status).toBeLessThan(500);
    expect(errorCode(res)).toBe(ErrorCode.INVALID_CREDENTIALS);
    expect(res.body.errors?.[0]?.extensions?.fields).toBeUndefined();
    expect(errorCode(await login(server, user.email, user.password))).toBeUndefined();
  });

  it.each(UNSTORABLE)('refuses %s in a post title or body, creating and updating', async (_case, text) => {
    expectBadInput(await server.gql(CREATE_POST, { input: { title: text, body: text } }, { token: alice.accessToken }), ['title', 'body']);
    const post = (await server.gql(CREATE_POST, { input: { title: 'Plain', body: 'Plain body' } }, { token: alice.accessToken })).body.data!
      .createPost;
    expectBadInput(await server.gql(UPDATE_POST, { id: post.id, input: { body: text } }, { token: alice.accessToken }), ['body']);
    expect((await server.gql(GET_POST, { id: post.id }, { token: alice.accessToken })).body.data!.post).toEqual(post);
  });

  it.each([
    ['verifyEmail(code)', 'mutation($v: String!) { verifyEmail(code: $v) { id } }', 'code', true],
    ['requestPasswordReset(email)', 'mutation($v: String!) { requestPasswordReset(email: $v) }', 'email', false],
    ['resetPassword(token)', 'mutation($v: String!) { resetPassword(token: $v, newPassword: "correct horse battery") }', 'token', false],
    ['refreshToken(refreshToken)', 'mutation($v: String) { refreshToken(refreshToken: $v) { accessToken } }', 'refreshToken', false],
    ['logout(refreshToken)', 'mutation($v: String) { logout(refreshToken: $v) }', 'refreshToken', false],
    [
      'changePassword(currentPassword)',
      'mutation($v: String!) { changePassword(currentPassword: $v, newPassword: "another good one") { accessToken } }',
      'currentPassword',
      true,
    ],
    ['deleteMe(password)', 'mutation($v: String!) { deleteMe(password: $v) }', 'password', true],
    ['post(id)', 'query($v: ID!) { post(id: $v) { id } }', 'id', true],
    ['user(id)', 'query($v: ID!) { user(id: $v) { id } }', 'id', true],
    ['posts(authorId)', 'query($v: ID) { posts(authorId: $v) { edges { cursor } } }', 'authorId', true],
    ['posts(after)', 'query($v: String) { posts(after: $v) { edges { cursor } } }', 'after', true],
    ['follow(userId)', 'mutation($v: ID!) { follow(userId: $v) { id } }', 'userId', true],
    ['revokeSession(id)', 'mutation($v: ID!) { revokeSession(id: $v) }', 'id', true],
  ])('refuses NUL in %s with BAD_USER_INPUT on that argument', async (_case, query, field, signedIn) => {
    const user = await signupUser(server);
    const res = await server.gql(query, { v: `x\u0000${user.user.id}` }, signedIn ? { token: user.accessToken } : {});
    expectBadInput(res, [field]);
    // The session is intact: nothing ran.
    expect(errorCode(await server.gql(ME, {}, { token: user.accessToken }))).toBeUndefined();
  });

  it('refuses NUL written literally in the document too, not only in variables', async () => {
    const res = await server.gql(`mutation { updateMe(input: { bio: "a\\u0000b" }) { id } }`, {}, { token: alice.accessToken });
    expectBadInput(res, ['bio']);
    // A nested field's argument, and a raw NUL in the document rather than an escape.
    const nested = await server.gql('query { me { posts(after: "x\u0000") { edges { cursor } } } }', {}, { token: alice.accessToken });
    expectBadInput(nested, ['after']);
    // GraphQL's own parser refuses an escaped lone surrogate: a 400, never a 500.
    const parsed = await server.gql('query { me { posts(after: "\\ud800") { edges { cursor } } } }', {}, { token: alice.accessToken });
    expect(parsed.status).toBe(400);
    expect(errorCode(parsed)).toBe('GRAPHQL_PARSE_FAILED');
  });
});

describe('text that can be stored comes back unchanged', () => {
  const ODD_BUT_VALID = [
    'emoji 😀👩🏽‍💻🏳️‍🌈 and a flag 🇳🇿',
    'עברית ועוד RTL \u202Eoverride\u202C mixed العربية',
    'combining: e\u0301 a\u0308 Z\u0351\u0325\u0334algo',
    'noncharacters \uFFFF \uFFFE \uFDD0 and U+10FFFF \u{10FFFF} and U+FFFD \uFFFD',
    'astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎 and BOM-ish \uFEFF inside',
    'zero width\u200B\u200C\u200D joins',
    'controls \u0001\u0008\u001B[31m\u007F\u0085 and\ttab\r\nnewline',
    'not NFC: \u212B \u2126 \uFB01',
    'quotes "\' \\ backslash </script> ${x} %00 \\u0000',
  ];

  it('keeps a name and bio exactly as sent', async () => {
    const user = await signupUser(server, { name: ODD_BUT_VALID[0] });
    expect((await server.gql(ME, {}, { token: user.accessToken })).body.data!.me.name).toBe(ODD_BUT_VALID[0]);
    for (const text of ODD_BUT_VALID) {
      const name = [...text].slice(0, 100).join('');
      const res = await server.gql(UPDATE_ME, { input: { name, bio: text } }, { token: user.accessToken });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data!.updateMe).toMatchObject({ name, bio: text });
      expect((await server.gql(ME, {}, { token: user.accessToken })).body.data!.me).toMatchObject({ name, bio: text });
    }
  });

  it('keeps a post title and body exactly as sent', async () => {
    for (const text of ODD_BUT_VALID) {
      const title = [...text].slice(0, 200).join('');
      const res = await server.gql(CREATE_POST, { input: { title, body: text } }, { token: alice.accessToken });
      expect(res.body.errors).toBeUndefined();
      const post = res.body.data!.createPost;
      expect(post).toMatchObject({ title, body: text });
      expect((await server.gql(GET_POST, { id: post.id }, { token: alice.accessToken })).body.data!.post).toMatchObject({
        title,
        body: text,
      });
    }
  });
});

describe('cursors this server did not make', () => {
  const ID = '0b7e4a52-6a0e-4a59-9a53-5b6c2f1e9d11';
  const FOREIGN: Array<[string, string]> = [
    ['36 hyphens as the id', cursorOf(`2024-01-01T00:00:00.000Z|${'-'.repeat(36)}`)],
    ['36 hex digits without hyphens', cursorOf(`2024-01-01T00:00:00.000Z|${'a'.repeat(36)}`)],
    ['the largest JavaScript date', cursorOf(`+275760-09-13T00:00:00.000Z|${ID}`)],
    ['the smallest JavaScript date', cursorOf(`-271821-04-20T00:00:00.000Z|${ID}`)],
    ['a date before the common era', cursorOf(`-004714-01-01T00:00:00.000Z|${ID}`)],
    ['a year past 9999', cursorOf(`+010000-01-01T00:00:00.000Z|${ID}`)],
    ['a date in another format', cursorOf(`Tue, 01 Dec 2026 10:00:00 GMT|${ID}`)],
    ['garbage base64', '!!!!not*base64%%%'],
    ['base64 of binary', Buffer.from([0xff, 0xfe, 0x00, 0x7c, 0x80]).toString('base64')],
    ['an empty cursor', ''],
    ['a very long cursor', 'A'.repeat(100_000)],
  ];

  let firstPage: string[];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++)
      await server.gql(CREATE_POST, { input: { title: `Cursor ${i}`, body: 'b', published: true } }, { token: admin.accessToken });
    await server.gql(FOLLOW, { id: admin.user.id }, { token: alice.accessToken });
    firstPage = (await server.gql(POSTS, { authorId: admin.user.id }, { token: alice.accessToken })).body.data!.posts.edges.map(
      (e: any) => e.node.id,
    );
    expect(firstPage.length).toBeGreaterThanOrEqual(3);
  });

  it.each(FOREIGN)('ignores %s in posts, feed, users and User.posts: the list starts from the top', async (_case, after) => {
    const posts = await server.gql(POSTS, { after, authorId: admin.user.id }, { token: alice.accessToken });
    expect(posts.body.errors).toBeUndefined();
    expect(posts.body.data!.posts.edges.map((e: any) => e.node.id)).toEqual(firstPage);
    for (const [query, token, variables] of [
      [FEED, alice.accessToken, { after }],
      [USERS, admin.accessToken, { after }],
      [USER_POSTS, alice.accessToken, { after, id: admin.user.id }],
    ] as const) {
      const res = await server.gql(query, variables, { token });
      expect(res.status).toBeLessThan(500);
      expect(res.body.errors).toBeUndefined();
    }
  });
});

describe('ids', () => {
  it.each([
    ['upper-cased', (id: string) => id.toUpperCase()],
    ['mixed case', (id: string) => id.replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c))],
  ])('refuses following or unfollowing oneself by an id %s, and follows nobody', async (_case, spell) => {
    const user = await signupUser(server);
    const id = spell(user.user.id);
    expect(id).not.toBe(user.user.id);
    expectBadInput(await server.gql(FOLLOW, { id }, { token: user.accessToken }), ['userId']);
    expectBadInput(await server.gql(UNFOLLOW, { id }, { token: user.accessToken }), ['userId']);
    expect((await server.gql(ME, {}, { token: user.accessToken })).body.data!.me.followingCount).toBe(0);
  });

  it('follows another user by an upper-cased id, once', async () => {
    const user = await signupUser(server);
    const other = await signupUser(server);
    for (const id of [other.user.id.toUpperCase(), other.user.id]) {
      const res = await server.gql(FOLLOW, { id }, { token: user.accessToken });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data!.follow.id).toBe(other.user.id);
    }
    expect((await server.gql(ME, {}, { token: user.accessToken })).body.data!.me.followingCount).toBe(1);
  });

  it.each([
    ['36 hyphens', '-'.repeat(36)],
    ['no hyphens', 'f'.repeat(32)],
    ['an empty string', ''],
    ['a 100 KB string', 'a'.repeat(100_000)],
    ['a number-like id', '12345'],
  ])('answers a malformed id (%s) without a server error: null or NOT_FOUND', async (_case, id) => {
    const read = await server.gql('query($id: ID!) { user(id: $id) { id } post(id: $id) { id } }', { id }, { token: alice.accessToken });
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data).toEqual({ user: null, post: null });
    for (const mutation of [
      'mutation($id: ID!) { follow(userId: $id) { id } }',
      'mutation($id: ID!) { deletePost(id: $id) }',
      'mutation($id: ID!) { revokeSession(id: $id) }',
      'mutation($id: ID!) { updatePost(id: $id, input: { title: "t" }) { id } }',
    ]) {
      expect(errorCode(await server.gql(mutation, { id }, { token: alice.accessToken }))).toBe(ErrorCode.NOT_FOUND);
    }
    expect(errorCode(await server.gql('mutation($id: ID!) { deleteUser(userId: $id) }', { id }, { token: admin.accessToken }))).toBe(
      ErrorCode.NOT_FOUND,
    );
  });
});

describe('requests Apollo refuses before running them', () => {
  it.each([
    ['a persisted-query hash that does not match the query', { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } }],
    ['a hash with a NUL in it', { persistedQuery: { version: 1, sha256Hash: '\u0000' } }],
    ['an unsupported persisted-query version', { persistedQuery: { version: 2, sha256Hash: '0'.repeat(64) } }],
    ['a persisted-query extension that is not an object', { persistedQuery: 'x' }],
  ])('answers %s with BAD_REQUEST and HTTP 400, not INTERNAL_SERVER_ERROR', async (_case, extensions) => {
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query { __typename }', extensions }),
    });
    const body = (await response.json()) as { errors?: Array<{ message: string; extensions?: { code?: string } }> };
    expect(response.status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect(body.errors?.[0]?.message).not.toMatch(/went wrong/);
  });
});
