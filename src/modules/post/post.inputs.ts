import { IsOptional, Length, Matches, MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';

export const MAX_TITLE_LENGTH = 200;
export const MAX_BODY_LENGTH = 20_000;

// PostgreSQL text cannot hold U+0000; refusing it here keeps it a BAD_USER_INPUT, not a 500.
const NO_NUL = /^[^\u0000]*$/;
const NO_NUL_MESSAGE = 'must not contain NUL characters';

@InputType('CreatePostInput')
export class CreatePostInput {
  @Field(() => String)
  @Length(1, MAX_TITLE_LENGTH, { message: `must be 1 to ${MAX_TITLE_LENGTH} characters` })
  @Matches(NO_NUL, { message: NO_NUL_MESSAGE })
  title!: string;

  @Field(() => String)
  @MaxLength(MAX_BODY_LENGTH, { message: `must be at most ${MAX_BODY_LENGTH} characters` })
  @Matches(NO_NUL, { message: NO_NUL_MESSAGE })
  body!: string;

  /** Posts are drafts unless published is set. */
  @Field(() => Boolean, { nullable: true, defaultValue: false })
  published?: boolean | null;
}

/** Only the fields given change; null is treated like a missing field. */
@InputType('UpdatePostInput')
export class UpdatePostInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, MAX_TITLE_LENGTH, { message: `must be 1 to ${MAX_TITLE_LENGTH} characters` })
  @Matches(NO_NUL, { message: NO_NUL_MESSAGE })
  title?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(MAX_BODY_LENGTH, { message: `must be at most ${MAX_BODY_LENGTH} characters` })
  @Matches(NO_NUL, { message: NO_NUL_MESSAGE })
  body?: string | null;

  @Field(() => Boolean, { nullable: true })
  published?: boolean | null;
}
