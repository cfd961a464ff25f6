import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { UserType } from '../user';

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

  @Field(() => AssuranceLevel)
  assurance!: AssuranceLevel;

  @Field(() => Boolean, { description: 'the user has a verified factor and this session is still AAL1: call verifyMfa' })
  mfaRequired!: boolean;
}

/** How strongly a session was authenticated (NIST SP 800-63B): AAL1 one factor, AAL2 two. */
export enum AssuranceLevel {
  AAL1 = 'AAL1',
  AAL2 = 'AAL2',
}
registerEnumType(AssuranceLevel, { name: 'AssuranceLevel' });
