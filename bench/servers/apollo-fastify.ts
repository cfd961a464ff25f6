/**
 * A0: the floor of Warden's own stack — Apollo Server on Fastify (@as-integrations/fastify) with
 * a one-field schema and nothing else. S1 compares Warden with it to show what Warden adds.
 */
import { ApolloServer } from '@apollo/server';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify from 'fastify';
import { announce } from '../lib/child';

async function main(): Promise<void> {
  const apollo = new ApolloServer({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'world' } } });
  await apollo.start();
  const fastify = Fastify();
  fastify.post('/graphql', fastifyApolloHandler(apollo));
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  const address = fastify.server.address();
  announce(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/graphql`);
  process.on('SIGTERM', () => void fastify.close().then(() => process.exit(0)));
}

void main();
