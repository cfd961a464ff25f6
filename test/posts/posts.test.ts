import { CREATE_POST, DELETE_POST, GET_POST, LIST_POSTS, MISSING_ID, UPDATE_POST, createPost, ids, type Page } from './posts-support';
import { errorCode, signupAdmin, signupUser, startTestServer, uniqueEmail, type SignedUp, type TestServer } from '../kit';

let server: TestServer;
let admin: SignedUp;
let alice: SignedUp;
let bob: SignedUp;
const adminEmail = uniqueEmail('admin');

beforeAll(async () => {
  server = await startTestServer({ env: { ADMIN_EMAILS: adminEmail } });
  admin = await signupAdmin(server, adminEmail, 'Ada Admin');
  alice = await signupUser(server, { name: 'Alice' });
  bob = await signupUser(server, { name: 'Bob' });
});
afterAll(() => server.close());

const fieldsOf = (res: Awaited<ReturnType<TestServer['gql']>>) =>
  res.body.errors?.[0]?.extensions?.fields as Record<string, string> | undefined;

describe('createPost', () => {
  it('creates a draft by default, authored by the viewer', async () => {
    const res = await server.gql(CREATE_POST, { input: { title: '  Hello  ', body: 'First words' } }, { token: alice.accessToken });
    expect(res.body.errors).toBeUndefined();
    const post = res.body.data!.createPost;
    expect(post).toMatchObject({ title: 'Hello', body: 'First words', published: false, author: { id: alice.user.id, name: 'Alice' } });
    expect(Date.parse(post.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(post.updatedAt).toBe(post.createdAt);
  });

  it('publishes at once when asked', async () => {
    const post = await createPost(server, alice.accessToken, { published: true });
    expect(post.published).toBe(true);
  });

  it('answers UNAUTHENTICATED without a token and creates nothing', async () => {
    const title = `anon ${uniqueEmail()}`;
    const res = await server.gql(CREATE_POST, { input: { title, body: 'x', published: true } });
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    const list = (await server.gql(LIST_POSTS, { first: 100 }, { token: bob.accessToken })).body.data!.posts as Page;
    expect(list.edges.map((e) => e.node.title)).not.toContain(title);
  });

  it.each([
    ['an empty title', { title: '', body: 'b' }, ['title']],
    ['a blank title', { title: '   ', body: 'b' }, ['title']],
    ['a 201-character title', { title: 'x'.repeat(201), body: 'b' }, ['title']],
    ['a body over 20,000 characters', { title: 't', body: 'x'.repeat(20_001) }, ['body']],
    ['both at once', { title: 'x'.repeat(201), body: 'x'.repeat(20_001) }, ['body', 'title']],
    ['a NUL character', { title: 'a\u0000b', body: 'b' }, ['title']],
  ])('refuses %s with BAD_USER_INPUT naming each field', async (_case, input, fields) => {
    const res = await server.gql(CREATE_POST, { input }, { token: alice.accessToken });
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(Object.keys(fieldsOf(res)!).sort()).toEqual(fields);
    for (const message of Object.values(fieldsOf(res)!)) expect(typeof message).toBe('string');
  });

  it('accepts the limits exactly: a 200-character title (emoji count once) and a 20,000-character body', async () => {
    const emoji = await server.gql(
      CREATE_POST,
      { input: { title: '😀'.repeat(200), body: 'x'.repeat(20_000) } },
      { token: alice.accessToken },
    );
    expect(emoji.body.errors).toBeUndefined();
    expect(emoji.body.data!.createPost.title).toBe('😀'.repeat(200));
    const empty = await server.gql(CREATE_POST, { input: { title: 't', body: '' } }, { token: alice.accessToken });
    expect(empty.body.errors).toBeUndefined();
  });
});

describe('post(id)', () => {
  it('shows a published post to any signed-in user', async () => {
    const post = await createPost(server, alice.accessToken, { title: 'Public', published: true });
    const res = await server.gql(GET_POST, { id: post.id }, { token: bob.accessToken });
    expect(res.body.data!.post).toMatchObject({ id: post.id, title: 'Public', author: { id: alice.user.id } });
  });

  it('shows a draft only to its author and to ADMINs; anyone else gets null', async () => {
    const draft = await createPost(server, alice.accessToken, { title: 'Secret draft' });
    expect((await server.gql(GET_POST, { id: draft.id }, { token: alice.accessToken })).body.data!.post.title).toBe('Secret draft');
    expect((await server.gql(GET_POST, { id: draft.id }, { token: admin.accessToken })).body.data!.post.title).toBe('Secret draft');
    const other = await server.gql(GET_POST, { id: draft.id }, { token: bob.accessToken });
    expect(other.body.errors).toBeUndefined();
    expect(other.body.data!.post).toBeNull();
  });

  it('answers UNAUTHENTICATED without a token', async () => {
    const post = await createPost(server, alice.accessToken, { published: true });
    expect(errorCode(await server.gql(GET_POST, { id: post.id }))).toBe('UNAUTHENTICATED');
  });

  it('returns null for an unknown or malformed id', async () => {
    for (const id of [MISSING_ID, 'not-a-uuid', "1' OR 1=1"]) {
      const res = await server.gql(GET_POST, { id }, { token: bob.accessToken });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data!.post).toBeNull();
    }
  });
});

describe('posts', () => {
  it('lists published posts only, without drafts, even the viewer’s own', async () => {
    const published = await createPost(server, bob.accessToken, { title: 'bob published', published: true });
    const draft = await createPost(server, bob.accessToken, { title: 'bob draft' });
    const page = (await server.gql(LIST_POSTS, { first: 100 }, { token: bob.accessToken })).body.data!.posts as Page;
    expect(ids(page)).toContain(published.id);
    expect(ids(page)).not.toContain(draft.id);
    expect(page.edges.every((e) => e.node.published)).toBe(true);
  });

  it('with authorId: that author’s published posts, and the viewer’s own drafts only for themself', async () => {
    const author = await signupUser(server);
    const pub = await createPost(server, author.accessToken, { published: true });
    const draft = await createPost(server, author.accessToken);
    const own = (await server.gql(LIST_POSTS, { authorId: author.user.id }, { token: author.accessToken })).body.data!.posts as Page;
    expect(ids(own)).toEqual([draft.id, pub.id]);
    const seenByOther = (await server.gql(LIST_POSTS, { authorId: author.user.id }, { token: bob.accessToken })).body.data!.posts as Page;
    expect(ids(seenByOther)).toEqual([pub.id]);
    const unknown = await server.gql(LIST_POSTS, { authorId: 'nope' }, { token: bob.accessToken });
    expect(unknown.body.data!.posts).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('answers UNAUTHENTICATED without a token', async () => {
    expect(errorCode(await server.gql(LIST_POSTS, {}))).toBe('UNAUTHENTICATED');
  });
});

describe('updatePost', () => {
  it('lets the author change any field; fields not given stay as they were', async () => {
    const post = await createPost(server, alice.accessToken, { title: 'Before', body: 'Body before' });
    const res = await server.gql(UPDATE_POST, { id: post.id, input: { title: 'After', published: true } }, { token: alice.accessToken });
    expect(res.body.errors).toBeUndefined();
    const updated = res.body.data!.updatePost;
    expect(updated).toMatchObject({ id: post.id, title: 'After', body: 'Body before', published: true });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(post.updatedAt));
    expect(updated.createdAt).toBe(post.createdAt);
    const nothing = await server.gql(UPDATE_POST, { id: post.id, input: { title: null } }, { token: alice.accessToken });
    expect(nothing.body.data!.updatePost).toMatchObject({ title: 'After', body: 'Body before' });
  });

  it('lets an ADMIN change anyone’s post', async () => {
    const post = await createPost(server, alice.accessToken);
    const res = await server.gql(UPDATE_POST, { id: post.id, input: { body: 'moderated' } }, { token: admin.accessToken });
    expect(res.body.data!.updatePost).toMatchObject({ body: 'moderated', author: { id: alice.user.id } });
  });

  it('answers FORBIDDEN to anyone else, and nothing changes', async () => {
    const post = await createPost(server, alice.accessToken, { title: 'Mine', published: true });
    const res = await server.gql(UPDATE_POST, { id: post.id, input: { title: 'Hijacked' } }, { token: bob.accessToken });
    expect(errorCode(res)).toBe('FORBIDDEN');
    expect(res.body.data).toBeNull();
    const after = await server.gql(GET_POST, { id: post.id }, { token: alice.accessToken });
    expect(after.body.data!.post).toMatchObject({ title: 'Mine', updatedAt: post.updatedAt });
  });

  it('answers UNAUTHENTICATED without a token, and nothing changes', async () => {
    const post = await createPost(server, alice.accessToken, { title: 'Mine' });
    expect(errorCode(await server.gql(UPDATE_POST, { id: post.id, input: { title: 'x' } }))).toBe('UNAUTHENTICATED');
    expect((await server.gql(GET_POST, { id: post.id }, { token: alice.accessToken })).body.data!.post.title).toBe('Mine');
  });

  it('answers NOT_FOUND for an unknown or malformed id', async () => {
    for (const id of [MISSING_ID, 'nope']) {
      expect(errorCode(await server.gql(UPDATE_POST, { id, input: { title: 'x' } }, { token: admin.accessToken }))).toBe('NOT_FOUND');
    }
  });

  it('validates the fields given, by name', async () => {
    const post = await createPost(server, alice.accessToken, { title: 'Valid' });
    const res = await server.gql(
      UPDATE_POST,
      { id: post.id, input: { title: '', body: 'x'.repeat(20_001) } },
      { token: alice.accessToken },
    );
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(Object.keys(fieldsOf(res)!).sort()).toEqual(['body', 'title']);
    const blank = await server.gql(UPDATE_POST, { id: post.id, input: { title: ' \t ' } }, { token: alice.accessToken });
    expect(fieldsOf(blank)).toHaveProperty('title');
    expect((await server.gql(GET_POST, { id: post.id }, { token: alice.accessToken })).body.data!.post.title).toBe('Valid');
  });
});

describe('deletePost', () => {
  it('lets the author delete their post; it is gone afterwards', async () => {
    const post = await createPost(server, alice.accessToken, { published: true });
    const res = await server.gql(DELETE_POST, { id: post.id }, { token: alice.accessToken });
    expect(res.body.data!.deletePost).toBe(true);
    expect((await server.gql(GET_POST, { id: post.id }, { token: alice.accessToken })).body.data!.post).toBeNull();
    expect(errorCode(await server.gql(DELETE_POST, { id: post.id }, { token: alice.accessToken }))).toBe('NOT_FOUND');
  });

  it('lets an ADMIN delete anyone’s post', async () => {
    const post = await createPost(server, alice.accessToken);
    expect((await server.gql(DELETE_POST, { id: post.id }, { token: admin.accessToken })).body.data!.deletePost).toBe(true);
    expect((await server.gql(GET_POST, { id: post.id }, { token: alice.accessToken })).body.data!.post).toBeNull();
  });

  it('answers FORBIDDEN to anyone else, and the post stays', async () => {
    const post = await createPost(server, alice.accessToken, { published: true });
    expect(errorCode(await server.gql(DELETE_POST, { id: post.id }, { token: bob.accessToken }))).toBe('FORBIDDEN');
    expect((await server.gql(GET_POST, { id: post.id }, { token: bob.accessToken })).body.data!.post.id).toBe(post.id);
  });

  it('answers UNAUTHENTICATED without a token, and the post stays', async () => {
    const post = await createPost(server, alice.accessToken, { published: true });
    expect(errorCode(await server.gql(DELETE_POST, { id: post.id }))).toBe('UNAUTHENTICATED');
    expect((await server.gql(GET_POST, { id: post.id }, { token: bob.accessToken })).body.data!.post.id).toBe(post.id);
  });

  it('answers NOT_FOUND for an unknown or malformed id', async () => {
    for (const id of [MISSING_ID, 'nope']) {
      expect(errorCode(await server.gql(DELETE_POST, { id }, { token: admin.accessToken }))).toBe('NOT_FOUND');
    }
  });
});
