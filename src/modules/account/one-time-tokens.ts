/**
 * OneTimeToken rows: email-verification codes and password-reset tokens. Only a hash of each
 * secret is stored; a row is spent by setting `usedAt` in the statement that checks it, so two
 * parallel uses of one secret cannot both succeed.
 */
import { OneTimeTokenPurpose, type Prisma, type PrismaClient } from '../../generated/prisma/client';

export { OneTimeTokenPurpose };

type Db = PrismaClient | Prisma.TransactionClient;

/**
 * Stores a new secret's hash for the user and deletes every earlier one of that purpose, so
 * only the newest works. The user's row is locked first: two parallel requests run one after
 * the other, and exactly one secret survives. Returns false when the user no longer exists.
 */
export async function replaceOneTimeToken(
  prisma: PrismaClient,
  input: { userId: string; purpose: OneTimeTokenPurpose; tokenHash: Uint8Array<ArrayBuffer>; now: Date; expiresAt: Date },
): Promise<boolean> {
  return prisma.$transaction(async (tx) => {
    const locked = await tx.$queryRaw<Array<{ id: string }>>`SELECT id FROM "User" WHERE id = ${input.userId}::uuid FOR UPDATE`;
    if (locked.length === 0) return false;
    // Spent rows go too: they can never be used again, and a new secret that happened to equal
    // an old one must not collide with it on the (purpose, tokenHash) unique index.
    await tx.oneTimeToken.deleteMany({ where: { userId: input.userId, purpose: input.purpose } });
    await tx.oneTimeToken.create({
      data: { userId: input.userId, purpose: input.purpose, tokenHash: input.tokenHash, createdAt: input.now, expiresAt: input.expiresAt },
    });
    return true;
  });
}

/**
 * Spends a live (unused, unexpired) secret whose hash is one of `tokenHashes`, and returns
 * whether it did. `userId` restricts it to that user's secrets.
 */
export async function spendOneTimeToken(
  db: Db,
  input: { purpose: OneTimeTokenPurpose; tokenHashes: Uint8Array<ArrayBuffer>[]; now: Date; userId?: string },
): Promise<boolean> {
  const spent = await db.oneTimeToken.updateMany({
    where: {
      purpose: input.purpose,
      tokenHash: { in: input.tokenHashes },
      usedAt: null,
      expiresAt: { gt: input.now },
      ...(input.userId ? { userId: input.userId } : {}),
    },
    data: { usedAt: input.now },
  });
  return spent.count > 0;
}
