import { Arg, Args, Ctx, Directive, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../../context';
import { type UserRow, UserType } from '../user';
import type { AvatarUploadResult } from './avatar.service';
import { AvatarUploadType, StartAvatarUploadArgs } from './avatar.type';

@Resolver()
export class AvatarResolver {
  @Mutation(() => AvatarUploadType)
  @Directive('@auth')
  startAvatarUpload(@Args(() => StartAvatarUploadArgs) args: StartAvatarUploadArgs, @Ctx() ctx: Context): Promise<AvatarUploadResult> {
    return ctx.services.avatars.start(ctx.viewer!.userId, args.contentType, args.byteSize);
  }

  @Mutation(() => UserType)
  @Directive('@auth')
  finishAvatarUpload(@Arg('key', () => String) key: string, @Ctx() ctx: Context): Promise<UserRow> {
    return ctx.services.avatars.finish(ctx.viewer!.userId, key);
  }
}
