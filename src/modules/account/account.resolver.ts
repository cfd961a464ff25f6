import { Arg, Args, Ctx, Directive, Mutation, Resolver } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { UserType, type UserRow } from '../user';
import { ResetPasswordArgs } from './account.inputs';

/** The services this resolver uses. */
type AccountContext = ResolverContext<'verification' | 'passwordReset'>;

@Resolver()
export class AccountResolver {
  @Mutation(() => Boolean)
  @Directive('@auth')
  requestEmailVerification(@Ctx() ctx: AccountContext): Promise<boolean> {
    return ctx.services.verification.request(ctx.viewer!.user, ctx.request);
  }

  @Mutation(() => UserType)
  @Directive('@auth')
  verifyEmail(@Arg('code', () => String) code: string, @Ctx() ctx: AccountContext): Promise<UserRow> {
    return ctx.services.verification.verify(ctx.viewer!.user, code, ctx.request);
  }

  @Mutation(() => Boolean)
  @Directive('@public')
  requestPasswordReset(@Arg('email', () => String) email: string, @Ctx() ctx: AccountContext): Promise<boolean> {
    return ctx.services.passwordReset.request(email, ctx.request);
  }

  @Mutation(() => Boolean)
  @Directive('@public')
  resetPassword(@Args(() => ResetPasswordArgs) args: ResetPasswordArgs, @Ctx() ctx: AccountContext): Promise<boolean> {
    return ctx.services.passwordReset.reset(args, ctx.request);
  }
}
