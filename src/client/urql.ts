/** `warden/client/urql`: re-exports `@warden/client/urql` (packages/client), the urql exchange. */
export * from '@warden/client/urql';
