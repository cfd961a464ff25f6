/** `warden/verify`: re-exports `@warden/client/verify` (packages/client), token verification for services behind a gateway. */
export * from '@warden/client/verify';
