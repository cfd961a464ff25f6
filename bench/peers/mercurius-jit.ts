/**
 * M1: the fastest mainstream Node GraphQL stack around the same app as P1: Fastify + Mercurius
 * with graphql-jit (`jit: 1`: every operation is compiled on its first request), the same
 * schema, resolvers, Prisma database and queries (typical-schema.ts).
 */
import Fastify from 'fastify';
import mercurius from 'mercurius';
import { announce } from '../lib/child';
import { typeDefs, typicalApp } from './typical-schema';

async function main(): Promise<void> {
  const app = await typicalApp();
  const fastify = Fastify();
  await fastify.register(mercurius, {
    schema: typeDefs,
    resolvers: app.resolvers as never,
    jit: 1,
    context: (request) => app.context(request.headers.authorization),
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  const address = fastify.server.address();
  announce(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/graphql`, app.queries);
  process.on('SIGTERM', () => void fastify.close().then(() => process.exit(0)));
}

void main();
