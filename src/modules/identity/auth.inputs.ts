import { Length } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { CredentialsInput, IsAccountEmail, IsPassword } from '../../schema/validators';

@InputType('SignupInput')
export class SignupInput {
  @Field(() => String)
  @IsAccountEmail()
  email!: string;

  @Field(() => String)
  @IsPassword()
  password!: string;

  @Field(() => String)
  @Length(1, 100, { message: 'must be 1 to 100 characters' })
  name!: string;
}

// Login inputs are not validated for shape: any wrong email or password answers
// INVALID_CREDENTIALS, so the answer never tells which part was wrong. Text that cannot be
// stored (NUL, lone surrogates) is answered the same way, before any lookup.
@CredentialsInput()
@InputType('LoginInput')
export class LoginInput {
  @Field(() => String)
  email!: string;

  @Field(() => String)
  password!: string;
}
