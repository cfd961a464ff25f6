/**
 * A real Warden for a test file, in process (test/support/harness.ts does the wiring through
 * createWarden): embedded PGlite and the in-process store by default, PostgreSQL and Redis when
 * DATABASE_URL / REDIS_URL are set.
 */
export {
  LOGIN,
  SIGNUP,
  TEST_JWT_SECRET,
  errorCode,
  signWithServerKey,
  signupUser,
  startTestServer,
  uniqueEmail,
  usingRealServices,
  type SignedUp,
  type StartOptions,
  type TestServer,
} from '../support/harness';
export { signupAdmin } from '../support/admin';

import { startTestServer, type StartOptions, type TestServer } from '../support/harness';

/** Runs `fn` against a server of its own, closed afterwards whatever happens. */
export async function withServer<T>(options: StartOptions, fn: (server: TestServer) => Promise<T>): Promise<T> {
  const server = await startTestServer(options);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}
