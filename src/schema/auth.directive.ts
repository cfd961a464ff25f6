/**
 * `@auth(requires: Role = USER)` and `@public`: declared in the SDL and enforced by a schema
 * transformer that reads them, so what schema.graphql says is what runs. Every root field must
 * carry exactly one of the two; building a schema where one carries neither or both fails.
 */
import {
  DirectiveLocation,
  GraphQLDirective,
  GraphQLSchema,
  defaultFieldResolver,
  isEnumType,
  type GraphQLFieldConfig,
} from 'graphql';
import { MapperKind, getDirective, mapSchema } from '@graphql-tools/utils';
import { Directive } from 'type-graphql';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';
import type { Context } from '../context';

export type { Role } from "../modules/user/role";
import type { Role } from "../modules/user/role";

export function authDirectives(schema: GraphQLSchema): GraphQLDirective[] {
  const roleType = schema.getType('Role');
  if (!isEnumType(roleType)) throw new Error('the schema has no Role enum for @auth(requires:)');
  return [
    new GraphQLDirective({
      name: 'auth',
      description: 'Needs a signed-in viewer with at least this role.',
      locations: [DirectiveLocation.OBJECT, DirectiveLocation.FIELD_DEFINITION],
      args: { requires: { type: roleType, defaultValue: 'USER' } },
    }),
    new GraphQLDirective({
      name: 'public',
      description: 'Open to anyone; the viewer is still known when a valid token is sent.',
      locations: [DirectiveLocation.FIELD_DEFINITION],
    }),
  ];
}

/** Turns "no viewer" into the precise code, and a missing role into FORBIDDEN. */
export function assertViewer(context: Context, requires: Role): void {
  const viewer = context.viewer;
  if (!viewer) {
    switch (context.noViewerReason) {
      case 'expired':
        throw new AppError(ErrorCode.ACCESS_TOKEN_EXPIRED);
      case 'revoked':
        throw new AppError(ErrorCode.SESSION_REVOKED);
      default:
        throw new AppError(ErrorCode.UNAUTHENTICATED);
    }
  }
  if (requires === 'ADMIN' && viewer.role !== 'ADMIN') throw new AppError(ErrorCode.FORBIDDEN);
}

export class AuthDirectiveError extends Error {
  override name = 'AuthDirectiveError';
}

/** Adds the directive declarations and wraps every guarded resolver. */
export function applyAuthDirectives(schema: GraphQLSchema): GraphQLSchema {
  const config = schema.toConfig();
  const declared = new GraphQLSchema({ ...config, directives: [...config.directives, ...authDirectives(schema)] });
  const rootTypes = new Set([declared.getQueryType()?.name, declared.getMutationType()?.name]);

  return mapSchema(declared, {
    [MapperKind.OBJECT_FIELD]: (fieldConfig, fieldName, typeName, mapped): GraphQLFieldConfig<unknown, Context> => {
      const auth = getDirective(mapped, fieldConfig, 'auth')?.[0] as { requires?: Role } | undefined;
      const isPublic = getDirective(mapped, fieldConfig, 'public')?.[0] !== undefined;
      if (rootTypes.has(typeName) && (auth ? 1 : 0) + (isPublic ? 1 : 0) !== 1) {
        throw new AuthDirectiveError(
          `${typeName}.${fieldName} must carry exactly one of @auth or @public (it has ${auth && isPublic ? 'both' : 'neither'})`,
        );
      }
      const typeAuth = getDirective(mapped, mapped.getType(typeName)!, 'auth')?.[0] as { requires?: Role } | undefined;
      const rule = auth ?? (isPublic ? undefined : typeAuth);
      if (!rule) return fieldConfig;
      const requires = rule.requires ?? 'USER';
      const resolve = fieldConfig.resolve ?? defaultFieldResolver;
      return {
        ...fieldConfig,
        resolve(source, args, context, info) {
          assertViewer(context, requires);
          return resolve(source, args, context, info);
        },
      };
    },
  });
}

/**
 * `@Auth()` / `@Auth('ADMIN')` on a type-graphql field: the same as `@Directive('@auth')`, so an
 * application's resolvers are guarded exactly as Warden's own (the transformer above).
 */
export function Auth(requires: Role = 'USER'): MethodDecorator & PropertyDecorator & ClassDecorator {
  return Directive(requires === 'USER' ? '@auth' : `@auth(requires: ${requires})`);
}

/** `@Public()` on a type-graphql root field: open to anyone (`@Directive('@public')`). */
export function Public(): MethodDecorator & PropertyDecorator {
  return Directive('@public');
}
