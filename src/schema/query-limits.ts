/**
 * Query limits (docs/api.md §6), checked before anything executes:
 * - depth, aliases and directives with GraphQL Armor, as validation rules; "Did you mean …"
 *   suggestions are masked in production;
 * - tokens with graphql-js's own `parseOptions.maxTokens` (the parser stops at the limit, where
 *   Armor's Apollo plugin would parse every document a second time);
 * - cost with graphql-query-complexity, once the operation is known and with the request's
 *   variables, so `first: $n` costs what `$n` (or its default) asks for. It cannot be a
 *   validation rule: Apollo validates (and caches the verdict for) the document alone.
 *
 * The cost estimate is one bound; the list-item cap at execution (list-item-cap.ts) is the other.
 */
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  GraphQLError,
  Kind,
  getVariableValues,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type ValidationRule,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { LRUCache } from 'lru-cache';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { clampFirst } from '../lib/pagination';

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
   * The worst-case number of fields an operation resolves (see `fieldCost`). A 100-post feed
   * page with its authors and their counts costs about 2 000; six 100-user pages cost 6 006.
   */
  maxCost: 5_000,
  /** Fields visited while estimating, fragments expanded; beyond it the estimate stops and refuses. */
  maxEstimatedNodes: 10_000,
} as const;

type ArmorConfig = NonNullable<ConstructorParameters<typeof ApolloArmor>[0]>;
type RejectCallback = NonNullable<NonNullable<ArmorConfig['maxDepth']>['onReject']>[number];

export interface QueryLimits {
  plugins: ApolloServerPlugin<BaseContext>[];
  validationRules: ValidationRule[];
  parseOptions: ParseOptions;
}

/**
 * A rejection is a plain validation failure: Apollo answers 400 with GRAPHQL_VALIDATION_FAILED
 * (Armor's own default reports BAD_USER_INPUT, which in Warden means "a bad input field").
 * Armor starts its messages with "Syntax Error: ", which they are not; that prefix is dropped.
 */
const reportAsValidationError: RejectCallback = (context, error) => {
  const message = error.message.replace(/^Syntax Error: /, '');
  context?.reportError(new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
};

/** The refusal of an operation before it runs: 400 GRAPHQL_VALIDATION_FAILED, as Apollo answers a document that does not validate. */
function refusal(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } });
}

/**
 * The cost of one field: 1 for itself, plus what its selection costs, times how many items it
 * can return. A field with a `first` argument returns at most `first` items, clamped to 1..100
 * exactly as the resolvers clamp it (`clampFirst`), whether `first` was written literally,
 * passed as a variable, or left to the argument's default (graphql-query-complexity hands the
 * estimator the arguments as execution will coerce them). Everything else counts its selection
 * once: a list without `first` (`mySessions`) has no bound the schema states, so the list-item
 * cap bounds it at execution.
 */
export const fieldCost: ComplexityEstimator = ({ field, args, childComplexity }) => {
  const paginated = field.args.some((arg) => arg.name === 'first');
  return 1 + (paginated ? clampFirst(args.first as number | null | undefined) : 1) * childComplexity;
};

/**
 * Estimates already made: per schema, per operation node (Apollo hands the same parsed document
 * to every request with the same query text), per values of the variables that can change a
 * cost. Only an `Int` variable can reach `first` and only a `Boolean` one `@include`/`@skip`
 * (GraphQL admits a variable only where its type fits), so the others are left out of the key:
 * the refresh mutation's token, a signup's input. Holds the cost, or the reason it could not be
 * estimated.
 */
const estimates = new WeakMap<GraphQLSchema, WeakMap<OperationDefinitionNode, LRUCache<string, { cost: number } | { reason: string }>>>();
const ESTIMATES_PER_OPERATION = 64;
const ABSENT = { absent: true };

