-- Reproduces the feed EXPLAIN in the README on a scratch PostgreSQL database:
--   createdb -O warden warden_explain
--   DATABASE_URL=postgresql://warden:warden@127.0.0.1:5432/warden_explain npm run db:migrate
--   psql postgresql://warden:warden@127.0.0.1:5432/warden_explain -f bench/feed-explain.sql
-- 10,000 users, 200,000 posts (90 % published, spread over a year), ~500,000 follows (50 each).
-- Takes about 30 s on two cores. Never run it against a database you care about.
SELECT setseed(0.42);
INSERT INTO "User" (id, email, name, "passwordHash", "avatarUrl", bio, "createdAt", "updatedAt")
SELECT gen_random_uuid(), 'u' || g || '@explain.test', 'User ' || g, 'x', 'https://a.example/x.png', 'b', now() - (g || ' minutes')::interval, now()
FROM generate_series(1, 10000) g;
CREATE TEMP TABLE u AS SELECT id, row_number() OVER (ORDER BY id) AS n FROM "User";
INSERT INTO "Post" (id, "authorId", title, body, published, "createdAt", "updatedAt")
SELECT gen_random_uuid(), u.id, 'Post ' || g, 'body', random() < 0.9, now() - (random() * 365 || ' days')::interval, now()
FROM generate_series(1, 200000) g JOIN u ON u.n = 1 + (g * 7919) % 10000;
INSERT INTO "Follow" ("followerId", "followingId")
SELECT DISTINCT a.id, b.id
FROM u a JOIN LATERAL (SELECT 1 + floor(random() * 10000 + a.n * 0)::int AS k FROM generate_series(1, 50)) r ON true JOIN u b ON b.n = r.k
WHERE a.id <> b.id
ON CONFLICT DO NOTHING;
ANALYZE;

SELECT "followerId" AS viewer FROM "Follow" GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1 \gset

-- The statement PostService.feed sends for the first page of 20.
PREPARE feed(uuid, bigint) AS
SELECT p.id, p."authorId", p.title, p.body, p.published, p."createdAt", p."updatedAt"
FROM "Follow" f
CROSS JOIN LATERAL (
  SELECT * FROM "Post" p
  WHERE p."authorId" = f."followingId" AND p.published
  ORDER BY p."createdAt" DESC, p.id DESC
  LIMIT $2
) p
WHERE f."followerId" = $1
ORDER BY p."createdAt" DESC, p.id DESC
LIMIT $2;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE feed(:'viewer', 21);

-- For comparison: the same question as `authorId IN (subquery)`.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT p.id FROM "Post" p
WHERE p.published AND p."authorId" IN (SELECT "followingId" FROM "Follow" WHERE "followerId" = :'viewer')
ORDER BY p."createdAt" DESC, p.id DESC LIMIT 21;
