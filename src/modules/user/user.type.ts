import { Field, ID, ObjectType } from 'type-graphql';
import { PageInfo } from '../../schema/pagination';
import { Role } from './role';

/**
 * A user as clients see it. There is deliberately no password-hash, token or session field:
 * the type is the boundary that keeps secrets out of every response.
 */
/**
 * Rows handed to the user they describe outside a signed-in request (the `user` of an
 * AuthPayload from signup or login): their email shows although the request had no viewer.
 */
export const ownRows = new WeakSet<object>();

@ObjectType('User')
export class UserType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  // `email` is a field resolver (UserResolver.email): null unless the viewer is this user or an ADMIN.

  @Field(() => Boolean)
  emailVerified!: boolean;

  @Field(() => Role)
  role!: Role;

  @Field(() => String)
  avatarUrl!: string;

  @Field(() => String)
  bio!: string;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType('UserEdge')
export class UserEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => UserType)
  node!: UserType;
}

@ObjectType('UserConnection')
export class UserConnection {
  @Field(() => [UserEdge])
  edges!: UserEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
