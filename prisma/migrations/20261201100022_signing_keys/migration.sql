-- CreateTable
CREATE TABLE "SigningKey" (
    "kid" TEXT NOT NULL,
    "algorithm" TEXT NOT NULL,
    "generation" INTEGER NOT NULL,
    "publicJwk" JSONB,
    "privateSealed" BYTEA,
    "sealedWith" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL,
    "activatesAt" TIMESTAMPTZ(3) NOT NULL,
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "SigningKey_pkey" PRIMARY KEY ("kid")
);

-- CreateIndex
CREATE UNIQUE INDEX "SigningKey_generation_key" ON "SigningKey"("generation");
