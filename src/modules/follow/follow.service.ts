import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import type { SqlRunner } from '../../infra/database';
import { AppError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import { isUuid } from '../../lib/tokens';
import type { UserRow, UserService } from '../user';

export interface FollowServiceDeps {
  prisma: PrismaClient;
  /** The batched counts (followerCount and followingCount of a page of users), without Prisma's client in between. */
  sql: SqlRunner;
  users: UserService;
}

export class FollowService {
  constructor(private readonly deps: FollowServiceDeps) {}

  /**
   * Idempotent: following someone already followed changes nothing.
   * @throws ValidationError (userId) for oneself; AppError NOT_FOUND for an unknown user.
   */
  async follow(followerId: string, userId: string): Promise<UserRow> {
    const target = await this.target(followerId, userId, 'you cannot follow yourself');
    try {
      // INSERT … ON CONFLICT DO NOTHING: no read-then-write race between two parallel follows.
      await this.deps.prisma.follow.createMany({ data: [{ followerId, followingId: target.id }], skipDuplicates: true });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003') throw new AppError(ErrorCode.NOT_FOUND);
      throw error;
    }
    return target;
  }

  /**
   * Idempotent: unfollowing someone not followed changes nothing.
   * @throws ValidationError (userId) for oneself; AppError NOT_FOUND for an unknown user.
   */
  async unfollow(followerId: string, userId: string): Promise<UserRow> {
    const target = await this.target(followerId, userId, 'you cannot unfollow yourself');
    await this.deps.prisma.follow.deleteMany({ where: { followerId, followingId: target.id } });
    return target;
  }

  /** How many users follow each of these users, in one statement. */
  followerCounts(userIds: readonly string[]): Promise<Map<string, number>> {
    return this.counts(Prisma.raw('"followingId"'), userIds);
  }

  /** How many users each of these users follows, in one statement. */
  followingCounts(userIds: readonly string[]): Promise<Map<string, number>> {
    return this.counts(Prisma.raw('"followerId"'), userIds);
  }

  /** Follow rows per user id in `column`; users with none are missing. Sent on the driver (a page of authors asks for it). */
  private async counts(column: Prisma.Sql, userIds: readonly string[]): Promise<Map<string, number>> {
    const ids = userIds.filter(isUuid);
    if (ids.length === 0) return new Map();
    const rows = await this.deps.sql.query<{ id: string; count: number }>(Prisma.sql`
      SELECT ${column} AS id, count(*)::int AS count FROM "Follow" WHERE ${column} = ANY(${ids}::uuid[]) GROUP BY ${column}`);
    return new Map(rows.map((row) => [row.id, row.count]));
  }

  /**
   * The user an id names. Ids are compared in their canonical (lower-case) form: PostgreSQL reads
   * a UUID in any letter case, so `A1B2…` is the same user as `a1b2…`, oneself included.
   */
  private async target(followerId: string, userId: string, selfMessage: string): Promise<UserRow> {
    if (!isUuid(userId)) throw new AppError(ErrorCode.NOT_FOUND);
    if (userId.toLowerCase() === followerId.toLowerCase()) throw new ValidationError({ userId: selfMessage });
    const target = await this.deps.users.findById(userId.toLowerCase());
    if (!target) throw new AppError(ErrorCode.NOT_FOUND);
    return target;
  }
}
