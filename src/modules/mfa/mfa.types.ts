import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { AuthPayload } from '../session';

export { AssuranceLevel } from '../session';

export enum MfaFactorType {
  TOTP = 'TOTP',
}
registerEnumType(MfaFactorType, { name: 'MfaFactorType' });

/** A second factor as its user sees it. The secret is never exposed after enrolTotp. */
@ObjectType('MfaFactor')
export class MfaFactorObject {
  @Field(() => ID)
  id!: string;

  @Field(() => MfaFactorType)
  type!: MfaFactorType;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => Boolean)
  verified!: boolean;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;
}

@ObjectType('TotpEnrollment')
export class TotpEnrollment {
  @Field(() => ID)
  factorId!: string;

  @Field(() => String, { description: 'the base32 secret, shown once, for manual entry' })
  secret!: string;

  @Field(() => String, { description: 'otpauth://totp/Warden:<email>?secret=…&issuer=Warden, for a QR code' })
  otpauthUri!: string;
}

@ObjectType('MfaActivation')
export class MfaActivation {
  @Field(() => [String], { description: 'ten single-use recovery codes, shown only now' })
  recoveryCodes!: string[];

  @Field(() => AuthPayload)
  auth!: AuthPayload;
}
