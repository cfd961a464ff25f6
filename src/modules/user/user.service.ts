import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import type { SqlRunner } from '../../infra/database';
import { AppError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { PasswordHasher } from '../../lib/password';
import { isUuid } from '../../lib/tokens';
import { NEWEST_FIRST, afterCursorWhere, decodeCursor, toConnection } from '../../lib/pagination';
import type { Role } from './role';
import type { SecretGate, AuditService } from '../security';
import type { RequestMeta, UserRow, ViewerInvalidation } from '../../domain/types';
import { defaultAvatarUrl } from './default-avatar';

/** Who asked for an audited change: the signed-in actor and their request. */
export interface Actor {
  userId: string;
  sessionId: string;
  meta: RequestMeta;
}

/** The columns any response may show. Never the password hash: this select is the guard. */
export const USER_SELECT = {
  id: true,
  name: true,
  email: true,
  emailVerified: true,
  role: true,
  avatarUrl: true,
  bio: true,
  createdAt: true,
} as const;

/** USER_SELECT's columns in SQL, of a `"User"` row aliased `u`, named as UserRow's fields. */
export const USER_COLUMNS = Prisma.sql`u.id, u.name, u.email, u."emailVerified", u.role::text AS role, u."avatarUrl", u.bio, u."createdAt"`;

export type { UserRow, ViewerUser } from '../../domain/types';

export interface UserServiceDeps {
  prisma: PrismaClient;
  /** The batched user read (findByIds), without Prisma's client in between. */
  sql: SqlRunner;
  hasher: PasswordHasher;
  /** The lockout every password check goes through. */
  gate: Pick<SecretGate, 'check'>;
  /** Told after every change to a user's row, so no instance answers with the old one. */
  viewerCache?: ViewerInvalidation;
  /** role_changed and user_deleted rows (docs/api.md §6). */
  audit?: Pick<AuditService, 'record'>;
  /**
   * Uploaded avatars (AvatarLibrary): which avatar URLs a user may set, and the stored files to
   * delete when an avatar is replaced or its user deleted. Without it only the generated
   * default can be set.
   */
  avatars?: {
    acceptRequestedUrl(userId: string, url: string | null): Promise<string>;
    discard(userId: string, url: string): Promise<void>;
    deleteAllOf(userId: string): Promise<unknown>;
  };
}

/** How often replaceAvatarUrl retries when another write changed the avatar in between. */
const AVATAR_SWAP_ATTEMPTS = 5;

export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  async findById(id: string): Promise<UserRow | null> {
    if (!isUuid(id)) return null;
    return this.deps.prisma.user.findUnique({ where: { id }, select: USER_SELECT });
  }

  /** Several users in one statement (the per-request user loader); unknown ids are simply missing. */
  async findByIds(ids: readonly string[]): Promise<UserRow[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    // Every page of posts with their authors sends this: on the driver, without Prisma's client.
    return this.deps.sql.query<UserRow>(Prisma.sql`SELECT ${USER_COLUMNS} FROM "User" u WHERE u.id = ANY(${valid}::uuid[])`);
  }

  async list(options: { first: number; after?: string | null }) {
    const rows = await this.deps.prisma.user.findMany({
      where: afterCursorWhere(decodeCursor(options.after)),
      orderBy: NEWEST_FIRST,
      take: options.first + 1,
      select: USER_SELECT,
    });
    return toConnection(rows, options.first);
  }

  /**
   * `avatarUrl`: null goes back to the generated default; any other value must be an avatar
   * Warden issued to this user (docs/api.md §3).
   * @throws ValidationError for a blank name or an avatar URL Warden did not issue to this user; nothing changes then.
   */
  async updateProfile(userId: string, changes: { name?: string | null; bio?: string | null; avatarUrl?: string | null }): Promise<UserRow> {
    const data: { name?: string; bio?: string } = {};
    if (changes.name !== undefined && changes.name !== null) {
      const name = changes.name.trim();
      if (!name) throw new ValidationError({ name: 'must not be blank' });
      data.name = name;
    }
    if (changes.bio !== undefined && changes.bio !== null) data.bio = changes.bio;
    if (changes.avatarUrl !== undefined) {
      const avatarUrl = await this.acceptAvatarUrl(userId, changes.avatarUrl);
      return this.replaceAvatarUrl(userId, avatarUrl, data);
    }
    return this.changed(userId, () => this.deps.prisma.user.update({ where: { id: userId }, data, select: USER_SELECT }));
  }

  /**
   * Sets the user's avatar URL (and the `other` columns with it), then deletes the stored avatar
   * it replaced. The write is a compare-and-set on the previous URL, so of concurrent
   * replacements each deletes exactly the avatar it displaced, and none deletes the one in use.
   * @throws AppError NOT_FOUND when the user no longer exists.
   */
  async replaceAvatarUrl(userId: string, avatarUrl: string, other: { name?: string; bio?: string } = {}): Promise<UserRow> {
    for (let attempt = 0; attempt < AVATAR_SWAP_ATTEMPTS; attempt++) {
      const current = await this.deps.prisma.user.findUnique({ where: { id: userId }, select: { avatarUrl: true } });
      if (!current) throw new AppError(ErrorCode.NOT_FOUND);
      const { count } = await this.changed(userId, () =>
        this.deps.prisma.user.updateMany({ where: { id: userId, avatarUrl: current.avatarUrl }, data: { ...other, avatarUrl } }),
      );
      if (count === 1) {
        if (current.avatarUrl !== avatarUrl) await this.deps.avatars?.discard(userId, current.avatarUrl);
        const user = await this.findById(userId);
        if (!user) throw new AppError(ErrorCode.NOT_FOUND);
        return user;
      }
    }
    throw new Error('the avatar URL kept changing during replaceAvatarUrl');
  }

  private async acceptAvatarUrl(userId: string, url: string | null): Promise<string> {
    if (this.deps.avatars) return this.deps.avatars.acceptRequestedUrl(userId, url);
    if (url === null || url === defaultAvatarUrl(userId)) return defaultAvatarUrl(userId);
    throw new ValidationError({ avatarUrl: 'must be null (the generated avatar)' });
  }

  /**
   * @throws AppError INVALID_CREDENTIALS when the password is wrong; AccountLockedError while the
   * account is locked (docs/api.md §6). Nothing is deleted then.
   */
  async deleteSelf(userId: string, password: string, actor?: Actor): Promise<void> {
    const user = await this.deps.prisma.user.findUnique({ where: { id: userId }, select: { email: true, passwordHash: true } });
    if (!user) throw new AppError(ErrorCode.UNAUTHENTICATED);
    const tooLong = Buffer.byteLength(password, 'utf8') > 72;
    const ok = await this.deps.gate.check(user.email, 'password', async () => {
      // No password (an OAuth-only user): nothing matches; a reset gives them one.
      if (user.passwordHash === null) return this.deps.hasher.verifyDummy(password).then(() => false);
      return !tooLong && (await this.deps.hasher.verify(password, user.passwordHash));
    });
    if (!ok) throw new AppError(ErrorCode.INVALID_CREDENTIALS);
    await this.remove(userId, actor);
  }

  /** @throws AppError NOT_FOUND for an id that names no user. */
  async deleteById(userId: string, actor?: Actor): Promise<void> {
    if (!isUuid(userId)) throw new AppError(ErrorCode.NOT_FOUND);
    await this.remove(userId, actor);
  }

  /**
   * Sets the role and records `role_changed` (with the role before, when it changed) once the
   * update has committed.
   * @throws AppError NOT_FOUND for an id that names no user.
   */
  async setRole(userId: string, role: Role, actor?: Actor): Promise<UserRow> {
    if (!isUuid(userId)) throw new AppError(ErrorCode.NOT_FOUND);
    // One statement: the row as it was (for the audit row) and the update.
    const before = await this.changed(
      userId,
      () =>
        this.deps.prisma.$queryRaw<Array<{ role: Role }>>`
        UPDATE "User" AS u SET "role" = ${role}::"Role", "updatedAt" = now() FROM (SELECT "id", "role" FROM "User" WHERE "id" = ${userId}::uuid FOR UPDATE) AS old
        WHERE u."id" = old."id" RETURNING old."role" AS "role"`,
    );
    if (before.length === 0) throw new AppError(ErrorCode.NOT_FOUND);
    await this.deps.audit?.record('role_changed', {
      userId,
      sessionId: actor?.sessionId,
      meta: actor?.meta,
      detail: { from: before[0].role, to: role, by: actor?.userId ?? null },
    });
    return (await this.findById(userId))!;
  }

  /**
   * One statement: sessions, tokens, posts and follows go with the user through ON DELETE
   * CASCADE. The `user_deleted` row keeps the id (AuthEvent has no foreign key to User). Then
   * the user's stored avatars and uploads are deleted.
   */
  private async remove(userId: string, actor?: Actor): Promise<void> {
    const { count } = await this.changed(userId, () => this.deps.prisma.user.deleteMany({ where: { id: userId } }));
    if (count === 0) throw new AppError(ErrorCode.NOT_FOUND);
    await this.deps.audit?.record('user_deleted', {
      userId,
      sessionId: actor?.sessionId,
      meta: actor?.meta,
      detail: { by: actor?.userId ?? null, self: actor?.userId === userId },
    });
    await this.deps.avatars?.deleteAllOf(userId);
  }

  /** Runs a write to the user's row, then invalidates every instance's cached copy (even if the write failed midway). */
  private async changed<T>(userId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      await this.deps.viewerCache?.invalidateUser(userId);
    }
  }
}
