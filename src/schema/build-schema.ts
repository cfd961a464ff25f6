/**
 * Builds the executable schema from the type-graphql classes, adds the ErrorCode enum and the
 * @auth/@public transformer, and prints the SDL with its directives for schema.graphql.
 */
import 'reflect-metadata';
import { GraphQLEnumType, GraphQLSchema } from 'graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { buildSchema, getMetadataStorage, type NonEmptyArray } from 'type-graphql';
import { ErrorCode } from '../errors/error-code';
import { applyAuthDirectives } from './auth.directive';
import { validateArgs } from './validate';
import { AuthResolver } from '../modules/identity/auth.resolver';
import { UserResolver } from '../modules/user/user.resolver';
import { PostResolver } from '../modules/post/post.resolver';
import { UserPostsResolver } from '../modules/post/user-posts.resolver';
import { FollowResolver } from '../modules/follow/follow.resolver';
import { SessionResolver } from '../modules/session/session.resolver';
import { AccountResolver } from '../modules/account/account.resolver';
import { AvatarResolver } from '../modules/avatar/avatar.resolver';
import { OAuthResolver } from '../modules/oauth/oauth.resolver';
import { MfaResolver } from '../modules/mfa/mfa.resolver';
import { PasskeyResolver } from '../modules/passkey/passkey.resolver';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const RESOLVERS: NonEmptyArray<Function> = [
  AuthResolver,
  UserResolver,
  PostResolver,
  UserPostsResolver,
  FollowResolver,
  SessionResolver,
  AccountResolver,
  AvatarResolver,
  OAuthResolver,
  MfaResolver,
  PasskeyResolver,
];

const ErrorCodeEnum = new GraphQLEnumType({
  name: 'ErrorCode',
  description: 'The codes in `extensions.code` of every error Warden returns.',
  values: Object.fromEntries(Object.values(ErrorCode).map((code) => [code, { value: code }])),
});

let built: Promise<GraphQLSchema> | undefined;

/**
 * Warden's own schema, or Warden's plus an application's resolvers (createWarden's `resolvers`).
 * Warden's alone is the same for every app in a process, so it is built once.
 * @throws AuthDirectiveError when a root field carries neither or both of @auth and @public.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export function getSchema(extraResolvers: readonly Function[] = []): Promise<GraphQLSchema> {
  if (extraResolvers.length > 0) return buildWardenSchema([...RESOLVERS, ...extraResolvers]);
  built ??= buildWardenSchema(RESOLVERS);
  return built;
}

/**
 * Leaves the plain fields (a property of the parent object, read as is) without a resolver of
 * their own, so they are read as graphql-js and graphql-jit read any property, inline. Without
 * it type-graphql gives each one a resolver that builds an object and goes through its
 * middleware dispatcher, once per field per object. A field keeps type-graphql's resolver when
 * it has middlewares or roles, or a GraphQL name other than its property's (the default
 * resolver reads the property of the GraphQL name); `@FieldResolver` fields are not plain.
 */
function markPlainFieldsSimple(): void {
  for (const field of getMetadataStorage().fields) {
    if (field.simple !== undefined) continue;
    if ((field.middlewares?.length ?? 0) > 0 || field.roles !== undefined || field.name !== field.schemaName) continue;
    field.simple = true;
  }
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
async function buildWardenSchema(resolvers: NonEmptyArray<Function>): Promise<GraphQLSchema> {
  markPlainFieldsSimple();
  const base = await buildSchema({
    resolvers,
    scalarsMap: [{ type: Date, scalar: GraphQLDateTime }],
    validate: false,
    validateFn: validateArgs,
  });
  const config = base.toConfig();
  return applyAuthDirectives(new GraphQLSchema({ ...config, types: [...config.types, ErrorCodeEnum] }));
}

export function printSchema(schema: GraphQLSchema): string {
  return printSchemaWithDirectives(schema) + '\n';
}
