import { GraphQLJSONObject } from 'graphql-scalars';
import { ArgsType, Field, Int, ObjectType } from 'type-graphql';

/** A presigned upload: send the file to `uploadUrl` with `method` and `headers`, then call finishAvatarUpload(key). */
@ObjectType('AvatarUpload')
export class AvatarUploadType {
  @Field(() => String)
  uploadUrl!: string;

  /** "PUT" (the file as the body) or "POST" (a form with `fields`, then the file). */
  @Field(() => String)
  method!: string;

  @Field(() => GraphQLJSONObject)
  headers!: Record<string, string>;

  @Field(() => GraphQLJSONObject, { nullable: true })
  fields!: Record<string, string> | null;

  @Field(() => String)
  key!: string;

  /** The most this upload may carry: the size given to startAvatarUpload, which it must match exactly. */
  @Field(() => Int)
  maxBytes!: number;

  @Field(() => Date)
  expiresAt!: Date;
}

/** startAvatarUpload's arguments, in the contract's order. */
@ArgsType()
export class StartAvatarUploadArgs {
  @Field(() => String)
  contentType!: string;

  @Field(() => Int)
  byteSize!: number;
}
