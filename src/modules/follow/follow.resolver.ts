import { Arg, Ctx, Directive, FieldResolver, ID, Int, Mutation, Resolver, Root } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { type UserRow, UserType } from '../user';

/** The services this resolver uses. */
type FollowContext = ResolverContext<'follows'>;

/** follow / unfollow, and the follower counts they change, added to the user module's type. */
@Resolver(() => UserType)
export class FollowResolver {
  @Mutation(() => UserType)
  @Directive('@auth')
  async follow(@Arg('userId', () => ID) userId: string, @Ctx() ctx: FollowContext): Promise<UserRow> {
    const user = await ctx.services.follows.follow(ctx.viewer!.userId, userId);
    forgetCounts(ctx);
    return user;
  }

  @Mutation(() => UserType)
  @Directive('@auth')
  async unfollow(@Arg('userId', () => ID) userId: string, @Ctx() ctx: FollowContext): Promise<UserRow> {
    const user = await ctx.services.follows.unfollow(ctx.viewer!.userId, userId);
    forgetCounts(ctx);
    return user;
  }

  /** Batched per request: one statement for every user on a page. */
  @FieldResolver(() => Int)
  followerCount(@Root() user: UserRow, @Ctx() ctx: FollowContext): Promise<number> {
    return ctx.loaders.followerCount.load(user.id);
  }

  /** Batched per request: one statement for every user on a page. */
  @FieldResolver(() => Int)
  followingCount(@Root() user: UserRow, @Ctx() ctx: FollowContext): Promise<number> {
    return ctx.loaders.followingCount.load(user.id);
  }
}

/** Counts read earlier in this request (an earlier mutation of the same operation) are stale now. */
function forgetCounts(ctx: FollowContext): void {
  ctx.loaders.followerCount.clearAll();
  ctx.loaders.followingCount.clearAll();
}
