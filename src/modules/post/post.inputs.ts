import { IsOptional, Length, MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';

export const MAX_TITLE_LENGTH = 200;
export const MAX_BODY_LENGTH = 20_000;

// Text PostgreSQL cannot store (NUL, lone surrogates) is refused for every argument at once,
// by the schema's validateFn (src/schema/validate.ts), so no field here repeats that rule.

@InputType('CreatePostInput')
export class CreatePostInput {
  @Field(() => String)
  @Length(1, MAX_TITLE_LENGTH, { message: `must be 1 to ${MAX_TITLE_LENGTH} characters` })
  title!: string;

  @Field(() => String)
  @MaxLength(MAX_BODY_LENGTH, { message: `must be at most ${MAX_BODY_LENGTH} characters` })
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
  title?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(MAX_BODY_LENGTH, { message: `must be at most ${MAX_BODY_LENGTH} characters` })
  body?: string | null;

  @Field(() => Boolean, { nullable: true })
  published?: boolean | null;
}
