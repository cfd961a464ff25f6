/**
 * The test kit: what every test file imports (test/support/ holds its internals and the heavier
 * fixtures: private redis-server and PostgreSQL, SMTP, TCP proxy).
 *
 * - server: startTestServer / withServer, signupUser, errorCode …
 * - gql: `server.gql(document | text, variables, { token })`, typed by the generated documents
 * - metrics: scrapeMetrics / metric, the one /metrics reader
 * - wait: waitFor(probe) on observable events, eventually, timed, and the one sleep
 * - env: describeWithRedis / describeWithPostgres / describeNeeding (visible skips with a reason),
 *   describeInServicesPass / describeInEmbeddedPass (suites that run in one CI pass)
 * - fixtures: ME, REFRESH, LOGOUT, pairOf, sessionIdOf
 */
export * from './server';
export * from './gql';
export * from './metrics';
export * from './wait';
export * from './env';
export * from './fixtures';
export * from './schema-ops';
