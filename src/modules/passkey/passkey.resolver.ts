import { GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Args, Ctx, Directive, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { AuthPayload } from '../session';
import { FinishPasskeyRegistrationArgs } from './passkey.inputs';
import { PasskeyObject } from './passkey.types';

type PasskeyContext = ResolverContext<'passkeys' | 'tokenDelivery'>;

/**
 * Passkey fields (docs/api.md §3). Registering and deleting take the default `@auth` rule, so a user
 * with MFA needs an AAL2 session for them; signing in is public.
 */
@Resolver()
export class PasskeyResolver {
  @Query(() => [PasskeyObject])
  @Directive('@auth')
  myPasskeys(@Ctx() ctx: PasskeyContext): Promise<PasskeyObject[]> {
    return ctx.services.passkeys.list(ctx.viewer!.userId);
  }

  @Mutation(() => GraphQLJSONObject, { description: 'PublicKeyCredentialCreationOptionsJSON for navigator.credentials.create' })
  @Directive('@auth')
  async startPasskeyRegistration(@Ctx() ctx: PasskeyContext): Promise<Record<string, unknown>> {
    return { ...(await ctx.services.passkeys.startRegistration(ctx.viewer!, ctx.request)) };
  }

  @Mutation(() => PasskeyObject)
  @Directive('@auth')
  finishPasskeyRegistration(
    @Args(() => FinishPasskeyRegistrationArgs) { response, name }: FinishPasskeyRegistrationArgs,
    @Ctx() ctx: PasskeyContext,
  ): Promise<PasskeyObject> {
    return ctx.services.passkeys.finishRegistration(ctx.viewer!, response, name, ctx.request);
  }

  @Mutation(() => GraphQLJSONObject, { description: 'PublicKeyCredentialRequestOptionsJSON for navigator.credentials.get' })
  @Directive('@public')
  async startPasskeyLogin(
    @Arg('email', () => String, { nullable: true }) email: string | null,
    @Ctx() ctx: PasskeyContext,
  ): Promise<Record<string, unknown>> {
    return { ...(await ctx.services.passkeys.startLogin(email, ctx.request)) };
  }

  @Mutation(() => AuthPayload)
  @Directive('@public')
  async finishPasskeyLogin(
    @Arg('response', () => GraphQLJSONObject, { description: "The browser's authentication response (PublicKeyCredential.toJSON())" })
    response: Record<string, unknown>,
    @Ctx() ctx: PasskeyContext,
  ): Promise<AuthPayload> {
    const issued = await ctx.services.passkeys.finishLogin(response, ctx.request);
    return ctx.services.tokenDelivery.deliver(ctx.cookies, issued);
  }

  @Mutation(() => Boolean)
  @Directive('@auth')
  deletePasskey(@Arg('id', () => ID) id: string, @Ctx() ctx: PasskeyContext): Promise<boolean> {
    return ctx.services.passkeys.remove(ctx.viewer!, id, ctx.request);
  }
}
