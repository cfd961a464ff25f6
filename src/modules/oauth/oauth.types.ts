import { Field, ObjectType } from 'type-graphql';

@ObjectType('OAuthProvider')
export class OAuthProviderType {
  @Field(() => String)
  id!: string;

  @Field(() => String)
  name!: string;
}

@ObjectType('OAuthStart')
export class OAuthStartType {
  @Field(() => String, { description: "The provider's authorization URL to send the browser to" })
  authorizationUrl!: string;

  @Field(() => String)
  state!: string;
}

@ObjectType('Identity')
export class IdentityType {
  @Field(() => String)
  provider!: string;

  @Field(() => String)
  subject!: string;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => Date)
  createdAt!: Date;
}
