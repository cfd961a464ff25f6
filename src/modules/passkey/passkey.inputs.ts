import { GraphQLJSONObject } from 'graphql-scalars';
import { ArgsType, Field } from 'type-graphql';

/** finishPasskeyRegistration, in docs/api.md's argument order. */
@ArgsType()
export class FinishPasskeyRegistrationArgs {
  @Field(() => GraphQLJSONObject, { description: "The browser's registration response (PublicKeyCredential.toJSON())" })
  response!: Record<string, unknown>;

  @Field(() => String, { nullable: true, description: 'A label for the passkey (at most 64 characters)' })
  name?: string | null;
}
