import { Arg, Args, Ctx, Directive, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { AuthPayload } from '../session';
import { IdentityType, OAuthProviderType, OAuthStartType } from './oauth.types';
import { OAuthFinishArgs, OAuthStartArgs } from './oauth.inputs';

/** The services this resolver uses. */
type OAuthContext = ResolverContext<'oauth' | 'tokenDelivery'>;

@Resolver()
export class OAuthResolver {
  @Query(() => [OAuthProviderType])
  @Directive('@public')
  oauthProviders(@Ctx() ctx: OAuthContext): OAuthProviderType[] {
    return ctx.services.oauth.providers();
  }

  @Query(() => [IdentityType])
  @Directive('@auth')
  myIdentities(@Ctx() ctx: OAuthContext): Promise<IdentityType[]> {
    return ctx.services.oauth.identities(ctx.viewer!.userId);
  }

  @Mutation(() => OAuthStartType)
  @Directive('@public')
  startOAuthLogin(
    @Args(() => OAuthStartArgs) { provider, redirectUri }: OAuthStartArgs,
    @Ctx() ctx: OAuthContext,
  ): Promise<OAuthStartType> {
    return ctx.services.oauth.start({ provider, redirectUri }, 'login', null, ctx.cookies, ctx.request);
  }

  @Mutation(() => AuthPayload)
  @Directive('@public')
  async finishOAuthLogin(
    @Args(() => OAuthFinishArgs) { provider, code, state }: OAuthFinishArgs,
    @Ctx() ctx: OAuthContext,
  ): Promise<AuthPayload> {
    const issued = await ctx.services.oauth.finishLogin({ provider, code, state }, ctx.cookies, ctx.request);
    return ctx.services.tokenDelivery.deliver(ctx.cookies, issued);
  }

  @Mutation(() => OAuthStartType)
  @Directive('@auth')
  startOAuthLink(@Args(() => OAuthStartArgs) { provider, redirectUri }: OAuthStartArgs, @Ctx() ctx: OAuthContext): Promise<OAuthStartType> {
    return ctx.services.oauth.start({ provider, redirectUri }, 'link', ctx.viewer!.userId, ctx.cookies, ctx.request);
  }

  @Mutation(() => IdentityType)
  @Directive('@auth')
  finishOAuthLink(
    @Args(() => OAuthFinishArgs) { provider, code, state }: OAuthFinishArgs,
    @Ctx() ctx: OAuthContext,
  ): Promise<IdentityType> {
    return ctx.services.oauth.finishLink({ provider, code, state }, ctx.viewer!.userId, ctx.cookies, ctx.request);
  }

  @Mutation(() => Boolean)
  @Directive('@auth')
  unlinkOAuthIdentity(@Arg('provider', () => String) provider: string, @Ctx() ctx: OAuthContext): Promise<boolean> {
    return ctx.services.oauth.unlink(ctx.viewer!.userId, provider, ctx.request);
  }
}
