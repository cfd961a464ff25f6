/**
 * Minimal valid operations generated from the built schema, for matrix tests that call every root
 * field: non-null arguments become variables with placeholder values of their type, and the
 * selection is one scalar field (or __typename). What a resolver answers to the placeholders past
 * the directive (NOT_FOUND, BAD_USER_INPUT …) is the caller's to ignore.
 */
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { getDirective } from '@graphql-tools/utils';

/** A value of `type` that passes variable coercion. */
export function placeholder(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return placeholder(type.ofType);
  if (isListType(type)) return [placeholder(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0].value;
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((f) => isNonNullType(f.type))
        .map((f) => [f.name, placeholder(f.type)]),
    );
  }
  switch (getNamedType(type).name) {
    case 'Int':
      return 1;
    case 'Boolean':
      return false;
    case 'ID':
      return '00000000-0000-4000-8000-000000000000';
    case 'JSONObject':
      return {};
    default:
      return 'placeholder text 1';
  }
}

/** ` { someScalar }` for an object field, '' for a scalar or enum one. */
export function selection(field: GraphQLField<unknown, unknown>): string {
  const type = getNamedType(field.type);
  if (isScalarType(type) || isEnumType(type)) return '';
  const first = Object.values((type as GraphQLObjectType).getFields()).find((f) => {
    const named = getNullableType(getNamedType(f.type));
    return (isScalarType(named) || isEnumType(named)) && f.args.length === 0;
  });
  return ` { ${first ? first.name : '__typename'} }`;
}

export interface RootFieldOperation {
  kind: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
  /** `@auth`'s arguments on the field (or on its root type), undefined for `@public`. */
  auth: { requires?: string; assurance?: string } | undefined;
  operation: string;
  variables: Record<string, unknown>;
}

/** Every Query and Mutation field, with its `@auth` rule and a minimal operation that calls it. */
export function rootFieldOperations(schema: GraphQLSchema): RootFieldOperation[] {
  const out: RootFieldOperation[] = [];
  for (const [kind, root] of [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
  ] as const) {
    if (!root) continue;
    const typeAuth = getDirective(schema, root, 'auth')?.[0];
    for (const field of Object.values(root.getFields())) {
      const isPublic = getDirective(schema, field, 'public')?.[0] !== undefined;
      const auth = (getDirective(schema, field, 'auth')?.[0] ?? (isPublic ? undefined : typeAuth)) as RootFieldOperation['auth'];
      const args = field.args.filter((a) => isNonNullType(a.type));
      const decl = args.map((a, i) => `$a${i}: ${a.type.toString()}`).join(', ');
      const use = args.map((a, i) => `${a.name}: $a${i}`).join(', ');
      const operation = `${kind}${decl ? `(${decl})` : ''} { ${field.name}${use ? `(${use})` : ''}${selection(field)} }`;
      const variables = Object.fromEntries(args.map((a, i) => [`a${i}`, placeholder(a.type)]));
      out.push({ kind, field, auth, operation, variables });
    }
  }
  return out;
}
