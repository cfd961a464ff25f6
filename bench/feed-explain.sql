-- Reproduces the feed EXPLAIN in the README on a scratch PostgreSQL database:
--   createdb -O warden warden_explain
--   DATABASE_URL=postgresql://warden:warden@127.0.0.1:5432/warden_explain npm run db:migrate
--   psql postgresql://warden:warden@127.0.0.1:5432/warden_explain -f bench/feed-explain.sql
-- Its data set is bench/seed-large.sql's (10,000 users, 200,000 posts, ~500,000 follows).
-- Never run it against a database you care about.
\ir seed-large.sql


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
