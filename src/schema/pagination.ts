/**
 * The GraphQL side of pagination: the PageInfo type. Cursors, clamping and connections are
 * plain functions in lib/pagination.ts (re-exported here for the resolvers).
 */
import { Field, ObjectType } from 'type-graphql';

export * from '../lib/pagination';

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}
