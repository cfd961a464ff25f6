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
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { getNullableType, isListType, responsePathAsArray, type GraphQLFormattedError, type GraphQLResolveInfo } from 'graphql';
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

/** How many items a field may return by its `first` argument, clamped; 0 when it has none. */
function itemsByFirst(info: GraphQLResolveInfo, args: Record<string, unknown>): number {
  const field = info.parentType.getFields()[info.fieldName];
  if (!field?.args.some((arg) => arg.name === 'first')) return 0;
  return clampFirst(args.first as number | null | undefined);
}

export function listItemCapPlugin(options: ListItemCapOptions): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      let items = 0;
      let aborted = false;
      // One error, thrown by every field that starts after the abort. An AppError, so error
      // formatting passes it silently; the response is replaced by the single masked error anyway.
      const abort = new AppError(ErrorCode.INTERNAL_SERVER_ERROR);
      // What each `first` field counted, by the object it returned, for the lists inside it.
      const counted = new WeakMap<object, number>();
      return {
        async executionDidStart({ operationName }) {
          /** Adds `count` items; false (and the operation aborted) when that goes past the cap. */
          const take = (count: number, info: GraphQLResolveInfo): boolean => {
            items += count;
            if (items <= options.maxItems) return true;
            aborted = true;
            options.aborts.inc();
            options.logger.error(
              { operationName: operationName ?? null, items, maxItems: options.maxItems, path: responsePathAsArray(info.path).join('.') },
              'operation aborted: it resolved more list items than MAX_LIST_ITEMS allows',
            );
            return false;
          };
          return {
            willResolveField({ source, args, info }) {
              if (aborted) throw abort;
              if (info.parentType.name.startsWith('__')) return;
              const byFirst = itemsByFirst(info, args);
              if (byFirst > 0 && !take(byFirst, info)) throw abort;
              const list = isListType(getNullableType(info.returnType));
              if (byFirst === 0 && !list) return;
              return (error, result) => {
                if (error || aborted || result === null || typeof result !== 'object') return;
                if (byFirst > 0) counted.set(result, byFirst);
                if (!list || !Array.isArray(result)) return;
                const already = byFirst || (source !== null && typeof source === 'object' ? (counted.get(source) ?? 0) : 0);
                take(Math.max(0, result.length - already), info);
              };
            },
          };
        },
        async willSendResponse({ response }) {
          if (!aborted) return;
          response.body = { kind: 'single', singleResult: { data: null, errors: [MASKED] } };
        },
      };
    },
  };
}
