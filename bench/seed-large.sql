-- The large data set the data-growth run (BENCH_ONLY=GROWTH, bench/run.ts) and the feed EXPLAIN
-- (bench/feed-explain.sql) measure against: 10,000 users, 200,000 posts (90 % published, spread
-- over a year), ~500,000 follows (50 each). Leaves a temporary table u (id, n) of the users for the
-- session's further statements. Takes about 30 s on two cores. Never run it against a database
-- you care about.
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
