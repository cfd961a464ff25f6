/**
 * changePassword: needs the current password, ends every other session of the user, and gives
 * the current session a fresh token pair — all in one transaction.
 */
import type { PrismaClient } from '../../generated/prisma/client';
import { AppError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { Clock } from '../../lib/clock';
import type { AccessTokens } from '../../lib/jwt';
import { passwordProblem, type PasswordHasher } from '../../lib/password';
import type { RequestMeta, Viewer } from '../../domain/types';
import { USER_SELECT, type UserRow } from '../user';
import type { AuditService, SecretGate } from '../security';
import { issueTokens, type IssuedTokens, type SessionService } from '../session';

export interface ChangePasswordServiceDeps {
  prisma: PrismaClient;
  hasher: PasswordHasher;
  accessTokens: AccessTokens;
  sessions: SessionService;
  audit: AuditService;
  gate: SecretGate;
  clock: Clock;
  refreshTokenTtlMs: number;
}

export class ChangePasswordService {
  constructor(private readonly deps: ChangePasswordServiceDeps) {}

  /**
   * @throws ValidationError (`newPassword`) for an unacceptable new password; AppError
   * INVALID_CREDENTIALS when the current password is wrong; SESSION_REVOKED when the session
   * ended meanwhile; AccountLockedError while the account is locked (the current password counts
   * toward the same lock as login, docs/api.md §6). Nothing changes in any of these cases.
   */
  async change(
    viewer: Pick<Viewer, 'userId' | 'sessionId' | 'aal' | 'amr' | 'user'>,
    input: { currentPassword: string; newPassword: string },
    meta: RequestMeta,
  ): Promise<IssuedTokens> {
    const problem = passwordProblem(input.newPassword);
    if (problem) throw new ValidationError({ newPassword: problem });
    const found = await this.deps.prisma.user.findUnique({ where: { id: viewer.userId }, select: { email: true, passwordHash: true } });
    if (!found) throw new AppError(ErrorCode.UNAUTHENTICATED);
    const tooLong = Buffer.byteLength(input.currentPassword, 'utf8') > 72;
    const ok = await this.deps.gate.check(found.email, 'password', async () => {
      // A user who has only ever signed in through a provider has no password: nothing matches.
      if (found.passwordHash === null) return this.deps.hasher.verifyDummy(input.currentPassword).then(() => false);
      return !tooLong && (await this.deps.hasher.verify(input.currentPassword, found.passwordHash));
    });
    if (!ok) throw new AppError(ErrorCode.INVALID_CREDENTIALS);
    const passwordHash = await this.deps.hasher.hash(input.newPassword);

    const result = await this.deps.prisma.$transaction(async (tx) => {
      const session = await tx.session.findUnique({
        where: { id: viewer.sessionId },
        select: { userId: true, revokedAt: true, absoluteExpiresAt: true },
      });
      if (!session || session.userId !== viewer.userId || session.revokedAt) return null;
      const user = (await tx.user.update({ where: { id: viewer.userId }, data: { passwordHash }, select: USER_SELECT })) as UserRow;
      const ended = await this.deps.sessions.revoke(tx, { userId: viewer.userId, id: { not: viewer.sessionId } }, 'password_changed');
      // The session's earlier refresh tokens stop working: it gets a new key (SessionService.rekey),
      // so a copy taken before the change — or a successor a racing rotation committed just
      // before — answers REFRESH_TOKEN_INVALID, and a rotation that read the old key fails.
      const rekeyed = await this.deps.sessions.rekey(tx, viewer.sessionId, viewer.userId, meta);
      // Ended (or lapsed) since the check above: roll the password change back with it.
      if (!rekeyed) throw new AppError(ErrorCode.SESSION_REVOKED);
      return { user, ended, ...rekeyed };
    });
    if (!result) throw new AppError(ErrorCode.SESSION_REVOKED);
    await this.deps.sessions.ended(viewer.userId, 'password_changed', result.ended);

    await this.deps.audit.record('password_changed', {
      userId: viewer.userId,
      sessionId: viewer.sessionId,
      meta,
      detail: { sessionsEnded: result.ended },
    });
    // The session keeps its assurance: the new token carries what the old one did.
    return issueTokens(
      this.deps.accessTokens,
      { ...result, sessionId: viewer.sessionId, aal: viewer.aal, amr: viewer.amr },
      viewer.user.mfaEnabled && viewer.aal !== 'aal2',
    );
  }
}
