/**
 * The schema, resolvers and context of the typical app, shared by P1 (Apollo standalone) and
 * M1 (Fastify + Mercurius + graphql-jit), so the two differ only in the server around them:
 * plain graphql-js resolvers, the same Prisma database and queries written the obvious way
 * (no DataLoader), jsonwebtoken with a string secret. Only the operations the benchmark sends.
 */
import { randomUUID } from 'node:crypto';
import bcrypt from 'bcrypt';
import jwt from 'jsonwebtoken';
import { GraphQLError } from 'graphql';
import { openDatabase } from '../../src/infra/database';
import { createLogger } from '../../src/infra/logger';

export const typeDefs = /* GraphQL */ `
  type User {
    id: ID!
    name: String!
    email: String
    role: String!
    avatarUrl: String!
    bio: String!
    createdAt: String!
    followerCount: Int!
  }
  type Post {
    id: ID!
    title: String!
    body: String!
    published: Boolean!
    createdAt: String!
    author: User!
  }
  type PostEdge {
    cursor: String!
    node: Post!
  }
  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }
  type PostConnection {
    edges: [PostEdge!]!
    pageInfo: PageInfo!
  }
  type AuthPayload {
    accessToken: String!
    refreshToken: String
    user: User!
  }
  input SignupInput {
    email: String!
    password: String!
    name: String!
  }
  input CreatePostInput {
    title: String!
    body: String!
    published: Boolean
  }
  type Query {
    me: User!
    posts(first: Int = 20): PostConnection!
  }
  type Mutation {
    signup(input: SignupInput!): AuthPayload!
    createPost(input: CreatePostInput!): Post!
  }
`;

export interface Ctx {
  userId: string | null;
}

export async function typicalApp() {
  const secret = process.env.JWT_SECRET!;
  const cost = Number(process.env.BCRYPT_COST ?? 10);
  const logger = createLogger({ level: 'warn' });
  let queries = 0;
  const onQuery = process.env.BENCH_COUNT_QUERIES === '1' ? () => void queries++ : undefined;
  const { prisma } = await openDatabase({ url: process.env.DATABASE_URL || undefined, dataDir: process.env.DATA_DIR, logger, onQuery });

  const requireUser = (ctx: Ctx) => {
    if (!ctx.userId) throw new GraphQLError('Unauthenticated', { extensions: { code: 'UNAUTHENTICATED' } });
    return ctx.userId;
  };

  const resolvers = {
    Query: {
      me: async (_: unknown, __: unknown, ctx: Ctx) => {
        const user = await prisma.user.findUnique({ where: { id: requireUser(ctx) } });
        if (!user) throw new GraphQLError('Unauthenticated', { extensions: { code: 'UNAUTHENTICATED' } });
        return user;
      },
      posts: async (_: unknown, args: { first: number }, ctx: Ctx) => {
        requireUser(ctx);
        const posts = await prisma.post.findMany({
          where: { published: true },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          take: args.first + 1,
        });
        const page = posts.slice(0, args.first);
        return {
          edges: page.map((node) => ({ cursor: node.id, node })),
          pageInfo: { hasNextPage: posts.length > args.first, endCursor: page.at(-1)?.id ?? null },
        };
      },
    },
    Mutation: {
      signup: async (_: unknown, { input }: { input: { email: string; password: string; name: string } }) => {
        const id = randomUUID();
        const user = await prisma.user.create({
          data: {
            id,
            email: input.email.toLowerCase(),
            name: input.name,
            passwordHash: await bcrypt.hash(input.password, cost),
            avatarUrl: 'https://example.com/a.png',
            bio: 'hi',
          },
        });
        const accessToken = jwt.sign({ sub: user.id, role: user.role }, secret, { expiresIn: '15m' });
        return { accessToken, refreshToken: null, user };
      },
      createPost: async (_: unknown, { input }: { input: { title: string; body: string; published?: boolean } }, ctx: Ctx) =>
        prisma.post.create({
          data: { authorId: requireUser(ctx), title: input.title, body: input.body, published: input.published ?? false },
        }),
    },
    User: {
      createdAt: (user: { createdAt: Date }) => user.createdAt.toISOString(),
      followerCount: (user: { id: string }) => prisma.follow.count({ where: { followingId: user.id } }),
    },
    Post: {
      createdAt: (post: { createdAt: Date }) => post.createdAt.toISOString(),
      author: (post: { authorId: string }) => prisma.user.findUnique({ where: { id: post.authorId } }),
    },
  };

  /** The context of a request with this Authorization header. */
  const context = (header: string | undefined): Ctx => {
    if (!header?.startsWith('Bearer ')) return { userId: null };
    try {
      const claims = jwt.verify(header.slice(7), secret) as jwt.JwtPayload;
      return { userId: String(claims.sub) };
    } catch {
      return { userId: null };
    }
  };
  return { resolvers, context, queries: onQuery && (() => queries) };
}
