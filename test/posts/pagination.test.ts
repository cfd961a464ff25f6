import { randomUUID } from 'node:crypto';
import { FEED, FOLLOW, LIST_POSTS, createPost, ids, type Page, type PostData } from './posts-support';
import { signupAdmin, signupUser, startTestServer, uniqueEmail, type SignedUp, type TestServer } from '../kit';

let server: TestServer;
let admin: SignedUp;
const adminEmail = uniqueEmail('admin');

beforeAll(async () => {
  server = await startTestServer({ env: { ADMIN_EMAILS: adminEmail } });
  admin = await signupAdmin(server, adminEmail);
});
afterAll(() => server.close());

const prisma = () => server.app.infra.database.prisma;

/** Inserts published posts straight into the database (fast set-up for long lists). */
async function insertPosts(authorId: string, times: Date[]): Promise<string[]> {
  const rows = times.map((createdAt, i) => ({ id: randomUUID(), authorId, title: `bulk ${i}`, body: 'b', published: true, createdAt }));
  await prisma().post.createMany({ data: rows });
  return rows.map((r) => r.id);
}

/** The ids the database holds for this author's published posts, in the documented order. */
async function expectedOrder(authorId: string): Promise<string[]> {
  const rows = await prisma().post.findMany({
    where: { authorId, published: true },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

async function pageThrough(fetchPage: (after: string | null) => Promise<Page>, between?: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 50; guard++) {
    const page = await fetchPage(after);
    seen.push(...ids(page));
    if (page.edges.length) expect(page.pageInfo.endCursor).toBe(page.edges[page.edges.length - 1].cursor);
    if (!page.pageInfo.hasNextPage) return seen;
    after = page.pageInfo.endCursor;
    await between?.();
  }
  throw new Error('paging did not end');
}

describe('posts pagination', () => {
  it('pages newest first with ties broken by id, with no duplicates or gaps', async () => {
    const author = await signupUser(server);
    const same = new Date(Date.now() - 60_000);
    // five posts share one timestamp: only the id orders them
    await insertPosts(author.user.id, [new Date(same.getTime() + 1000), same, same, same, same, same, new Date(same.getTime() - 1000)]);
    const all = await expectedOrder(author.user.id);
    expect(all).toHaveLength(7);
    const seen = await pageThrough(
      async (after) =>
        (await server.gql(LIST_POSTS, { first: 2, after, authorId: author.user.id }, { token: admin.accessToken })).body.data!.posts,
    );
    expect(seen).toEqual(all);
  });

  it('shows no duplicates or gaps while the list is being appended to', async () => {
    const author = await signupUser(server);
    for (let i = 0; i < 7; i++) await createPost(server, author.accessToken, { title: `old ${i}`, published: true });
    const before = await expectedOrder(author.user.id);
    const added: string[] = [];
    const seen = await pageThrough(
      async (after) =>
        (await server.gql(LIST_POSTS, { first: 3, after, authorId: author.user.id }, { token: admin.accessToken })).body.data!.posts,
      async () => {
        added.push((await createPost(server, author.accessToken, { title: 'new', published: true })).id);
      },
    );
    expect(seen).toEqual(before);
    expect(added.length).toBeGreaterThan(0);
    // the new posts are at the head of a fresh first page
    const fresh = (await server.gql(LIST_POSTS, { first: added.length, authorId: author.user.id }, { token: admin.accessToken })).body.data!
      .posts as Page;
    expect(ids(fresh)).toEqual([...added].reverse());
  });

  it('clamps first to 1..100', async () => {
    const author = await signupUser(server);
    const base = Date.now() - 3_600_000;
    await insertPosts(
      author.user.id,
      Array.from({ length: 101 }, (_, i) => new Date(base - i * 1000)),
    );
    const list = async (first: number) =>
      (await server.gql(LIST_POSTS, { first, authorId: author.user.id }, { token: admin.accessToken })).body.data!.posts as Page;
    const huge = await list(100_000);
    expect(huge.edges).toHaveLength(100);
    expect(huge.pageInfo.hasNextPage).toBe(true);
    expect((await list(0)).edges).toHaveLength(1);
    expect((await list(-5)).edges).toHaveLength(1);
    const rest = (
      await server.gql(LIST_POSTS, { first: 100, after: huge.pageInfo.endCursor, authorId: author.user.id }, { token: admin.accessToken })
    ).body.data!.posts as Page;
    expect(rest.edges).toHaveLength(1);
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('uses opaque string cursors', async () => {
    const author = await signupUser(server);
    const post = await createPost(server, author.accessToken, { published: true });
    const page = (await server.gql(LIST_POSTS, { authorId: author.user.id }, { token: admin.accessToken })).body.data!.posts as Page;
    expect(page.edges[0].cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(page.edges[0].cursor).not.toContain(post.id);
  });
});

describe('feed pagination', () => {
  it('pages through the feed with no duplicates or gaps while followed users keep posting', async () => {
    const reader = await signupUser(server);
    const writers = [await signupUser(server), await signupUser(server)];
    for (const writer of writers) await server.gql(FOLLOW, { id: writer.user.id }, { token: reader.accessToken });
    for (let i = 0; i < 6; i++) await createPost(server, writers[i % 2].accessToken, { title: `f${i}`, published: true });
    const before = ids((await server.gql(FEED, { first: 100 }, { token: reader.accessToken })).body.data!.feed);
    expect(before).toHaveLength(6);
    let n = 0;
    const seen = await pageThrough(
      async (after) => (await server.gql(FEED, { first: 2, after }, { token: reader.accessToken })).body.data!.feed,
      async () => {
        await createPost(server, writers[n++ % 2].accessToken, { title: 'late', published: true });
      },
    );
    expect(seen).toEqual(before);
  });
});

describe('User.posts pagination', () => {
  it('pages through one user’s posts, with their drafts only for themself', async () => {
    const author = await signupUser(server);
    const made: PostData[] = [];
    for (let i = 0; i < 5; i++) made.push(await createPost(server, author.accessToken, { title: `u${i}`, published: i !== 2 }));
    const q = `query($id: ID!, $first: Int, $after: String) {
      user(id: $id) { posts(first: $first, after: $after) { edges { cursor node { id title published author { id } } } pageInfo { hasNextPage endCursor } } }
    }`;
    const page = (token: string) => async (after: string | null) =>
      (await server.gql(q, { id: author.user.id, first: 2, after }, { token })).body.data!.user.posts as Page;
    const newestFirst = made.map((p) => p.id).reverse();
    expect(await pageThrough(page(author.accessToken))).toEqual(newestFirst);
    expect(await pageThrough(page(admin.accessToken))).toEqual(newestFirst.filter((id) => id !== made[2].id));
    const me = await server.gql('{ me { posts(first: 100) { edges { node { id } } } } }', {}, { token: author.accessToken });
    expect(me.body.data!.me.posts.edges).toHaveLength(5);
  });
});

describe('users pagination', () => {
  it('shows no duplicates or gaps while users sign up between pages', async () => {
    for (let i = 0; i < 5; i++) await signupUser(server);
    const q =
      'query($first: Int, $after: String) { users(first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }';
    const snapshot = (await server.gql(q, { first: 6 }, { token: admin.accessToken })).body.data!.users as Page;
    const want = ids(snapshot);
    const seen: string[] = [];
    let after: string | null = null;
    while (seen.length < want.length) {
      const page = (await server.gql(q, { first: 2, after }, { token: admin.accessToken })).body.data!.users as Page;
      seen.push(...ids(page));
      after = page.pageInfo.endCursor;
      await signupUser(server);
    }
    expect(seen).toEqual(want);
  });
});
