/**
 * Per-request DataLoaders: every field that would read one row per parent (a post's author, a
 * user's follower count, a user's posts) asks a loader instead, and each loader reads all the
 * keys asked for in one tick with one statement. They are made per request, so nothing cached
 * outlives it and no viewer sees another viewer's data.
 */
import DataLoader from 'dataloader';
import type { Viewer } from './domain/types';
import type { PostPage } from './modules/post';
import type { UserRow } from './modules/user';
import type { Services } from './services';

export interface UserPostsKey {
  userId: string;
  first: number;
  after: string | null;
}

export interface Loaders {
  /** A user by id, or null. */
  user: DataLoader<string, UserRow | null>;
  followerCount: DataLoader<string, number>;
  followingCount: DataLoader<string, number>;
  /** One page of `User.posts`; keys with the same `first` and `after` share one statement. */
  userPosts: DataLoader<UserPostsKey, PostPage, string>;
}

/**
 * The request's loaders, each made on first use: most operations (`me`, a mutation) touch none
 * of them, and four DataLoaders per request are allocations for nothing.
 */
export function createLoaders(services: Services, viewer: Viewer | null): Loaders {
  let made: Loaders | undefined;
  const all = () => (made ??= makeLoaders(services, viewer));
  return {
    get user() {
      return all().user;
    },
    get followerCount() {
      return all().followerCount;
    },
    get followingCount() {
      return all().followingCount;
    },
    get userPosts() {
      return all().userPosts;
    },
  };
}

function makeLoaders(services: Services, viewer: Viewer | null): Loaders {
  const user = new DataLoader<string, UserRow | null>(async (ids) => {
    const rows = await services.users.findByIds(ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  // The viewer's row was read with the session check: their own posts need no author query.
  if (viewer) user.prime(viewer.userId, viewer.user);
  return {
    user,
    followerCount: new DataLoader(async (ids) => {
      const counts = await services.follows.followerCounts(ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
    followingCount: new DataLoader(async (ids) => {
      const counts = await services.follows.followingCounts(ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
    userPosts: new DataLoader(
      async (keys) => {
        const groups = new Map<string, UserPostsKey[]>();
        for (const key of keys) {
          const group = `${key.first}|${key.after ?? ''}`;
          groups.set(group, [...(groups.get(group) ?? []), key]);
        }
        const pages = new Map<string, PostPage>();
        await Promise.all(
          [...groups.entries()].map(async ([group, members]) => {
            const { first, after } = members[0];
            const byAuthor = await services.posts.pagesByAuthor(
              viewer,
              members.map((m) => m.userId),
              { first, after },
            );
            for (const member of members) pages.set(`${member.userId}|${group}`, byAuthor.get(member.userId)!);
          }),
        );
        return keys.map((key) => pages.get(userPostsCacheKey(key)) ?? { edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
      },
      { cacheKeyFn: userPostsCacheKey },
    ),
  };
}

function userPostsCacheKey(key: UserPostsKey): string {
  return `${key.userId}|${key.first}|${key.after ?? ''}`;
}
