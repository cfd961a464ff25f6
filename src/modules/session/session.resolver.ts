import { Arg, Ctx, Directive, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../../context';
import { isAppError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import { AssuranceLevel, AuthPayload } from './auth.types';
import type { SessionInfo } from './session.service';
import { LogoutScope, SessionType } from './session.type';

/** The services this resolver uses. */
type SessionContext = ResolverContext<'sessions' | 'refresh' | 'changePassword' | 'tokenDelivery'>;

/** Answers after which a refresh cookie can never work again, so the browser should drop it. */
const DEAD_REFRESH_TOKEN = new Set<string>([
  ErrorCode.REFRESH_TOKEN_INVALID,
  ErrorCode.REFRESH_TOKEN_EXPIRED,
  ErrorCode.REFRESH_TOKEN_REUSED,
  ErrorCode.SESSION_REVOKED,
]);

@Resolver()
export class SessionResolver {
  @Mutation(() => AuthPayload)
  @Directive('@public')
  async refreshToken(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null | undefined,
    @Ctx() ctx: SessionContext,
  ): Promise<AuthPayload> {
    const delivery = ctx.services.tokenDelivery;
    try {
      const issued = await ctx.services.refresh.rotate({
        refreshToken: delivery.presented(refreshToken, ctx.cookies),
        accessClaims: ctx.accessTokenClaims,
        meta: ctx.request,
      });
      return delivery.deliver(ctx.cookies, issued);
    } catch (error) {
      const fromCookie = refreshToken === undefined || refreshToken === null;
      if (fromCookie && isAppError(error) && DEAD_REFRESH_TOKEN.has(error.code)) delivery.clear(ctx.cookies);
      throw error;
    }
  }

  @Mutation(() => Boolean)
  @Directive('@public')
  async logout(
    @Arg('scope', () => LogoutScope, { nullable: true, defaultValue: LogoutScope.LOCAL }) scope: LogoutScope | null,
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null | undefined,
    @Ctx() ctx: SessionContext,
  ): Promise<boolean> {
    const delivery = ctx.services.tokenDelivery;
    await ctx.services.sessions.logout(
      scope ?? LogoutScope.LOCAL,
      { viewer: ctx.viewer, refreshToken: delivery.presented(refreshToken, ctx.cookies) },
      ctx.request,
    );
    delivery.clear(ctx.cookies);
    return true;
  }

  @Query(() => [SessionType])
  @Directive('@auth')
  async mySessions(@Ctx() ctx: SessionContext): Promise<SessionType[]> {
    const sessions: SessionInfo[] = await ctx.services.sessions.list(ctx.viewer!.userId, ctx.viewer!.sessionId);
    return sessions.map(({ aal, amr, ...session }) => ({
      ...session,
      assurance: aal === 'aal2' ? AssuranceLevel.AAL2 : AssuranceLevel.AAL1,
      methods: amr,
    }));
  }

  @Mutation(() => Boolean)
  @Directive('@auth')
  async revokeSession(@Arg('id', () => ID) id: string, @Ctx() ctx: SessionContext): Promise<boolean> {
    await ctx.services.sessions.revokeOwn(ctx.viewer!.userId, id, ctx.request);
    if (id === ctx.viewer!.sessionId) ctx.services.tokenDelivery.clear(ctx.cookies);
    return true;
  }

  @Mutation(() => AuthPayload)
  @Directive('@auth')
  async changePassword(
    @Arg('currentPassword', () => String) currentPassword: string,
    @Arg('newPassword', () => String) newPassword: string,
    @Ctx() ctx: SessionContext,
  ): Promise<AuthPayload> {
    const issued = await ctx.services.changePassword.change(ctx.viewer!, { currentPassword, newPassword }, ctx.request);
    return ctx.services.tokenDelivery.deliver(ctx.cookies, issued);
  }
}
