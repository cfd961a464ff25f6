import bcrypt from 'bcrypt';
import pLimit from 'p-limit';
import { inSpan } from '../infra/tracing';

export const PASSWORD_MIN_BYTES = 8;
/** bcrypt reads at most 72 bytes; longer passwords are refused, never silently truncated. */
export const PASSWORD_MAX_BYTES = 72;

/** Why a password is not acceptable, or null when it is. */
export function passwordProblem(password: string): string | null {
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes < PASSWORD_MIN_BYTES) return `must be at least ${PASSWORD_MIN_BYTES} bytes`;
  if (bytes > PASSWORD_MAX_BYTES) return `must be at most ${PASSWORD_MAX_BYTES} bytes of UTF-8`;
  return null;
}

/**
 * bcrypt runs on libuv's thread pool, which PostgreSQL's SCRAM login (WebCrypto PBKDF2), DNS
 * lookups and file reads share. A burst of logins would queue dozens of bcrypt jobs there, and a
 * new database connection would then wait behind all of them until it timed out. So at most
 * `concurrency` bcrypt jobs run at once (by default one less than the pool's threads); the rest
 * wait here, in order (p-limit's queue is first in, first out).
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  private readonly limit: ReturnType<typeof pLimit>;

  constructor(
    private readonly cost: number,
    options: { concurrency?: number } = {},
  ) {
    this.limit = pLimit(Math.max(1, options.concurrency ?? 3));
  }

  hash(password: string): Promise<string> {
    return this.traced('bcrypt.hash', () => bcrypt.hash(password, this.cost));
  }

  verify(password: string, hash: string): Promise<boolean> {
    return this.traced('bcrypt.compare', () => bcrypt.compare(password, hash));
  }

  /** Spends the same bcrypt time as a real check, so an unknown email is not told apart by timing. */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= this.traced('bcrypt.hash', () => bcrypt.hash('warden-dummy-password', this.cost));
    const dummy = await this.dummyHash;
    // Traced like a real check: a trace does not tell an unknown email apart either.
    await this.traced('bcrypt.compare', () => bcrypt.compare(password, dummy));
    return false;
  }

  /** A bcrypt job in a span (with tracing on): its cost, and how long it waited for a slot. */
  private traced<T>(name: string, job: () => Promise<T>): Promise<T> {
    return inSpan(name, { 'bcrypt.cost': this.cost }, (span) => {
      const queuedAt = performance.now();
      return this.limit(() => {
        span.set('warden.bcrypt.wait_ms', Math.round(performance.now() - queuedAt));
        return job();
      });
    });
  }
}
