/**
 * The per-IP limit (docs/api.md §6): each client IP may call each limited operation (`login`,
 * `signup`, `requestPasswordReset`, `requestEmailVerification`) `perMinute` times a minute;
 * past that the operation answers RATE_LIMITED with `extensions.retryAfter`. Each call counts,
 * so every aliased field of one request counts. `perMinute = 0` disables the limit.
 *
 * The count is per client network, not per literal address (`ipLimitKey`): an IPv4 address
 * counts alone, an IPv6 address counts with its whole /64 (one subscriber's prefix, which a
 * client can walk at will), and an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) counts as the
 * IPv4 address it carries.
 *
 * Services call `consumeIp` first thing, before any other work. It fails closed: when the store
 * does not answer it throws StoreUnavailableError, even with the limit disabled, so the
 * operations that need a counter never run without one (docs/api.md §6).
 */
import ipaddr from 'ipaddr.js';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { RetryLaterError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import { runLimiter, runStore, type Store } from '../../infra/store';

export type RateLimitedOperation =
  | 'login'
  | 'signup'
  | 'requestPasswordReset'
  | 'requestEmailVerification'
  | 'startOAuthLogin'
  | 'finishOAuthLogin'
  | 'startPasskeyRegistration'
  | 'finishPasskeyRegistration'
  | 'startPasskeyLogin'
  | 'finishPasskeyLogin';

export interface RateLimitServiceDeps {
  store: Store;
  /** Requests per client IP per minute, per operation; 0 disables. */
  perMinute: number;
}

export class RateLimitService {
  private readonly limiter: RateLimiterAbstract | null;
  /** The ping the callers of this turn of the event loop wait for, until it is sent. */
  private nextPing: Promise<void> | null = null;

  constructor(private readonly deps: RateLimitServiceDeps) {
    this.limiter = deps.perMinute > 0 ? deps.store.limiter({ keyPrefix: 'warden:ip', points: deps.perMinute, durationMs: 60_000 }) : null;
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
    const outcome = await runLimiter(`rate limit ${operation}`, () => limiter.consume(`${operation}:${ipLimitKey(ip)}`, 1));
    if (!outcome.allowed) throw new RetryLaterError(ErrorCode.RATE_LIMITED, outcome.res.msBeforeNext);
  }

  /**
   * Fails closed when the store does not answer: for operations that must not run while
   * counters and locks are unavailable even when they count nothing themselves.
   * @throws StoreUnavailableError
   */
  async requireStore(): Promise<void> {
    // Callers within one turn of the event loop share one ping, sent after all of them called,
    // so each still waits for an answer the store gave after it asked (never an earlier one).
    this.nextPing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.nextPing = null;
      return runStore('store ping', () => this.deps.store.ping());
    });
    await this.nextPing;
  }
}

/** IPv6 addresses sharing their first 64 bits share one count. */
export const IPV6_PREFIX_BITS = 64;

/**
 * The key an address counts under: an IPv4 address as it is; an IPv4-mapped IPv6 address as
 * its IPv4 address; any other IPv6 address as its /64 (`2001:db8:1:2::/64`). A string that is
 * no address (it cannot come from a socket) counts as itself.
 */
export function ipLimitKey(ip: string): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // A zone id (`fe80::1%eth0`) names an interface, not a client: the prefix alone counts.
    address = ipaddr.process(ip.replace(/%.*$/, ''));
  } catch {
    return ip;
  }
  if (address.kind() === 'ipv4') return address.toString();
  const bytes = address.toByteArray().slice(0, IPV6_PREFIX_BITS / 8);
  return `${ipaddr.fromByteArray([...bytes, ...new Array(16 - bytes.length).fill(0)]).toString()}/${IPV6_PREFIX_BITS}`;
}