/** The key of an estimate: the values of the operation's `Int` and `Boolean` variables, an absent one apart from null. */
function costDrivers(operation: OperationDefinitionNode, variables: Record<string, unknown>): string {
  const values: unknown[] = [];
  for (const definition of operation.variableDefinitions ?? []) {
    const type = definition.type.kind === Kind.NON_NULL_TYPE ? definition.type.type : definition.type;
    if (type.kind !== Kind.NAMED_TYPE || (type.name.value !== 'Int' && type.name.value !== 'Boolean')) continue;
    const name = definition.variable.name.value;
    values.push(Object.hasOwn(variables, name) ? variables[name] : ABSENT);
  }
  return JSON.stringify(values);
}

/**
 * The worst-case cost of the operation Apollo resolved. Throws the refusal when it is over
 * `maxCost`, or when it cannot be estimated (a fragment expansion past `maxEstimatedNodes`, an
 * argument that cannot be computed); returns undefined when the variables do not coerce, which
 * execution then refuses with Apollo's own BAD_USER_INPUT before any resolver runs.
 */
export function estimateCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  maxCost: number = QUERY_LIMITS.maxCost,
): number | undefined {
  if (getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}).errors) return undefined;
  let perSchema = estimates.get(schema);
  if (!perSchema) estimates.set(schema, (perSchema = new WeakMap()));
  let known = perSchema.get(operation);
  if (!known) perSchema.set(operation, (known = new LRUCache({ max: ESTIMATES_PER_OPERATION })));
  const key = costDrivers(operation, variables ?? {});
  let estimate = known.get(key);
  if (!estimate) {
    estimate = estimateOnce(schema, document, operation, variables ?? {});
    known.set(key, estimate);
  }
  if ('reason' in estimate) throw refusal(`Query cost could not be estimated within the limit of ${maxCost}: ${estimate.reason}`);
  const { cost } = estimate;
  if (!Number.isFinite(cost) || cost > maxCost) {
    throw refusal(
      `Query cost ${cost} exceeds the limit of ${maxCost} (each field costs 1; a list multiplies its selection by \`first\`, 1..100).`,
    );
  }
  return cost;
}

function estimateOnce(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): { cost: number } | { reason: string } {
  // The operation alone with every fragment, so the estimate neither adds up the document's
  // other operations nor meets an anonymous one it cannot name.
  const single: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: document.definitions.filter((definition) => definition === operation || definition.kind === Kind.FRAGMENT_DEFINITION),
  };
  try {
    return {
      cost: getComplexity({ schema, query: single, variables, estimators: [fieldCost], maxQueryNodes: QUERY_LIMITS.maxEstimatedNodes }),
    };
  } catch (error) {
    return { reason: error instanceof GraphQLError ? error.message : 'the query could not be analysed' };
  }
}

/** Refuses, before execution, an operation whose worst-case cost (with its variables) is over `maxCost`. */
export function queryCostPlugin(options: { maxCost?: number } = {}): ApolloServerPlugin<BaseContext> {
  const maxCost = options.maxCost ?? QUERY_LIMITS.maxCost;
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          // Apollo has resolved the operation by now; without one it has already answered.
          if (operation) estimateCost(schema, document, operation, request.variables, maxCost);
        },
      };
    },
  };
}

export function queryLimits(options: { production: boolean }): QueryLimits {
  const onRejection = { propagateOnRejection: false, onReject: [reportAsValidationError] };
  const armor = new ApolloArmor({
    maxDepth: { n: QUERY_LIMITS.maxDepth, ...onRejection },
    // Armor lets `__typename` aliases through by default; here they count like any other.
    maxAliases: { n: QUERY_LIMITS.maxAliases, allowList: [], ...onRejection },
    maxDirectives: { n: QUERY_LIMITS.maxDirectives, ...onRejection },
    // Armor's cost multiplies by a literal `first` only; queryCostPlugin replaces it.
    costLimit: { enabled: false },
    maxTokens: { enabled: false },
    // Apollo's hideSchemaDetailsFromClientErrors already drops suggestions in production; this
    // masks any that another path would let through. Outside production they help developers.
    blockFieldSuggestion: { enabled: options.production },
  }).protect();
  return {
    plugins: [...armor.plugins, queryCostPlugin()],
    validationRules: armor.validationRules,
    parseOptions: { maxTokens: QUERY_LIMITS.maxTokens },
  };
}
