import { Arg, Args, Ctx, Directive, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../../context';
import { UserType } from '../user/user.type';
import type { UserRow } from '../user/user.service';
import { ResetPasswordArgs } from './account.inputs';

@Resolver()
export class AccountResolver {
  @Mutation(() => Boolean)
  @Directive('@auth')
  requestEmailVerification(@Ctx() ctx: Context): Promise<boolean> {
    return ctx.services.verification.request(ctx.viewer!.user, ctx.request);
  }

  @Mutation(() => UserType)
  @Directive('@auth')
  verifyEmail(@Arg('code', () => String) code: string, @Ctx() ctx: Context): Promise<UserRow> {
    return ctx.services.verification.verify(ctx.viewer!.user, code, ctx.request);
  }

  @Mutation(() => Boolean)
  @Directive('@public')
  requestPasswordReset(@Arg('email', () => String) email: string, @Ctx() ctx: Context): Promise<boolean> {
    return ctx.services.passwordReset.request(email, ctx.request);
  }

  @Mutation(() => Boolean)
  @Directive('@public')
  resetPassword(@Args(() => ResetPasswordArgs) args: ResetPasswordArgs, @Ctx() ctx: Context): Promise<boolean> {
    return ctx.services.passwordReset.reset(args, ctx.request);
  }
}
