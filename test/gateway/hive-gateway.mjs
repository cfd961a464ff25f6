// A Hive Gateway (its runtime, proxy mode) in front of one GraphQL subgraph, verifying Warden's
// access tokens with the JWT plugin against Warden's JWKS and forwarding the verified claims to the
// subgraph in `extensions.jwt`. Run as its own process by test/gateway/hive-gateway.test.ts:
//
//   WARDEN_JWKS_URL=… WARDEN_ISSUER=… WARDEN_AUDIENCE=… SUBGRAPH_URL=… SUBGRAPH_SDL=… \
//   JWKS_CACHE_MS=1000 node test/gateway/hive-gateway.mjs
//
// It listens on an ephemeral loopback port and prints {"url": "http://127.0.0.1:<port>/graphql"}
// on one line once it is ready; SIGTERM closes it.
import { createServer } from 'node:http';
import { buildSchema } from 'graphql';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { createRemoteJwksSigningKeyProvider, extractFromHeader, useJWT } from '@graphql-mesh/plugin-jwt-auth';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const gateway = createGatewayRuntime({
  proxy: { endpoint: env('SUBGRAPH_URL') },
  schema: buildSchema(env('SUBGRAPH_SDL')),
  logging: process.env.GATEWAY_LOG_LEVEL ?? false,
  plugins: () => [
    useJWT({
      signingKeyProviders: [
        createRemoteJwksSigningKeyProvider({ jwksUri: env('WARDEN_JWKS_URL'), cacheMaxAge: Number(env('JWKS_CACHE_MS')) }),
      ],
      tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' })],
      // Pin ES256 (the plugin's default is RS256 + HS256) and check Warden's iss and aud.
      tokenVerification: { algorithms: ['ES256'], issuer: env('WARDEN_ISSUER'), audience: env('WARDEN_AUDIENCE') },
      forward: { payload: true },
    }),
  ],
});

const server = createServer(gateway);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}/graphql` })}\n`);
});

process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void gateway.dispose().finally(() => process.exit(0));
});
