import { Field, ID, ObjectType } from 'type-graphql';

/** A passkey as its user sees it. The public key and the credential id are never exposed. */
@ObjectType('Passkey')
export class PasskeyObject {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => Boolean, {
    description: 'The authenticator reports the credential as backed up (synced), at registration or its latest sign-in',
  })
  backedUp!: boolean;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;
}
