/**
 * R3: the physical reference of S3 — raw node:http and `pg`, running the three statements
 * Warden sends for `posts(first: 20) { edges { node { id title author { id name followerCount } } } }`
 * (the page, its authors, their follower counts; the same SQL text Warden's services send) and
 * writing the JSON by hand. No GraphQL, no token check: what is left of S3 when nothing but the
 * database and the bytes remain. PostgreSQL only (DATABASE_URL).
 */
import { createServer } from 'node:http';
import { Pool } from 'pg';
import { announce } from '../lib/child';

const POSTS = `SELECT p.id, p."authorId", p.title, p.body, p.published, p."createdAt", p."updatedAt" FROM "Post" p WHERE p.published ORDER BY p."createdAt" DESC, p.id DESC LIMIT $1`;
const USERS = `SELECT u.id, u.name, u.email, u."emailVerified", u.role::text AS role, u."avatarUrl", u.bio, u."createdAt" FROM "User" u WHERE u.id = ANY($1::uuid[])`;
const COUNTS = `SELECT "followingId" AS id, count(*)::int AS count FROM "Follow" WHERE "followingId" = ANY($1::uuid[]) GROUP BY "followingId"`;

interface PostRow {
  id: string;
  authorId: string;
  title: string;
}

async function main(): Promise<void> {
  // Prisma's pg adapter opens a pg Pool with pg's defaults too.
  const pool = new Pool({ connectionString: process.env.DATABASE_URL });
  const page = async (): Promise<string> => {
    const posts = (await pool.query<PostRow>(POSTS, [21])).rows.slice(0, 20);
    const authorIds = [...new Set(posts.map((post) => post.authorId))];
    const [users, counts] = await Promise.all([
      pool.query<{ id: string; name: string }>(USERS, [authorIds]),
      pool.query<{ id: string; count: number }>(COUNTS, [authorIds]),
    ]);
    const names = new Map(users.rows.map((user) => [user.id, user.name]));
    const followers = new Map(counts.rows.map((row) => [row.id, row.count]));
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
