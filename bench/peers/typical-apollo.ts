/**
 * P1: a typical Apollo app, written the obvious way, as a baseline for Warden: `@apollo/server`
 * standalone around the typical app's schema (typical-schema.ts).
 */
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { announce } from '../lib/child';
import { typeDefs, typicalApp, type Ctx } from './typical-schema';

async function main(): Promise<void> {
  const app = await typicalApp();
  const server = new ApolloServer<Ctx>({ schema: makeExecutableSchema({ typeDefs, resolvers: app.resolvers }) });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => app.context(req.headers.authorization),
  });
  announce(url.replace('localhost', '127.0.0.1'), app.queries);
}

void main();
