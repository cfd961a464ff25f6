import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { LogoutScope } from './session.service';
import { AssuranceLevel } from './auth.types';

registerEnumType(LogoutScope, {
  name: 'LogoutScope',
  description: 'Which sessions logout ends: this one (LOCAL), every other one (OTHERS), or all (GLOBAL).',
  valuesConfig: {
    LOCAL: { description: 'the session of the token sent' },
    OTHERS: { description: 'every other session of the user' },
    GLOBAL: { description: 'every session of the user' },
  },
});

export { LogoutScope };

/** A signed-in device, as its user sees it in mySessions. No token or hash is ever exposed. */
@ObjectType('Session')
export class SessionType {
  @Field(() => ID)
  id!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { description: 'the last sign-in or refresh (not every request)' })
  lastUsedAt!: Date;

  @Field(() => Date, { description: 'when the refresh token lapses unless used; never past the absolute lifetime' })
  expiresAt!: Date;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field(() => String, { nullable: true, description: 'the client IP at the last sign-in or refresh' })
  ip!: string | null;

  @Field(() => Boolean, { description: 'true for the session of the access token sent' })
  current!: boolean;

  @Field(() => AssuranceLevel)
  assurance!: AssuranceLevel;

  @Field(() => [String], { description: 'the session\'s amr values, e.g. ["pwd"], ["pwd", "otp", "mfa"]' })
  methods!: string[];
}
