/**
 * Execution through graphql-jit: each operation is compiled once into a JavaScript function (per
 * parsed document and operation name) and every later request runs that function instead of
 * graphql-js's interpreter, which walks the selection set, coerces arguments and checks types
 * field by field on every request.
 *
 * Apollo Server takes a custom executor through its `gateway` option; this is a gateway that
 * serves one fixed schema, so everything before execution (parsing, validation, the query
 * limits, the cost estimate, `didResolveOperation`) and after it (error formatting, masking,
 * `willSendResponse`) stays Apollo's, unchanged.
 *
 * graphql-js still runs an operation when:
 * - graphql-jit cannot compile it (it refuses what it does not support);
 * - its variables do not coerce, so the error (message, location, BAD_USER_INPUT, status 400)
 *   is graphql-js's own, word for word;
 * - it is a mutation: graphql-js runs root mutation fields one after another and stops at the
 *   first non-null field that fails, so ten aliased `changePassword` guesses in one request are
 *   one guess; graphql-jit runs the rest after a failure. A mutation is one field's work, so
 *   compiling it would save little anyway;
 * - it is a subscription (Warden has none).
 */
import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { execute, getVariableValues, OperationTypeNode, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

type GatewayInterface = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<GatewayInterface['load']>>['executor']>;

/** Compiled operations of one document, by operation name ('' for the only one). */
type Compiled = Map<string, CompiledQuery | null>;

/**
 * Apollo caches parsed, validated documents (its document store), so the same query text gives
 * the same DocumentNode and its compiled form is found by identity. A document that falls out
 * of Apollo's cache falls out of this one with it.
 */
export function createCompiledExecutor(
  schema: GraphQLSchema,
): GatewayExecutor & { readonly stats: { compilations: number; compiled: number; interpreted: number } } {
  const cache = new WeakMap<DocumentNode, Compiled>();
  const stats = { compilations: 0, compiled: 0, interpreted: 0 };
  const compiledFor = (document: DocumentNode, operationName: string | null | undefined): CompiledQuery | null => {
    let byName = cache.get(document);
    if (!byName) cache.set(document, (byName = new Map()));
    const key = operationName ?? '';
    if (byName.has(key)) return byName.get(key)!;
    let compiled: CompiledQuery | null;
    stats.compilations++;
    try {
      const result = compileQuery(schema, document, operationName ?? undefined);
      compiled = isCompiledQuery(result) ? result : null;
    } catch {
      compiled = null;
    }
    byName.set(key, compiled);
    return compiled;
  };
  const executor: GatewayExecutor = async (requestContext) => {
    const { document, operation, context: contextValue } = requestContext;
    const operationName = requestContext.request.operationName;
    const variables = requestContext.request.variables ?? {};
    const compiled = operation?.operation === OperationTypeNode.QUERY ? compiledFor(document, operationName) : null;
    if (compiled && !getVariableValues(schema, operation!.variableDefinitions ?? [], variables).errors) {
      stats.compiled++;
      return (await compiled.query(undefined, contextValue, variables)) as ExecutionResult;
    }
    stats.interpreted++;
    return execute({ schema, document, contextValue, variableValues: variables, operationName });
  };
  /** How many documents were compiled, and how many operations ran compiled or through graphql-js, for tests. */
  return Object.assign(executor, { stats });
}

/** A "gateway" for Apollo Server that serves `schema` and executes through createCompiledExecutor. */
export function compiledExecutorGateway(schema: GraphQLSchema): GatewayInterface {
  return {
    async load() {
      return { executor: createCompiledExecutor(schema) };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => {};
    },
    async stop() {},
  };
}
