import { ArgsType, Field } from 'type-graphql';
import { IsPassword } from '../../schema/validators';

/** resetPassword's arguments; the new password follows signup's rule (BAD_USER_INPUT on `newPassword`). */
@ArgsType()
export class ResetPasswordArgs {
  @Field(() => String)
  token!: string;

  @Field(() => String)
  @IsPassword()
  newPassword!: string;
}
