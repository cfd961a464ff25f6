-- CreateTable
CREATE TABLE "AvatarUpload" (
    "key" TEXT NOT NULL,
    "userId" UUID NOT NULL,
    "contentType" TEXT NOT NULL,
    "byteSize" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,
    "claimedAt" TIMESTAMPTZ(3),

    CONSTRAINT "AvatarUpload_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "AvatarUpload_userId_idx" ON "AvatarUpload"("userId");

-- CreateIndex
CREATE INDEX "AvatarUpload_expiresAt_idx" ON "AvatarUpload"("expiresAt");

-- AddForeignKey
ALTER TABLE "AvatarUpload" ADD CONSTRAINT "AvatarUpload_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
