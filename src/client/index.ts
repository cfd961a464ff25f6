/**
 * `warden/client`: the client SDK, which is its own package (`@warden/client`, packages/client);
 * this path re-exports it so applications that import `warden/client` keep working.
 */
export * from '@warden/client';
