/**
 * Password reset by mail: a 256-bit token (stored as its SHA-256), valid for 30 minutes,
 * single-use; a newer token replaces the older one.
 *
 * requestPasswordReset answers true at once for any address: the lookup, the token and the
 * mail happen after the response, in the background, so neither the answer nor its timing says
 * whether the address is registered.
 *
 * resetPassword sets the password, marks the address verified (the token came through it),
 * and ends every session of the user in the same transaction.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { PrismaClient } from '../../generated/prisma/client';
import { AppError, ValidationError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { BackgroundTasks } from '../../lib/background';
import type { Clock } from '../../lib/clock';
import { passwordProblem, type PasswordHasher } from '../../lib/password';
import { looksLikeOpaqueToken, newOpaqueToken, normalizeEmail, sha256 } from '../../lib/tokens';
import { runLimiter, type Store } from '../../infra/store';
import type { MailQueue } from '../../infra/mailer';
import { emailProblem } from '../../lib/validation';
import type { RequestMeta } from '../../domain/types';
import type { AuditService, SecretGate, RateLimitService } from '../security';
import type { SessionService } from '../session';
import { passwordResetMail } from './mail-templates';
import { OneTimeTokenPurpose, replaceOneTimeToken, spendOneTimeToken } from './one-time-tokens';

export const RESET_TOKEN_TTL_MS = 30 * 60_000;
/** Reset mails per address, whatever the client IP: at most this many… */
export const RESET_MAILS_PER_EMAIL = 5;
/** …within this window. Requests past it still answer true; they just send nothing. */
export const RESET_MAIL_WINDOW_MS = 60 * 60_000;

export interface PasswordResetServiceDeps {
  prisma: PrismaClient;
  clock: Clock;
  hasher: PasswordHasher;
  sessions: SessionService;
  store: Store;
  gate: SecretGate;
  rateLimits: RateLimitService;
  audit: AuditService;
  mail: MailQueue;
  background: BackgroundTasks;
  logger: Logger;
}

export class PasswordResetService {
  private readonly perEmail;

  constructor(private readonly deps: PasswordResetServiceDeps) {
    this.perEmail = deps.store.limiter({ keyPrefix: 'warden:reset-mail', points: RESET_MAILS_PER_EMAIL, durationMs: RESET_MAIL_WINDOW_MS });
  }

  /**
   * requestPasswordReset: true for every address. Only the per-IP limit runs before the answer;
   * the rest runs in the background.
   * @throws RetryLaterError RATE_LIMITED; StoreUnavailableError when the store does not answer.
   */
  async request(email: string, meta: RequestMeta): Promise<true> {
    await this.deps.rateLimits.consumeIp('requestPasswordReset', meta.ip);
    void this.deps.background.run('password reset request', () => this.sendResetMail(email, meta));
    return true;
  }

  /**
   * resetPassword: spends the token, sets the password, ends every session of the user.
   * @throws ValidationError (`newPassword`) for a password signup would refuse (the token stays
   * usable); AppError INVALID_CODE for a wrong, spent, expired or malformed token.
   */
  async reset(input: { token: string; newPassword: string }, meta: RequestMeta): Promise<true> {
    const problem = passwordProblem(input.newPassword);
    if (problem) throw new ValidationError({ newPassword: problem });
    if (!looksLikeOpaqueToken(input.token)) throw new AppError(ErrorCode.INVALID_CODE);
    const tokenHash = sha256(input.token);
    const now = new Date(this.deps.clock.now());
    // Checked before bcrypt, so a made-up token costs no hashing; spent again below, atomically.
    const found = await this.deps.prisma.oneTimeToken.findUnique({
      where: { purpose_tokenHash: { purpose: OneTimeTokenPurpose.PASSWORD_RESET, tokenHash } },
      select: { userId: true, usedAt: true, expiresAt: true },
    });
    if (!found || found.usedAt || found.expiresAt <= now) throw new AppError(ErrorCode.INVALID_CODE);
    const passwordHash = await this.deps.hasher.hash(input.newPassword);

    const result = await this.deps.prisma.$transaction(async (tx) => {
      const spent = await spendOneTimeToken(tx, { purpose: OneTimeTokenPurpose.PASSWORD_RESET, tokenHashes: [tokenHash], now });
      if (!spent) return null; // a parallel reset with the same token won
      const user = await tx.user.update({
        where: { id: found.userId },
        data: { passwordHash, emailVerified: true },
        select: { id: true, email: true },
      });
      const ended = await this.deps.sessions.revoke(tx, { userId: user.id }, 'password_reset');
      return { user, ended };
    });
    if (!result) throw new AppError(ErrorCode.INVALID_CODE);
    await this.deps.sessions.ended(result.user.id, 'password_reset', result.ended);
    await this.deps.audit.record('password_reset', { userId: result.user.id, meta, detail: { sessionsEnded: result.ended } });
    // The owner of the mailbox has a new password: a lock others ran up on the address should
    // not keep them out. Best effort: the password is already changed.
    await this.deps.gate.afterPasswordReset(result.user.email).catch((error: unknown) => {
      this.deps.logger.warn({ err: error }, 'could not clear the lockout after a password reset');
    });
    return true;
  }

  private async sendResetMail(rawEmail: string, meta: RequestMeta): Promise<void> {
    const email = normalizeEmail(rawEmail);
    if (emailProblem(email)) return;
    // Counted per address, registered or not, so the count says nothing either.
    const quota = await runLimiter('reset mail quota', () => this.perEmail.consume(emailKey(email), 1));
    if (!quota.allowed) {
      this.deps.logger.info('password reset mail not sent: this address had its quota of reset mails');
      return;
    }
    const user = await this.deps.prisma.user.findUnique({ where: { email }, select: { id: true, email: true } });
    if (!user) return;
    const token = newOpaqueToken();
    const now = this.deps.clock.now();
    const stored = await replaceOneTimeToken(this.deps.prisma, {
      userId: user.id,
      purpose: OneTimeTokenPurpose.PASSWORD_RESET,
      tokenHash: sha256(token),
      now: new Date(now),
      expiresAt: new Date(now + RESET_TOKEN_TTL_MS),
    });
    if (!stored) return;
    await this.deps.audit.record('password_reset_requested', { userId: user.id, meta });
    void this.deps.mail.enqueue({ to: user.email, ...passwordResetMail({ token, validMinutes: RESET_TOKEN_TTL_MS / 60_000 }) });
  }
}

/** Store keys name a hash of the address, never the address. */
function emailKey(email: string): string {
  return createHash('sha256').update(email, 'utf8').digest('base64url');
}
