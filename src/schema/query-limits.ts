/**
 * Query limits (API.md §6) with GraphQL Armor: depth, aliases, directives and cost are checked
 * as validation rules, before anything executes; "Did you mean …" suggestions are masked in
 * production. The token limit is graphql-js's own `parseOptions.maxTokens`: the parser stops
 * at the limit, where Armor's Apollo plugin would parse every document a second time.
 */
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type ParseOptions, type ValidationRule } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';

export const QUERY_LIMITS = {
  /** Nesting of fields; `users { edges { node { posts { edges { node { author { name } } } } } } }` is 8. */
  maxDepth: 12,
  /** Aliased fields per operation (`__typename` aliases count too). */
  maxAliases: 15,
  /** Directives per operation. */
  maxDirectives: 20,
  /** Lexical tokens per document. */
  maxTokens: 2_000,
  /**
   * Armor's cost: each object 2, each scalar 1, times 1.5 per level, times a literal `first`.
   * A 100-post feed page with its authors costs about 6 000.
   */
  maxCost: 20_000,
} as const;

type ArmorConfig = NonNullable<ConstructorParameters<typeof ApolloArmor>[0]>;
type RejectCallback = NonNullable<NonNullable<ArmorConfig['maxDepth']>['onReject']>[number];

export interface QueryLimits {
  plugins: ApolloServerPlugin[];
  validationRules: ValidationRule[];
  parseOptions: ParseOptions;
}

/**
 * A rejection is a plain validation failure: Apollo answers 400 with GRAPHQL_VALIDATION_FAILED
 * (Armor's own default reports BAD_USER_INPUT, which in Warden means "a bad input field").
 */
const reportAsValidationError: RejectCallback = (context, error) => {
  context?.reportError(new GraphQLError(error.message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
};

export function queryLimits(options: { production: boolean }): QueryLimits {
  const onRejection = { propagateOnRejection: false, onReject: [reportAsValidationError] };
  const armor = new ApolloArmor({
    maxDepth: { n: QUERY_LIMITS.maxDepth, ...onRejection },
    // Armor lets `__typename` aliases through by default; here they count like any other.
    maxAliases: { n: QUERY_LIMITS.maxAliases, allowList: [], ...onRejection },
    maxDirectives: { n: QUERY_LIMITS.maxDirectives, ...onRejection },
    costLimit: { maxCost: QUERY_LIMITS.maxCost, ...onRejection },
    maxTokens: { enabled: false },
    // Apollo's hideSchemaDetailsFromClientErrors already drops suggestions in production; this
    // masks any that another path would let through. Outside production they help developers.
    blockFieldSuggestion: { enabled: options.production },
  }).protect();
  return {
    plugins: armor.plugins,
    validationRules: armor.validationRules,
    parseOptions: { maxTokens: QUERY_LIMITS.maxTokens },
  };
}
