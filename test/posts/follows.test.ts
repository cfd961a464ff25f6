import { COUNTS, FEED, FOLLOW, MISSING_ID, UNFOLLOW, createPost, ids, type Page } from './posts-support';
import { errorCode, signupUser, startTestServer, type SignedUp, type TestServer } from '../kit';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const counts = async (viewer: SignedUp, user: SignedUp) =>
  (await server.gql(COUNTS, { id: user.user.id }, { token: viewer.accessToken })).body.data!.user as {
    followerCount: number;
    followingCount: number;
  };

describe('follow and unfollow', () => {
  it('follows a user and counts it on both sides', async () => {
    const [ann, ben] = [await signupUser(server), await signupUser(server)];
    expect(await counts(ann, ben)).toMatchObject({ followerCount: 0, followingCount: 0 });
    const res = await server.gql(FOLLOW, { id: ben.user.id }, { token: ann.accessToken });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.follow).toEqual({ id: ben.user.id, followerCount: 1, followingCount: 0 });
    expect(await counts(ben, ann)).toMatchObject({ followerCount: 0, followingCount: 1 });
  });

  it('is idempotent: following twice, or in parallel, counts once; unfollowing twice is fine', async () => {
    const [ann, ben] = [await signupUser(server), await signupUser(server)];
    const parallel = await Promise.all(
      Array.from({ length: 5 }, () => server.gql(FOLLOW, { id: ben.user.id }, { token: ann.accessToken })),
    );
    for (const res of parallel) expect(res.body.errors).toBeUndefined();
    expect((await server.gql(FOLLOW, { id: ben.user.id }, { token: ann.accessToken })).body.data!.follow.followerCount).toBe(1);
    const first = await server.gql(UNFOLLOW, { id: ben.user.id }, { token: ann.accessToken });
    expect(first.body.data!.unfollow).toEqual({ id: ben.user.id, followerCount: 0, followingCount: 0 });
    const again = await server.gql(UNFOLLOW, { id: ben.user.id }, { token: ann.accessToken });
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data!.unfollow.followerCount).toBe(0);
    expect(await counts(ann, ann)).toMatchObject({ followingCount: 0 });
  });

  it('shows fresh counts after each of several mutations in one operation', async () => {
    const [ann, ben] = [await signupUser(server), await signupUser(server)];
    const res = await server.gql(
      `mutation($id: ID!) {
        a: follow(userId: $id) { followerCount }
        b: unfollow(userId: $id) { followerCount }
        c: follow(userId: $id) { followerCount }
      }`,
      { id: ben.user.id },
      { token: ann.accessToken },
    );
    expect(res.body.data).toEqual({ a: { followerCount: 1 }, b: { followerCount: 0 }, c: { followerCount: 1 } });
  });

  it('refuses to follow or unfollow oneself with BAD_USER_INPUT on userId', async () => {
    const ann = await signupUser(server);
    for (const mutation of [FOLLOW, UNFOLLOW]) {
      const res = await server.gql(mutation, { id: ann.user.id }, { token: ann.accessToken });
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
      expect(res.body.errors![0].extensions!.fields).toHaveProperty('userId');
    }
    expect(await counts(ann, ann)).toMatchObject({ followerCount: 0, followingCount: 0 });
  });

  it('answers NOT_FOUND for an unknown or malformed user id', async () => {
    const ann = await signupUser(server);
    for (const mutation of [FOLLOW, UNFOLLOW]) {
      for (const id of [MISSING_ID, 'nope']) {
        expect(errorCode(await server.gql(mutation, { id }, { token: ann.accessToken }))).toBe('NOT_FOUND');
      }
    }
  });

  it('answers UNAUTHENTICATED without a token, and nothing changes', async () => {
    const [ann, ben] = [await signupUser(server), await signupUser(server)];
    await server.gql(FOLLOW, { id: ben.user.id }, { token: ann.accessToken });
    expect(errorCode(await server.gql(FOLLOW, { id: ann.user.id }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await server.gql(UNFOLLOW, { id: ben.user.id }))).toBe('UNAUTHENTICATED');
    expect(await counts(ann, ann)).toMatchObject({ followerCount: 0, followingCount: 1 });
  });
});

describe('feed', () => {
  it('shows published posts by followed users only, newest first', async () => {
    const [reader, followed, other, alsoFollowed] = [
      await signupUser(server),
      await signupUser(server),
      await signupUser(server),
      await signupUser(server),
    ];
    await server.gql(FOLLOW, { id: followed.user.id }, { token: reader.accessToken });
    await server.gql(FOLLOW, { id: alsoFollowed.user.id }, { token: reader.accessToken });
    const p1 = await createPost(server, followed.accessToken, { title: 'p1', published: true });
    await createPost(server, followed.accessToken, { title: 'draft' });
    await createPost(server, other.accessToken, { title: 'not followed', published: true });
    const p2 = await createPost(server, alsoFollowed.accessToken, { title: 'p2', published: true });
    await createPost(server, reader.accessToken, { title: 'own', published: true });
    const p3 = await createPost(server, followed.accessToken, { title: 'p3', published: true });

    const feed = (await server.gql(FEED, {}, { token: reader.accessToken })).body.data!.feed as Page;
    expect(ids(feed)).toEqual([p3.id, p2.id, p1.id]);
    expect(feed.pageInfo.hasNextPage).toBe(false);

    await server.gql(UNFOLLOW, { id: alsoFollowed.user.id }, { token: reader.accessToken });
    const after = (await server.gql(FEED, {}, { token: reader.accessToken })).body.data!.feed as Page;
    expect(ids(after)).toEqual([p3.id, p1.id]);
  });

  it('is empty for a user who follows nobody', async () => {
    const loner = await signupUser(server);
    const feed = (await server.gql(FEED, {}, { token: loner.accessToken })).body.data!.feed;
    expect(feed).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('answers UNAUTHENTICATED without a token', async () => {
    expect(errorCode(await server.gql(FEED, {}))).toBe('UNAUTHENTICATED');
  });
});
