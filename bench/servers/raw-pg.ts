/**
 * R3: the physical reference of S3 — raw node:http and `pg`, running the three statements
 * Warden sends for `posts(first: 20) { edges { node { id title author { id name followerCount } } } }`
 * (the page, its authors, their follower counts; the SQL text Prisma generates for them) and
 * writing the JSON by hand. No GraphQL, no token check: what is left of S3 when nothing but the
 * database and the bytes remain. PostgreSQL only (DATABASE_URL).
 */
import { createServer } from 'node:http';
import { Pool } from 'pg';
import { announce } from '../lib/child';

const POSTS = `SELECT "public"."Post"."id", "public"."Post"."authorId", "public"."Post"."title", "public"."Post"."body", "public"."Post"."published", "public"."Post"."createdAt", "public"."Post"."updatedAt" FROM "public"."Post" WHERE "public"."Post"."published" = $1 ORDER BY "public"."Post"."createdAt" DESC, "public"."Post"."id" DESC LIMIT $2 OFFSET $3`;
const usersSql = (n: number) =>
  `SELECT "public"."User"."id", "public"."User"."name", "public"."User"."email", "public"."User"."emailVerified", "public"."User"."role", "public"."User"."avatarUrl", "public"."User"."bio", "public"."User"."createdAt" FROM "public"."User" WHERE "public"."User"."id" IN (${ids(n, 1)}) OFFSET $${n + 1}`;
const countsSql = (n: number) =>
  `SELECT COUNT(*) AS "_count$_all", "public"."Follow"."followingId" FROM "public"."Follow" WHERE "public"."Follow"."followingId" IN (${ids(n, 1)}) GROUP BY "public"."Follow"."followingId" OFFSET $${n + 1}`;
const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(',');

interface PostRow {
  id: string;
  authorId: string;
  title: string;
}

async function main(): Promise<void> {
  // Prisma's pg adapter opens a pg Pool with pg's defaults too.
  const pool = new Pool({ connectionString: process.env.DATABASE_URL });
  const page = async (): Promise<string> => {
    const posts = (await pool.query<PostRow>(POSTS, [true, 21, 0])).rows.slice(0, 20);
    const authorIds = [...new Set(posts.map((post) => post.authorId))];
    const [users, counts] = await Promise.all([
      pool.query<{ id: string; name: string }>(usersSql(authorIds.length), [...authorIds, 0]),
      pool.query<{ _count$_all: string; followingId: string }>(countsSql(authorIds.length), [...authorIds, 0]),
    ]);
    const names = new Map(users.rows.map((user) => [user.id, user.name]));
    const followers = new Map(counts.rows.map((row) => [row.followingId, Number(row._count$_all)]));
    let out = '{"data":{"posts":{"edges":[';
    posts.forEach((post, i) => {
      if (i > 0) out += ',';
      const author = post.authorId;
      out += `{"node":{"id":${JSON.stringify(post.id)},"title":${JSON.stringify(post.title)},"author":{"id":${JSON.stringify(author)},"name":${JSON.stringify(names.get(author) ?? null)},"followerCount":${followers.get(author) ?? 0}}}}`;
    });
    return out + ']}}}';
  };
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      page().then(
        (text) => {
          const body = Buffer.from(text);
          response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
          response.end(body);
        },
        () => {
          response.writeHead(500);
          response.end();
        },
      );
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    announce(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/graphql`);
  });
  process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
}

void main();
