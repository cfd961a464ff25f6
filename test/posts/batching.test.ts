import { randomUUID } from 'node:crypto';
import { COUNTS, FOLLOW, createPost } from './posts-support';
import { signupAdmin, signupUser, startTestServer, uniqueEmail, type SignedUp, type TestServer } from '../kit';

let server: TestServer;
let admin: SignedUp;
let statements: string[] = [];
const adminEmail = uniqueEmail('admin');

beforeAll(async () => {
  server = await startTestServer({ env: { ADMIN_EMAILS: adminEmail }, onQuery: (event) => statements.push(event.query) });
  admin = await signupAdmin(server, adminEmail);
});
afterAll(() => server.close());

const prisma = () => server.app.infra.database.prisma;

/** Runs one operation and returns the SQL statements it sent. */
async function statementsOf(query: string, variables: Record<string, unknown>, token: string): Promise<string[]> {
  // The session check is answered from the viewer cache once warm: warm it, so every count
  // below is the operation's own statements.
  await server.gql('{ me { id } }', {}, { token });
  statements = [];
  const res = await server.gql(query, variables, { token });
  expect(res.body.errors).toBeUndefined();
  const sent = statements;
  statements = [];
  return sent;
}

describe('N+1-free reads', () => {
  const POSTS = 'query($first: Int) { posts(first: $first) { edges { node { id author { name followerCount } } } } }';

  beforeAll(async () => {
    // 10 authors, the newest users, each with a follower, and 60 published posts interleaved among them;
    // and enough older users that `users(first: 50)` is a full page even on a fresh database.
    const now = Date.now();
    const user = (label: string, createdAt: Date) => ({
      id: randomUUID(),
      email: uniqueEmail(label),
      name: label,
      passwordHash: 'x',
      avatarUrl: 'https://a.example/x.png',
      bio: 'b',
      createdAt,
    });
    const authors = Array.from({ length: 10 }, (_, i) => user(`author${i}`, new Date(now - i)));
    const others = Array.from({ length: 45 }, (_, i) => user(`reader${i}`, new Date(now - 86_400_000 - i)));
    await prisma().user.createMany({ data: [...authors, ...others] });
    await prisma().follow.createMany({ data: authors.map((a) => ({ followerId: admin.user.id, followingId: a.id })) });
    await prisma().post.createMany({
      data: Array.from({ length: 60 }, (_, i) => ({
        authorId: authors[i % 10].id,
        title: `p${i}`,
        body: 'b',
        published: true,
        createdAt: new Date(now - i * 10),
      })),
    });
  });

  it('posts { author { name followerCount } } sends as many statements for 50 posts as for 5', async () => {
    const five = await statementsOf(POSTS, { first: 5 }, admin.accessToken);
    const fifty = await statementsOf(POSTS, { first: 50 }, admin.accessToken);
    expect(fifty).toHaveLength(five.length);
    expect(five.length).toBeLessThanOrEqual(6);
    // The counter sees every statement: asking for authors costs exactly the two batched reads.
    const plain = await statementsOf(
      'query($first: Int) { posts(first: $first) { edges { node { id } } } }',
      { first: 50 },
      admin.accessToken,
    );
    expect(fifty.length - plain.length).toBe(2);
    const res = await server.gql(POSTS, { first: 50 }, { token: admin.accessToken });
    const names = new Set(res.body.data!.posts.edges.map((e: { node: { author: { name: string } } }) => e.node.author.name));
    expect(names.size).toBeGreaterThan(5);
  });

  it('feed, and users with their posts and counts, are batched the same way', async () => {
    const FEED = 'query($first: Int) { feed(first: $first) { edges { node { author { name followerCount followingCount } } } } }';
    const feed5 = await statementsOf(FEED, { first: 5 }, admin.accessToken);
    const feed50 = await statementsOf(FEED, { first: 50 }, admin.accessToken);
    expect(feed50).toHaveLength(feed5.length);

    const USERS = `query($first: Int) { users(first: $first) { edges { node {
      followerCount followingCount posts(first: 3) { edges { node { title author { name } } } }
    } } } }`;
    const users5 = await statementsOf(USERS, { first: 5 }, admin.accessToken);
    const users50 = await statementsOf(USERS, { first: 50 }, admin.accessToken);
    expect(users50).toHaveLength(users5.length);
  });

  it('User.posts pages are right for every user of a batch', async () => {
    const [a, b] = [await signupUser(server), await signupUser(server)];
    const pa = [await createPost(server, a.accessToken, { published: true }), await createPost(server, a.accessToken, { published: true })];
    await createPost(server, a.accessToken); // a draft: hidden from others
    const pb = await createPost(server, b.accessToken, { published: true });
    const res = await server.gql(
      `query($a: ID!, $b: ID!) {
        a: user(id: $a) { posts(first: 1) { edges { node { id } } pageInfo { hasNextPage } } }
        b: user(id: $b) { posts(first: 1) { edges { node { id } } pageInfo { hasNextPage } } }
      }`,
      { a: a.user.id, b: b.user.id },
      { token: b.accessToken },
    );
    expect(res.body.data).toEqual({
      a: { posts: { edges: [{ node: { id: pa[1].id } }], pageInfo: { hasNextPage: true } } },
      b: { posts: { edges: [{ node: { id: pb.id } }], pageInfo: { hasNextPage: false } } },
    });
  });
});

