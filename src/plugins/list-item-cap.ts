/**
 * The second bound on what one operation may cost, independent of the estimate made before it
 * runs (schema/query-limits.ts): a cap on the list items resolved per request, MAX_LIST_ITEMS.
 *
 * Items are counted as early as they can be:
 * - a field with a `first` argument counts `first` (clamped as its resolver clamps it) when it
 *   starts, before its resolver runs, so a level of nested pages that would go over the cap
 *   stops before its batched query is sent, not after the rows are in memory;
 * - a list a field returns (a connection's `edges`, `mySessions`) counts its length when it
 *   resolves, less what the `first` of the field above it already counted — so a list without
 *   `first`, or a resolver that returns more than `first`, is still counted in full.
 *
 * The first count that goes past the cap aborts the whole operation: from then on every field
 * that starts resolving fails at once, without running its resolver, and the response carries
 * one masked INTERNAL_SERVER_ERROR and `data: null` in place of whatever had been resolved. The
 * abort is logged at error level (an operation that passed the estimate and still got here
 * means the estimate is wrong) and counted in `warden_list_item_cap_aborts_total`.
 *
 * Introspection is not counted: the schema bounds it.
 *
 * The counting is done by a wrapper put once around the resolvers that need it (fields with
 * `first`, fields that return a list, and every field with a resolver of its own, which is
 * where the abort is checked), reading the request's counter from its context. It is not an
 * Apollo `willResolveField` hook: one such hook makes Apollo wrap every field of the schema,
 * property reads included, on every request, and it does not run under a compiled executor.
 * Fields without a resolver of their own only read a property of their parent, so after an
 * abort they have nothing to stop.
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  defaultFieldResolver,
  getNullableType,
  isListType,
  isObjectType,
  responsePathAsArray,
  type GraphQLFieldResolver,
  type GraphQLFormattedError,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';
import { clampFirst } from '../lib/pagination';

export interface ListItemCapOptions {
  /** Most list items one operation may resolve (MAX_LIST_ITEMS). */
  maxItems: number;
  logger: Pick<Logger, 'error'>;
  /** Counted once per aborted operation. */
  aborts: Pick<Counter, 'inc'>;
}

const MASKED: GraphQLFormattedError = {
  message: new AppError(ErrorCode.INTERNAL_SERVER_ERROR).message,
  extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
};

/** One operation's count, kept in its context under COUNTER. */
interface ItemCounter {
  aborted: boolean;
  /** One error, thrown by every field that starts after the abort (made then: an error captures a stack). */
  readonly abort: AppError;
  /** What each `first` field counted, by the object it returned, for the lists inside it. */
  counted: WeakMap<object, number>;
  /** Adds `count` items; false (and the operation aborted) when that goes past the cap. */
  take(count: number, info: GraphQLResolveInfo): boolean;
}

const COUNTER = Symbol('warden.listItemCounter');

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';

const instrumented = new WeakSet<GraphQLSchema>();

/**
 * Wraps, once per schema and in place, the resolvers the cap needs. Without a counter in the
 * context (an execution the plugin did not start) the wrapper only calls the resolver.
 */
export function instrumentListItemCap(schema: GraphQLSchema): void {
  if (instrumented.has(schema)) return;
  instrumented.add(schema);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const paginated = field.args.some((arg) => arg.name === 'first');
      const list = isListType(getNullableType(field.type));
      if (!paginated && !list && !field.resolve) continue;
      const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) => {
        const counter = (context as { [COUNTER]?: ItemCounter } | null)?.[COUNTER];
        if (!counter) return resolve(source, args, context, info);
        if (counter.aborted) throw counter.abort;
        // How many items the field may return by its `first` argument, clamped as its resolver clamps it.
        const byFirst = paginated ? clampFirst(args.first as number | null | undefined) : 0;
        if (byFirst > 0 && !counter.take(byFirst, info)) throw counter.abort;
        const result = resolve(source, args, context, info);
        if (byFirst === 0 && !list) return result;
        const count = (value: unknown) => {
          if (counter.aborted || value === null || typeof value !== 'object') return value;
          if (byFirst > 0) counter.counted.set(value, byFirst);
          if (!list || !Array.isArray(value)) return value;
          const already = byFirst || (source !== null && typeof source === 'object' ? (counter.counted.get(source) ?? 0) : 0);
          counter.take(Math.max(0, value.length - already), info);
          return value;
        };
        return isPromiseLike(result) ? Promise.resolve(result).then(count) : count(result);
      };
    }
  }
}

export function listItemCapPlugin(options: ListItemCapOptions): ApolloServerPlugin<BaseContext> {
  return {
    async serverWillStart({ schema }) {
      instrumentListItemCap(schema);
    },
    async requestDidStart() {
      let counter: ItemCounter | undefined;
      return {
        async executionDidStart({ operationName, contextValue }) {
          let items = 0;
          let abort: AppError | undefined;
          const started: ItemCounter = {
            aborted: false,
            // An AppError, so error formatting passes it silently; the response is replaced by
            // the single masked error anyway.
            get abort() {
              return (abort ??= new AppError(ErrorCode.INTERNAL_SERVER_ERROR));
            },
            counted: new WeakMap(),
            take(count, info) {
              items += count;
              if (items <= options.maxItems) return true;
              started.aborted = true;
              options.aborts.inc();
              options.logger.error(
                { operationName: operationName ?? null, items, maxItems: options.maxItems, path: responsePathAsArray(info.path).join('.') },
                'operation aborted: it resolved more list items than MAX_LIST_ITEMS allows',
              );
              return false;
            },
          };
          counter = started;
          Object.defineProperty(contextValue, COUNTER, { value: started, configurable: true });
        },
        async willSendResponse({ response }) {
          if (!counter?.aborted) return;
          response.body = { kind: 'single', singleResult: { data: null, errors: [MASKED] } };
        },
      };
    },
  };
}
