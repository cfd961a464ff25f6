import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Logger } from 'pino';
import { AppError } from './app-error';
import { APOLLO_REQUEST_CODES, ErrorCode } from './error-code';

const CLIENT_CODES: ReadonlySet<string> = new Set([...Object.values(ErrorCode), ...APOLLO_REQUEST_CODES]);

/**
 * Lets known codes through and masks everything else as INTERNAL_SERVER_ERROR, logging the
 * original in full. Outside NODE_ENV=development no stack, SQL, Prisma or JWT text leaves.
 */
export function createFormatError(options: { logger: Logger; development: boolean }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    // Apollo labels any error a resolver throws INTERNAL_SERVER_ERROR, so that code passes
    // unmasked only on Warden's own AppError; anything else keeps its text server-side.
    const unexpected = code === ErrorCode.INTERNAL_SERVER_ERROR && !(unwrapResolverError(error) instanceof AppError);
    if (typeof code === 'string' && CLIENT_CODES.has(code) && !unexpected) {
      if (options.development) return formatted;
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    const original = unwrapResolverError(error);
    if (isRequestRefusal(original)) {
      // Apollo refuses some requests before running them (an automatic persisted query whose hash
      // does not match, an unsupported version) with HTTP 400 but no code, which it then labels
      // INTERNAL_SERVER_ERROR. Nothing failed on the server: it is the client's BAD_REQUEST.
      return { message: original.message, extensions: { code: 'BAD_REQUEST' } };
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

/** An error Apollo raised for the request itself (no path), with a 4xx status of its own. */
function isRequestRefusal(error: unknown): error is GraphQLError {
  if (!(error instanceof GraphQLError) || error.path) return false;
  const status = (error.extensions?.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