describe('deleting a user', () => {
  async function userWithPostsAndFollows() {
    const [victim, followed, follower] = [await signupUser(server), await signupUser(server), await signupUser(server)];
    await createPost(server, victim.accessToken, { published: true });
    await createPost(server, victim.accessToken);
    await server.gql(FOLLOW, { id: followed.user.id }, { token: victim.accessToken });
    await server.gql(FOLLOW, { id: victim.user.id }, { token: follower.accessToken });
    const left = async () => ({
      posts: await prisma().post.count({ where: { authorId: victim.user.id } }),
      follows: await prisma().follow.count({ where: { OR: [{ followerId: victim.user.id }, { followingId: victim.user.id }] } }),
    });
    expect(await left()).toEqual({ posts: 2, follows: 2 });
    return { victim, followed, follower, left };
  }

  /** One DELETE, on "User": the posts and follows go with it through ON DELETE CASCADE, atomically. */
  const expectOneDelete = (sent: string[]) => {
    const deletes = sent.filter((sql) => /^\s*DELETE\b/i.test(sql));
    expect(deletes).toHaveLength(1);
    expect(deletes[0]).toMatch(/"User"/);
  };

  it('deleteMe removes their posts and follows in the same statement', async () => {
    const { victim, followed, follower, left } = await userWithPostsAndFollows();
    expectOneDelete(await statementsOf('mutation($pw: String!) { deleteMe(password: $pw) }', { pw: victim.password }, victim.accessToken));
    expect(await left()).toEqual({ posts: 0, follows: 0 });
    expect((await server.gql(COUNTS, { id: followed.user.id }, { token: followed.accessToken })).body.data!.user.followerCount).toBe(0);
    expect((await server.gql(COUNTS, { id: follower.user.id }, { token: follower.accessToken })).body.data!.user.followingCount).toBe(0);
  });

  it('deleteUser removes their posts and follows in the same statement', async () => {
    const { victim, followed, follower, left } = await userWithPostsAndFollows();
    expectOneDelete(await statementsOf('mutation($id: ID!) { deleteUser(userId: $id) }', { id: victim.user.id }, admin.accessToken));
    expect(await left()).toEqual({ posts: 0, follows: 0 });
    expect((await server.gql(COUNTS, { id: followed.user.id }, { token: followed.accessToken })).body.data!.user.followerCount).toBe(0);
    expect((await server.gql(COUNTS, { id: follower.user.id }, { token: follower.accessToken })).body.data!.user.followingCount).toBe(0);
  });
});
