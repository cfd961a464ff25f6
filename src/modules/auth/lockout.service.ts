/**
 * Account lockout (API.md §6): `maxFailures` failed attempts for one normalised email within
 * `windowMs` lock that email for `lockoutMs`. Login failures and wrong email-verification codes
 * count toward the same lock. Emails that are not registered lock the same way, so a lock says
 * nothing about whether an account exists.
 *
 * The count lives in the shared store (rate-limiter-flexible: an atomic Lua INCR in Redis, or
 * process memory). An attempt is *reserved* before the secret is checked, so of N parallel
 * guesses at most `maxFailures` ever reach bcrypt; the others are refused as locked without
 * spending bcrypt time. Callers settle each reservation: `recordFailure` after a wrong secret,
 * `reset` after a successful login, `refund` after a correct code.
 *
 *   const attempt = await lockout.reserveAttempt(email);   // throws ACCOUNT_LOCKED
 *   if (!(await check())) { await lockout.recordFailure(attempt); throw … }
 *   await lockout.reset(email);
 *
 * Every method fails closed: when the store does not answer it throws StoreUnavailableError
 * (masked as INTERNAL_SERVER_ERROR), never lets the attempt through.
 */
import { createHash } from 'node:crypto';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { RetryLaterError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import { runLimiter, runStore, type Store } from '../../infra/store';
import { normalizeEmail } from '../../lib/tokens';
import type { Metrics } from '../../infra/metrics';

export interface LockoutServiceDeps {
  store: Store;
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  /** Counts each lock imposed (warden_lockouts_total). */
  metrics?: Pick<Metrics, 'lockouts'>;
}

/** One reserved attempt: the email's key and how many attempts the window had used with it. */
export interface LockoutAttempt {
  readonly key: string;
  readonly used: number;
}

/** A lock in force: ACCOUNT_LOCKED with `extensions.retryAfter` in seconds. */
export class AccountLockedError extends RetryLaterError {
  constructor(retryAfterMs: number) {
    super(ErrorCode.ACCOUNT_LOCKED, retryAfterMs);
  }
}

export class LockoutService {
  private readonly limiter: RateLimiterAbstract;

  constructor(private readonly deps: LockoutServiceDeps) {
    // points = attempts allowed per window; the attempt past them is refused and starts a
    // block of lockoutMs (rate-limiter-flexible's blockDuration), during which every attempt
    // is refused without extending the lock.
    this.limiter = deps.store.limiter({
      keyPrefix: 'warden:lockout',
      points: deps.maxFailures,
      durationMs: deps.windowMs,
      blockDurationMs: deps.lockoutMs,
    });
  }

  /**
   * Atomically takes one attempt from the email's budget.
   * @throws AccountLockedError when the email is locked or has no attempt left in the window.
   * @throws StoreUnavailableError when the store does not answer.
   */
  async reserveAttempt(email: string): Promise<LockoutAttempt> {
    const key = lockoutKey(email);
    const outcome = await runLimiter('lockout reserve', () => this.limiter.consume(key, 1));
    if (!outcome.allowed) throw new AccountLockedError(outcome.res.msBeforeNext);
    return { key, used: outcome.res.consumedPoints };
  }

  /**
   * Throws when the email is locked, without taking an attempt (for a pre-check before costly
   * work; `reserveAttempt` is the atomic gate).
   * @throws AccountLockedError, StoreUnavailableError
   */
  async assertNotLocked(email: string): Promise<void> {
    const key = lockoutKey(email);
    const res = await runStore('lockout read', () => this.limiter.get(key));
    if (res && res.consumedPoints >= this.deps.maxFailures && res.msBeforeNext > 0) {
      throw new AccountLockedError(res.msBeforeNext);
    }
  }

  /**
   * Settles a reserved attempt as failed. The reservation already counted; the failure that
   * uses up the budget starts the lock at once, so the next attempt is refused for the whole
   * lockout duration.
   * @throws StoreUnavailableError
   */
  async recordFailure(attempt: LockoutAttempt): Promise<void> {
    if (attempt.used >= this.deps.maxFailures) {
      await runStore('lockout block', () => this.limiter.block(attempt.key, Math.max(1, Math.ceil(this.deps.lockoutMs / 1000))));
      // Only one reservation per window can have used the last attempt: one lock, counted once.
      this.deps.metrics?.lockouts.inc();
    }
  }

  /**
   * Gives a reserved attempt back without clearing earlier failures (a correct verification
   * code: it proves the session, not the password).
   * @throws StoreUnavailableError
   */
  async refund(attempt: LockoutAttempt): Promise<void> {
    await runStore('lockout refund', () => this.limiter.reward(attempt.key, 1));
  }

  /**
   * Clears the email's count (a successful login).
   * @throws StoreUnavailableError
   */
  async reset(email: string): Promise<void> {
    await runStore('lockout reset', () => this.limiter.delete(lockoutKey(email)));
  }
}

/** Keys name a hash of the normalised email, so the store never holds addresses. */
function lockoutKey(email: string): string {
  return createHash('sha256').update(normalizeEmail(email), 'utf8').digest('base64url');
}
