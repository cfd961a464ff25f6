/** `warden/client/apollo`: re-exports `@warden/client/apollo` (packages/client), the Apollo Client link. */
export * from '@warden/client/apollo';
