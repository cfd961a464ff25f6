import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { clampFirst } from '../../schema/pagination';
import { type UserRow, UserType } from '../user';
import type { PostPage } from './post.service';
import { PostConnection } from './post.type';

/** The services this resolver uses (none: it reads through the per-request loaders). */
type UserPostsContext = ResolverContext<never>;

/** `User.posts`, added to the user module's type from here so the post feature stays in one place. */
@Resolver(() => UserType)
export class UserPostsResolver {
  /** Published posts of this user, newest first (their drafts too when it is the viewer); batched per request. */
  @FieldResolver(() => PostConnection)
  posts(
    @Root() user: UserRow,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null | undefined,
    @Ctx() ctx: UserPostsContext,
  ): Promise<PostPage> {
    return ctx.loaders.userPosts.load({ userId: user.id, first: clampFirst(first), after: after ?? null });
  }
}
