import { Field, ObjectType } from 'type-graphql';
import { UserType } from '../user/user.type';

@ObjectType('AuthPayload')
export class AuthPayload {
  @Field(() => String)
  accessToken!: string;

  @Field(() => Date)
  accessTokenExpiresAt!: Date;

  @Field(() => String, { nullable: true, description: 'null when REFRESH_TOKEN_TRANSPORT=cookie' })
  refreshToken!: string | null;

  @Field(() => Date)
  refreshTokenExpiresAt!: Date;

  @Field(() => UserType)
  user!: UserType;
}
