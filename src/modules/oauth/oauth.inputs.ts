import { ArgsType, Field } from 'type-graphql';

/** startOAuthLogin / startOAuthLink, in docs/api.md's argument order. */
@ArgsType()
export class OAuthStartArgs {
  @Field(() => String)
  provider!: string;

  @Field(() => String)
  redirectUri!: string;
}

/** finishOAuthLogin / finishOAuthLink: the `code` and `state` the provider sent back to the redirect URI. */
@ArgsType()
export class OAuthFinishArgs {
  @Field(() => String)
  provider!: string;

  @Field(() => String)
  code!: string;

  @Field(() => String)
  state!: string;
}
