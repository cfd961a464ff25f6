import { Arg, Ctx, Directive, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { clampFirst } from '../../schema/pagination';
import { Role } from './role';
import { UpdateMeInput } from './user.inputs';
import type { Actor, UserRow } from './user.service';
import { UserConnection, UserType, ownRows } from './user.type';

/** The services this resolver uses. */
type UserContext = ResolverContext<'users' | 'tokenDelivery'>;

/** The signed-in viewer as the actor of an audited change. */
const actorOf = (ctx: UserContext): Actor => ({ userId: ctx.viewer!.userId, sessionId: ctx.viewer!.sessionId, meta: ctx.request });

@Resolver(() => UserType)
export class UserResolver {
  @Query(() => UserType)
  @Directive('@auth(assurance: AAL1)')
  me(@Ctx() ctx: UserContext): UserRow {
    return ctx.viewer!.user;
  }

  @Query(() => UserType, { nullable: true })
  @Directive('@auth')
  user(@Arg('id', () => ID) id: string, @Ctx() ctx: UserContext): Promise<UserRow | null> {
    return ctx.services.users.findById(id);
  }

  @Query(() => UserConnection)
  @Directive('@auth(requires: ADMIN)')
  users(
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null | undefined,
    @Ctx() ctx: UserContext,
  ) {
    return ctx.services.users.list({ first: clampFirst(first), after });
  }

  @Mutation(() => UserType)
  @Directive('@auth')
  updateMe(@Arg('input', () => UpdateMeInput) input: UpdateMeInput, @Ctx() ctx: UserContext): Promise<UserRow> {
    return ctx.services.users.updateProfile(ctx.viewer!.userId, input);
  }

  @Mutation(() => Boolean)
  @Directive('@auth')
  async deleteMe(@Arg('password', () => String) password: string, @Ctx() ctx: UserContext): Promise<boolean> {
    await ctx.services.users.deleteSelf(ctx.viewer!.userId, password, actorOf(ctx));
    ctx.services.tokenDelivery.clear(ctx.cookies);
    return true;
  }

  @Mutation(() => UserType)
  @Directive('@auth(requires: ADMIN)')
  setUserRole(@Arg('userId', () => ID) userId: string, @Arg('role', () => Role) role: Role, @Ctx() ctx: UserContext): Promise<UserRow> {
    return ctx.services.users.setRole(userId, role, actorOf(ctx));
  }

  @Mutation(() => Boolean)
  @Directive('@auth(requires: ADMIN)')
  async deleteUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: UserContext): Promise<boolean> {
    await ctx.services.users.deleteById(userId, actorOf(ctx));
    return true;
  }

  /** Email is private: null unless the viewer is this user or an ADMIN. */
  @FieldResolver(() => String, { nullable: true })
  email(@Root() user: UserRow, @Ctx() ctx: UserContext): string | null {
    const viewer = ctx.viewer;
    const allowed = ownRows.has(user) || (viewer !== null && (viewer.userId === user.id || viewer.role === 'ADMIN'));
    return allowed ? user.email : null;
  }
}
