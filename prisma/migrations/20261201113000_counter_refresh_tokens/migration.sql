-- Counter refresh tokens: a session keeps its key's salt, its current generation and when that
-- last moved; rotations no longer add rows. Sessions that exist now get a random salt each (a
-- version-4 UUID's 16 bytes from PostgreSQL's strong random source) and keep their legacy
-- "RefreshToken" rows, whose unspent token is exchanged once for a counter token.
ALTER TABLE "Session" ADD COLUMN     "generation" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "rotatedAt" TIMESTAMPTZ(3),
ADD COLUMN     "tokenSalt" BYTEA;

UPDATE "Session" SET "tokenSalt" = uuid_send(gen_random_uuid()) WHERE "tokenSalt" IS NULL;

ALTER TABLE "Session" ALTER COLUMN "tokenSalt" SET NOT NULL;
