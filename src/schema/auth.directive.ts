/**
 * `@auth(requires: Role = USER, assurance: AssuranceLevel)` and `@public`: declared in the SDL and
 * enforced by a schema transformer that reads them, so what schema.graphql says is what runs.
 * Every root field must carry exactly one of the two; building a schema where one carries neither
 * or both fails.
 *
 * Assurance (docs/api.md §3): without `assurance` a field needs AAL2 from a user with a verified MFA
 * factor and AAL1 from anyone else (secure by default: enrolling a factor protects every field);
 * `assurance: AAL1` lets an AAL1 session through (what a session needs to reach AAL2: `me`,
 * `myMfaFactors`, `verifyMfa`); `assurance: AAL2` always needs AAL2. With MFA_REQUIRED_FOR_ADMIN
 * every ADMIN field needs AAL2. Checks run in order: no session, role, assurance.
 */
import {
  DirectiveLocation,
  GraphQLDirective,
  GraphQLEnumType,
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

export type { Role } from '../modules/user';
import type { Role } from '../modules/user';

export function authDirectives(schema: GraphQLSchema): GraphQLDirective[] {
  const roleType = schema.getType('Role');
  if (!isEnumType(roleType)) throw new Error('the schema has no Role enum for @auth(requires:)');
  const found = schema.getType('AssuranceLevel');
  // A schema of an application's own (tests build some) may lack the enum: it is declared here then.
  const assuranceType = isEnumType(found) ? found : new GraphQLEnumType({ name: 'AssuranceLevel', values: { AAL1: {}, AAL2: {} } });
  return [
    new GraphQLDirective({
      name: 'auth',
      description:
        'Needs a signed-in viewer with at least this role, at this assurance level (unset: AAL2 for a user with a verified MFA factor, else AAL1).',
      locations: [DirectiveLocation.OBJECT, DirectiveLocation.FIELD_DEFINITION],
      args: { requires: { type: roleType, defaultValue: 'USER' }, assurance: { type: assuranceType } },
    }),
    new GraphQLDirective({
      name: 'public',
      description: 'Open to anyone; the viewer is still known when a valid token is sent.',
      locations: [DirectiveLocation.FIELD_DEFINITION],
    }),
  ];
}

export type AssuranceLevel = 'AAL1' | 'AAL2';

/** What an `@auth` field asks for. */
export interface AuthRule {
  requires: Role;
  assurance?: AssuranceLevel;
}

/**
 * Turns "no viewer" into the precise code, a missing role into FORBIDDEN, and a session below the
 * field's assurance into MFA_REQUIRED, in that order.
 */
export function assertViewer(context: Context, rule: Role | AuthRule): void {
  const { requires, assurance } = typeof rule === 'string' ? { requires: rule, assurance: undefined } : rule;
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
  if (viewer.aal === 'aal2') return;
  const adminNeedsAal2 = requires === 'ADMIN' && context.services.mfa?.adminRequiresAal2 === true;
  const needed: AssuranceLevel = adminNeedsAal2 ? 'AAL2' : (assurance ?? (viewer.user.mfaEnabled ? 'AAL2' : 'AAL1'));
  if (needed === 'AAL2') throw new AppError(ErrorCode.MFA_REQUIRED);
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
      const auth = getDirective(mapped, fieldConfig, 'auth')?.[0] as Partial<AuthRule> | undefined;
      const isPublic = getDirective(mapped, fieldConfig, 'public')?.[0] !== undefined;
      if (rootTypes.has(typeName) && (auth ? 1 : 0) + (isPublic ? 1 : 0) !== 1) {
        throw new AuthDirectiveError(
          `${typeName}.${fieldName} must carry exactly one of @auth or @public (it has ${auth && isPublic ? 'both' : 'neither'})`,
        );
      }
      const typeAuth = getDirective(mapped, mapped.getType(typeName)!, 'auth')?.[0] as Partial<AuthRule> | undefined;
      const found = auth ?? (isPublic ? undefined : typeAuth);
      if (!found) return fieldConfig;
      const rule: AuthRule = { requires: found.requires ?? 'USER', assurance: found.assurance };
      const resolve = fieldConfig.resolve ?? defaultFieldResolver;
      return {
        ...fieldConfig,
        resolve(source, args, context, info) {
          assertViewer(context, rule);
          return resolve(source, args, context, info);
        },
      };
    },
  });
}

/**
 * `@Auth()` / `@Auth('ADMIN')` / `@Auth('USER', 'AAL2')` on a type-graphql field: the same as
 * `@Directive('@auth(…)')`, so an application's resolvers are guarded exactly as Warden's own
 * (the transformer above).
 */
export function Auth(requires: Role = 'USER', assurance?: AssuranceLevel): MethodDecorator & PropertyDecorator & ClassDecorator {
  const args = [requires === 'USER' ? '' : `requires: ${requires}`, assurance ? `assurance: ${assurance}` : ''].filter(Boolean);
  return Directive(args.length === 0 ? '@auth' : `@auth(${args.join(', ')})`);
}

/** `@Public()` on a type-graphql root field: open to anyone (`@Directive('@public')`). */
export function Public(): MethodDecorator & PropertyDecorator {
  return Directive('@public');
}
