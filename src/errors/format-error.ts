import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Logger } from 'pino';
import { isAppError } from './app-error';
import { APOLLO_REQUEST_CODES, ErrorCode } from './error-code';

const CLIENT_CODES: ReadonlySet<string> = new Set([...Object.values(ErrorCode), ...APOLLO_REQUEST_CODES]);

/**
 * Lets known codes through and masks everything else as INTERNAL_SERVER_ERROR, logging the
 * original in full. Outside NODE_ENV=development no stack, SQL, Prisma or JWT text leaves.
 */
export function createFormatError(options: { logger: Logger; development: boolean }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    const original = unwrapResolverError(error);
    // Apollo labels every unknown error INTERNAL_SERVER_ERROR before this runs, keeping its
    // message (a Prisma error's carries SQL): that code passes only from an AppError.
    const unexpected = code === ErrorCode.INTERNAL_SERVER_ERROR && !isAppError(original);
    if (typeof code === 'string' && CLIENT_CODES.has(code) && !unexpected) {
      if (options.development) return formatted;
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    options.logger.error({ err: original, path: formatted.path }, 'unexpected error in a GraphQL operation');
    if (options.development) {
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.INTERNAL_SERVER_ERROR } };
    }
    return {
      message: 'Something went wrong; try again later.',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}
