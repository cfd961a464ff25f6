import { Field, ID, ObjectType } from 'type-graphql';
import { PageInfo } from '../../schema/pagination';

/** A post as clients see it; `author` is a field resolver (PostResolver.author) batched per request. */
@ObjectType('Post')
export class PostType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  title!: string;

  @Field(() => String)
  body!: string;

  @Field(() => Boolean)
  published!: boolean;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType('PostEdge')
export class PostEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => PostType)
  node!: PostType;
}

@ObjectType('PostConnection')
export class PostConnection {
  @Field(() => [PostEdge])
  edges!: PostEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
