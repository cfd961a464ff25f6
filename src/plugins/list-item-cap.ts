/**
 * The second bound on what one operation may cost, independent of the estimate made before it
 * runs (schema/query-limits.ts): a cap on the list items resolved per request, MAX_LIST_ITEMS.
 * Every list a field returns (a connection's `edges`, `mySessions`) adds its length to the
 * request's count; the first list that takes the count past the cap aborts the whole operation.
 * From then on every field that starts resolving fails at once, without running its resolver,
 * and the response carries one masked INTERNAL_SERVER_ERROR and `data: null` in place of
 * whatever had been resolved. The abort is logged at error level (an operation that passed the
 * estimate and still got here means the estimate is wrong) and counted in
 * `warden_list_item_cap_aborts_total`.
 *
 * Introspection lists are not counted: the schema bounds them.
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { getNullableType, isListType, responsePathAsArray, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { AppError } from '../errors/app-error';
import { ErrorCode } from '../errors/error-code';

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

export function listItemCapPlugin(options: ListItemCapOptions): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      let items = 0;
      let aborted = false;
      // One error, thrown by every field that starts after the abort. An AppError, so error
      // formatting passes it silently; the response is replaced by the single masked error anyway.
      const abort = new AppError(ErrorCode.INTERNAL_SERVER_ERROR);
      return {
        async executionDidStart({ operationName }) {
          return {
            willResolveField({ info }) {
              if (aborted) throw abort;
              if (info.parentType.name.startsWith('__') || !isListType(getNullableType(info.returnType))) return;
              return (error, result) => {
                if (error || aborted || !Array.isArray(result)) return;
                items += result.length;
                if (items <= options.maxItems) return;
                aborted = true;
                options.aborts.inc();
                options.logger.error(
                  { operationName: operationName ?? null, items, maxItems: options.maxItems, path: responsePathAsArray(info.path).join('.') },
                  'operation aborted: it resolved more list items than MAX_LIST_ITEMS allows',
                );
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
