/**
 * The per-IP limit (API.md §6): each client IP may call each limited operation (`login`,
 * `signup`, `requestPasswordReset`, `requestEmailVerification`) `perMinute` times a minute;
 * past that the operation answers RATE_LIMITED with `extensions.retryAfter`. Each call counts,
 * so every aliased field of one request counts. `perMinute = 0` disables the limit.
 *
 * Services call `consumeIp` first thing, before any other work. It fails closed: when the store
 * does not answer it throws StoreUnavailableError, even with the limit disabled, so the
 * operations that need a counter never run without one (API.md §6).
 */
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { RetryLaterError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import { runLimiter, runStore, type Store } from '../../infra/store';

export type RateLimitedOperation = 'login' | 'signup' | 'requestPasswordReset' | 'requestEmailVerification';

export interface RateLimitServiceDeps {
  store: Store;
  /** Requests per client IP per minute, per operation; 0 disables. */
  perMinute: number;
}

export class RateLimitService {
  private readonly limiter: RateLimiterAbstract | null;

  constructor(private readonly deps: RateLimitServiceDeps) {
    this.limiter =
      deps.perMinute > 0 ? deps.store.limiter({ keyPrefix: 'warden:ip', points: deps.perMinute, durationMs: 60_000 }) : null;
  }

  /**
   * Counts one call of `operation` from `ip`.
   * @throws RetryLaterError RATE_LIMITED when the IP has used its quota for this minute.
   * @throws StoreUnavailableError when the store does not answer.
   */
  async consumeIp(operation: RateLimitedOperation, ip: string): Promise<void> {
    if (!this.limiter) {
      await this.requireStore();
      return;
    }
    const limiter = this.limiter;
    const outcome = await runLimiter(`rate limit ${operation}`, () => limiter.consume(`${operation}:${ip}`, 1));
    if (!outcome.allowed) throw new RetryLaterError(ErrorCode.RATE_LIMITED, outcome.res.msBeforeNext);
  }

  /**
   * Fails closed when the store does not answer: for operations that must not run while
   * counters and locks are unavailable even when they count nothing themselves.
   * @throws StoreUnavailableError
   */
  async requireStore(): Promise<void> {
    await runStore('store ping', () => this.deps.store.ping());
  }
}
