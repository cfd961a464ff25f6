import { Arg, Ctx, Directive, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { AuthPayload } from '../session';
import { MfaActivation, MfaFactorObject, MfaFactorType, TotpEnrollment } from './mfa.types';

type MfaContext = ResolverContext<'mfa' | 'tokenDelivery'>;

/**
 * MFA fields. Their `@auth` rules are the contract's: `myMfaFactors` and `verifyMfa` let an AAL1
 * session through (it needs them to reach AAL2); the rest take the default rule, so once a user
 * has a verified factor they need AAL2.
 */
@Resolver()
export class MfaResolver {
  @Query(() => [MfaFactorObject])
  @Directive('@auth(assurance: AAL1)')
  async myMfaFactors(@Ctx() ctx: MfaContext): Promise<MfaFactorObject[]> {
    const factors = await ctx.services.mfa.list(ctx.viewer!.userId);
    return factors.map((factor) => ({ ...factor, type: MfaFactorType.TOTP }));
  }

  @Mutation(() => TotpEnrollment)
  @Directive('@auth')
  enrollTotp(@Arg('name', () => String, { nullable: true }) name: string | null, @Ctx() ctx: MfaContext): Promise<TotpEnrollment> {
    return ctx.services.mfa.enrollTotp(ctx.viewer!, name, ctx.request);
  }

  @Mutation(() => MfaActivation)
  @Directive('@auth')
  async activateTotp(
    @Arg('factorId', () => ID) factorId: string,
    @Arg('code', () => String) code: string,
    @Ctx() ctx: MfaContext,
  ): Promise<MfaActivation> {
    const { recoveryCodes, issued } = await ctx.services.mfa.activateTotp(ctx.viewer!, factorId, code, ctx.request);
    return { recoveryCodes, auth: ctx.services.tokenDelivery.deliver(ctx.cookies, issued) };
  }

  @Mutation(() => AuthPayload)
  @Directive('@auth(assurance: AAL1)')
  async verifyMfa(@Arg('code', () => String) code: string, @Ctx() ctx: MfaContext): Promise<AuthPayload> {
    const issued = await ctx.services.mfa.verify(ctx.viewer!, code, ctx.request);
    return ctx.services.tokenDelivery.deliver(ctx.cookies, issued);
  }

  @Mutation(() => Boolean)
  @Directive('@auth')
  async removeMfaFactor(@Arg('id', () => ID) id: string, @Ctx() ctx: MfaContext): Promise<boolean> {
    await ctx.services.mfa.remove(ctx.viewer!, id, ctx.request);
    return true;
  }

  @Mutation(() => [String])
  @Directive('@auth')
  regenerateRecoveryCodes(@Ctx() ctx: MfaContext): Promise<string[]> {
    return ctx.services.mfa.regenerateRecoveryCodes(ctx.viewer!, ctx.request);
  }

  @Mutation(() => Boolean)
  @Directive('@auth(requires: ADMIN)')
  async resetUserMfa(@Arg('userId', () => ID) userId: string, @Ctx() ctx: MfaContext): Promise<boolean> {
    await ctx.services.mfa.resetUser(ctx.viewer!, userId, ctx.request);
    return true;
  }
}
