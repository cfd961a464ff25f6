/**
 * Email verification: a 6-digit code from the CSPRNG, sent at signup and on request, valid for
 * 10 minutes, single-use; a newer code replaces the older one.
 *
 * Codes are stored as HMAC-SHA256(key, userId ":" code), the key derived from JWT_SECRET. A
 * 6-digit code has 20 bits, so a plain hash would fall to anyone holding the table in a
 * million tries; with the key it cannot be tried offline, and the user id in the MAC binds a
 * code to its user (another user's code never matches).
 *
 * Guessing is bounded by the account lockout (docs/api.md §6): each check goes through the secret
 * gate under the viewer's email, so wrong codes and wrong passwords share one lock. A right code
 * clears nothing (it proves the mailbox, not the password).
 *
 * ADMIN_EMAILS (docs/api.md §6): an address on the list becomes ADMIN here, in the same transaction
 * that marks it verified — a proven mailbox, never signing up alone.
 */
import type { Logger } from 'pino';
import type { PrismaClient } from '../../generated/prisma/client';
import { AppError, RetryLaterError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import type { BackgroundTasks } from '../../lib/background';
import type { Clock } from '../../lib/clock';
import { keyedHash, newNumericCode } from '../../lib/tokens';
import { runLimiter, type Store } from '../../infra/store';
import type { MailQueue } from '../../infra/mailer';
import type { RequestMeta, ViewerInvalidation } from '../../domain/types';
import { USER_SELECT, type UserRow, Role } from '../user';
import type { AuditService, SecretGate, RateLimitService } from '../security';
import { verificationCodeMail } from './mail-templates';
import { OneTimeTokenPurpose, replaceOneTimeToken, spendOneTimeToken } from './one-time-tokens';

export const VERIFICATION_CODE_TTL_MS = 10 * 60_000;
export const VERIFICATION_CODE_DIGITS = 6;
const CODE_SHAPE = new RegExp(`^\\d{${VERIFICATION_CODE_DIGITS}}$`);
/** requestEmailVerification per user, from any IP: at most this many codes… */
export const VERIFICATION_MAILS_PER_USER = 5;
/** …within this window. Stops one signed-in client from flooding an inbox through many IPs. */
export const VERIFICATION_MAIL_WINDOW_MS = 15 * 60_000;

export interface VerificationServiceDeps {
  prisma: PrismaClient;
  clock: Clock;
  store: Store;
  gate: SecretGate;
  rateLimits: RateLimitService;
  audit: AuditService;
  mail: MailQueue;
  background: BackgroundTasks;
  logger: Logger;
  /** HMAC keys: the first hashes new codes; every one is accepted (the previous JWT secret's, while it rotates out). */
  codeKeys: readonly Uint8Array[];
  /** Told once a verification has committed, so no instance serves the unverified row. */
  viewerCache?: ViewerInvalidation;
  /** Normalised addresses that become ADMIN once verified. */
  adminEmails?: readonly string[];
}

export class VerificationService {
  private readonly perUser;

  constructor(private readonly deps: VerificationServiceDeps) {
    this.perUser = deps.store.limiter({
      keyPrefix: 'warden:verify-mail',
      points: VERIFICATION_MAILS_PER_USER,
      durationMs: VERIFICATION_MAIL_WINDOW_MS,
    });
  }

  /**
   * The signup hook: makes the first code and mails it, all in the background, so signup waits
   * for neither the database write nor SMTP. A failure is logged; the user can ask again.
   */
  afterSignup(user: Pick<UserRow, 'id' | 'email'>): void {
    void this.deps.background.run('verification code after signup', () => this.issueAndSend(user));
  }

  /**
   * requestEmailVerification: a new code replaces any earlier one and is mailed in the
   * background. An already verified address gets no mail; the answer is true either way.
   * @throws RetryLaterError RATE_LIMITED (per IP, or per user); StoreUnavailableError when the
   * store does not answer (fails closed).
   */
  async request(user: Pick<UserRow, 'id' | 'email' | 'emailVerified'>, meta: RequestMeta): Promise<true> {
    await this.deps.rateLimits.consumeIp('requestEmailVerification', meta.ip);
    const quota = await runLimiter('verification mail quota', () => this.perUser.consume(user.id, 1));
    if (!quota.allowed) throw new RetryLaterError(ErrorCode.RATE_LIMITED, quota.res.msBeforeNext);
    if (user.emailVerified) return true;
    await this.issueAndSend(user);
    return true;
  }

  /**
   * verifyEmail: spends the viewer's live code and marks their email verified.
   * @throws AppError INVALID_CODE for a wrong, spent, expired or malformed code (it counts toward
   * the lockout); AccountLockedError while the email is locked; StoreUnavailableError.
   */
  async verify(user: Pick<UserRow, 'id' | 'email' | 'role'>, code: string, meta: RequestMeta): Promise<UserRow> {
    const promote = (this.deps.adminEmails ?? []).includes(user.email) && user.role !== Role.ADMIN;
    // Checked under the gate: of many parallel or aliased guesses, at most LOGIN_MAX_FAILURES
    // are ever looked at, and none while the email is locked.
    const digits = code.replace(/\s+/g, '');
    let verified: UserRow | null = null;
    await this.deps.gate.check(user.email, 'email_code', async () => {
      const now = new Date(this.deps.clock.now());
      verified = CODE_SHAPE.test(digits)
        ? await this.deps.prisma.$transaction(async (tx) => {
            const spent = await spendOneTimeToken(tx, {
              purpose: OneTimeTokenPurpose.EMAIL_VERIFICATION,
              tokenHashes: this.deps.codeKeys.map((key) => this.hash(key, user.id, digits)),
              userId: user.id,
              now,
            });
            if (!spent) return null;
            return (await tx.user.update({
              where: { id: user.id },
              data: { emailVerified: true, ...(promote ? { role: Role.ADMIN } : {}) },
              select: USER_SELECT,
            })) as UserRow;
          })
        : null;
      return verified !== null;
    });
    if (!verified) {
      await this.deps.audit.record('email_verification_failed', { userId: user.id, meta });
      throw new AppError(ErrorCode.INVALID_CODE);
    }
    await this.deps.viewerCache?.invalidateUser(user.id);
    await this.deps.audit.record('email_verified', { userId: user.id, meta });
    if (promote)
      await this.deps.audit.record('role_changed', {
        userId: user.id,
        meta,
        detail: { from: user.role, to: Role.ADMIN, by: 'ADMIN_EMAILS' },
      });
    return verified;
  }

  private async issueAndSend(user: Pick<UserRow, 'id' | 'email'>): Promise<void> {
    const code = newNumericCode(VERIFICATION_CODE_DIGITS);
    const now = this.deps.clock.now();
    const stored = await replaceOneTimeToken(this.deps.prisma, {
      userId: user.id,
      purpose: OneTimeTokenPurpose.EMAIL_VERIFICATION,
      tokenHash: this.hash(this.deps.codeKeys[0], user.id, code),
      now: new Date(now),
      expiresAt: new Date(now + VERIFICATION_CODE_TTL_MS),
    });
    if (!stored) return; // the user was deleted meanwhile
    void this.deps.mail.enqueue({ to: user.email, ...verificationCodeMail({ code, validMinutes: VERIFICATION_CODE_TTL_MS / 60_000 }) });
  }

  private hash(key: Uint8Array, userId: string, code: string): Uint8Array<ArrayBuffer> {
    return keyedHash(key, `${userId}:${code}`);
  }
}
