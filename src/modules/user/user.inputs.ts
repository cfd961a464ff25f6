import { IsOptional, IsUrl, Length, MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';

@InputType('UpdateMeInput')
export class UpdateMeInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 100, { message: 'must be 1 to 100 characters' })
  name?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(500, { message: 'must be at most 500 characters' })
  bio?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(2048, { message: 'must be at most 2048 characters' })
  @IsUrl({ protocols: ['https', 'http'], require_protocol: true }, { message: 'must be an http(s) URL' })
  avatarUrl?: string | null;
}
