import { Arg, Ctx, Directive, Mutation, Resolver } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { AuthPayload } from '../session';
import { LoginInput, SignupInput } from './auth.inputs';

/** The services this resolver uses. */
type AuthContext = ResolverContext<'auth' | 'tokenDelivery'>;

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload)
  @Directive('@public')
  async signup(@Arg('input', () => SignupInput) input: SignupInput, @Ctx() ctx: AuthContext): Promise<AuthPayload> {
    const issued = await ctx.services.auth.signup(input, ctx.request);
    return ctx.services.tokenDelivery.deliver(ctx.cookies, issued);
  }

  @Mutation(() => AuthPayload)
  @Directive('@public')
  async login(@Arg('input', () => LoginInput) input: LoginInput, @Ctx() ctx: AuthContext): Promise<AuthPayload> {
    const issued = await ctx.services.auth.login(input, ctx.request);
    return ctx.services.tokenDelivery.deliver(ctx.cookies, issued);
  }
}
