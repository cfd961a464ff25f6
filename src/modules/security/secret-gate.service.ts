/**
 * The secret gate: every check of a secret goes through `SecretGate.check` (docs/api.md §6) — the
 * password in `login`, `changePassword` and `deleteMe`, an email-verification code, and (for the
 * MFA flows) a TOTP or recovery code. One account, one lock:
 *
 *   const ok = await gate.check(user.email, 'password', () => hasher.verify(password, hash));
 *   if (!ok) throw new AppError(ErrorCode.INVALID_CREDENTIALS);
 *
 * - `LOGIN_MAX_FAILURES` failures within `LOGIN_FAILURE_WINDOW` (a sliding window), of any kinds
 *   together, lock the account for `LOCKOUT_DURATION`. While it is locked every kind is refused
 *   with ACCOUNT_LOCKED (`retryAfter`) before `verify` runs, so no bcrypt time is spent.
 * - Only failures lock. A check takes an in-flight slot while `failures + in flight` is below
 *   the limit; a check beyond that budget waits (at most `waitMs`) for the outcome of those
 *   ahead of it instead of being refused. So N parallel right answers all pass while fewer than
 *   the limit have failed, and of 30 parallel wrong guesses at most `LOGIN_MAX_FAILURES` ever
 *   reach `verify`: the others see the lock once the budget is spent. A check still waiting
 *   after `waitMs` answers RATE_LIMITED (retryAfter 1 s); it was never checked.
 * - Failures are kept per bucket, so what a success clears can differ by kind: a right password
 *   clears password failures; a right email code clears nothing (it proves the mailbox, not the
 *   password); a right TOTP or recovery code (a successful `verifyMfa`) clears second-factor
 *   failures, which nothing else clears — a password cannot reset the guesses at a second factor.
 *   A lock spends the password and code failures (after it ends the account has a fresh budget);
 *   second-factor failures stay until they leave the window. A password reset (which the lock
 *   never refuses) clears password and code failures and lifts the lock, unless second-factor
 *   failures alone still fill the budget.
 * - The key is a hash of the normalised email, registered or not, so aliases of one address
 *   share it and a lock says nothing about whether an account exists.
 * - State lives in the shared store: one Lua script per step in Redis (atomic, so several
 *   instances share the count and the lock), or process memory. Slots are leases that expire
 *   after `leaseMs`, so an instance that dies mid-check cannot hold a slot for ever. Time comes
 *   from the injected clock; waiting for a slot uses real time.
 * - Fails closed: when the store does not answer, `check` throws StoreUnavailableError (masked as
 *   INTERNAL_SERVER_ERROR) and `verify` does not run, or its outcome is not answered.
 */
import { createHash, randomUUID } from 'node:crypto';
import { RetryLaterError } from '../../errors/app-error';
import { ErrorCode } from '../../errors/error-code';
import { runStore, type RedisStore, type Store } from '../../infra/store';
import type { Metrics } from '../../infra/metrics';
import type { Clock } from '../../lib/clock';
import { normalizeEmail } from '../../lib/tokens';

/** What is being checked. The MFA flows pass 'totp' or 'recovery_code'. */
export type SecretKind = 'password' | 'email_code' | 'totp' | 'recovery_code';
export const SECRET_KINDS: readonly SecretKind[] = ['password', 'email_code', 'totp', 'recovery_code'];

/** Failures are counted per bucket; the lock weighs them all together. */
type Bucket = 'password' | 'code' | 'second_factor';
const BUCKETS: readonly Bucket[] = ['password', 'code', 'second_factor'];

const POLICY: Record<SecretKind, { bucket: Bucket; clearsOnSuccess: readonly Bucket[] }> = {
  password: { bucket: 'password', clearsOnSuccess: ['password'] },
  email_code: { bucket: 'code', clearsOnSuccess: [] },
  totp: { bucket: 'second_factor', clearsOnSuccess: ['second_factor'] },
  recovery_code: { bucket: 'second_factor', clearsOnSuccess: ['second_factor'] },
};
/** What a lock spends, and what a password reset clears. */
const SPENT_BY_LOCK: readonly Bucket[] = ['password', 'code'];

/** How long a check waits for an in-flight slot before answering RATE_LIMITED. */
export const GATE_WAIT_MS = 5_000;
/** How long an in-flight slot is held at most (a check that takes longer frees it for the next). */
export const GATE_LEASE_MS = 60_000;
/** Between looks at the store while waiting (outcomes on this instance wake waiters at once). */
const POLL_MS = 25;

export interface SecretGateDeps {
  store: Store;
  clock: Clock;
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  metrics?: Pick<Metrics, 'lockouts' | 'secretChecks'>;
  waitMs?: number;
  leaseMs?: number;
}

/** A lock in force: ACCOUNT_LOCKED with `extensions.retryAfter` in seconds. */
export class AccountLockedError extends RetryLaterError {
  constructor(retryAfterMs: number) {
    super(ErrorCode.ACCOUNT_LOCKED, retryAfterMs);
  }
}

type Reservation = { kind: 'granted' } | { kind: 'locked'; retryAfterMs: number } | { kind: 'wait' };

interface Limits {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  leaseMs: number;
}

/** The atomic steps, over one store. `key` is already hashed. */
interface GateBackend {
  reserve(key: string, now: number, lease: string): Promise<Reservation>;
  /** Records a failure in `bucket`; true when this failure imposed the lock. */
  fail(key: string, now: number, lease: string, bucket: Bucket): Promise<boolean>;
  succeed(key: string, now: number, lease: string, clears: readonly Bucket[]): Promise<void>;
  /** Frees a slot whose check neither passed nor failed (it threw). */
  release(key: string, lease: string): Promise<void>;
  /** Clears buckets, and lifts the lock when what is left no longer fills the budget. */
  clear(key: string, now: number, buckets: readonly Bucket[]): Promise<void>;
}

export class SecretGate {
  private readonly backend: GateBackend;
  private readonly waitMs: number;
  /** Checks on this instance waiting for a slot, by key: woken when a check here settles. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly deps: SecretGateDeps) {
    const limits: Limits = {
      maxFailures: deps.maxFailures,
      windowMs: deps.windowMs,
      lockoutMs: deps.lockoutMs,
      leaseMs: deps.leaseMs ?? GATE_LEASE_MS,
    };
    this.backend = deps.store.kind === 'redis' ? new RedisGate(deps.store as RedisStore, limits) : new MemoryGate(limits);
    this.waitMs = deps.waitMs ?? GATE_WAIT_MS;
  }

  /**
   * Runs `verify` (true: the secret is right) under the account's lock, and counts its outcome.
   * Returns what `verify` returned. A `verify` that throws counts as neither; its error passes on.
   * @throws AccountLockedError while the account is locked (verify does not run).
   * @throws RetryLaterError RATE_LIMITED when no slot came free within the wait (verify did not run).
   * @throws StoreUnavailableError when the store does not answer.
   */
  async check(account: string, kind: SecretKind, verify: () => Promise<boolean>): Promise<boolean> {
    const key = accountKey(account);
    const lease = randomUUID();
    const policy = POLICY[kind];
    const deadline = performance.now() + this.waitMs;
    for (;;) {
      const reservation = await runStore('secret gate reserve', () => this.backend.reserve(key, this.deps.clock.now(), lease));
      if (reservation.kind === 'granted') break;
      if (reservation.kind === 'locked') {
        this.deps.metrics?.secretChecks.inc({ kind, result: 'locked' });
        throw new AccountLockedError(reservation.retryAfterMs);
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        this.deps.metrics?.secretChecks.inc({ kind, result: 'busy' });
        throw new RetryLaterError(ErrorCode.RATE_LIMITED, 1_000);
      }
      await this.waitForTurn(key, Math.min(left, POLL_MS + Math.random() * POLL_MS));
    }
    let ok: boolean;
    try {
      ok = await verify();
    } catch (error) {
      await runStore('secret gate release', () => this.backend.release(key, lease)).catch(() => undefined);
      this.wake(key);
      throw error;
    }
    this.deps.metrics?.secretChecks.inc({ kind, result: ok ? 'ok' : 'failed' });
    try {
      if (ok) {
        await runStore('secret gate success', () => this.backend.succeed(key, this.deps.clock.now(), lease, policy.clearsOnSuccess));
      } else if (await runStore('secret gate failure', () => this.backend.fail(key, this.deps.clock.now(), lease, policy.bucket))) {
        this.deps.metrics?.lockouts.inc();
      }
    } finally {
      this.wake(key);
    }
    return ok;
  }

  /**
   * After a password reset (proof of the mailbox, never refused by the lock): clears password and
   * code failures and lifts the lock, unless second-factor failures alone still fill the budget.
   * @throws StoreUnavailableError
   */
  async afterPasswordReset(account: string): Promise<void> {
    const key = accountKey(account);
    await runStore('secret gate reset', () => this.backend.clear(key, this.deps.clock.now(), SPENT_BY_LOCK));
    this.wake(key);
  }

  private waitForTurn(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  private wake(key: string): void {
    for (const done of [...(this.waiters.get(key) ?? [])]) done();
  }
}

/** Keys name a hash of the normalised email, so the store never holds addresses. */
function accountKey(account: string): string {
  return createHash('sha256').update(normalizeEmail(account), 'utf8').digest('base64url');
}

// ---------------------------------------------------------------------------------------------
// Process memory: each step runs without an await, so it is atomic within the process.

interface MemoryState {
  lockedUntil: number;
  leases: Map<string, number>;
  failures: Record<Bucket, number[]>;
}

/** Sweep every key for expired state once per this many steps, so unknown emails do not pile up. */
const SWEEP_EVERY = 1_000;

class MemoryGate implements GateBackend {
  private readonly states = new Map<string, MemoryState>();
  private steps = 0;

  constructor(private readonly limits: Limits) {}

  async reserve(key: string, now: number, lease: string): Promise<Reservation> {
    const state = this.state(key, now);
    if (state.lockedUntil > now) return { kind: 'locked', retryAfterMs: state.lockedUntil - now };
    const failures = this.allFailures(state);
    if (failures.length >= this.limits.maxFailures) {
      // Only second-factor failures outlive a lock: refused until enough of them leave the window.
      return { kind: 'locked', retryAfterMs: freedAt(failures, this.limits) - now };
    }
    if (failures.length + state.leases.size >= this.limits.maxFailures) return { kind: 'wait' };
    state.leases.set(lease, now + this.limits.leaseMs);
    return { kind: 'granted' };
  }

  async fail(key: string, now: number, lease: string, bucket: Bucket): Promise<boolean> {
    const state = this.state(key, now);
    state.leases.delete(lease);
    state.failures[bucket].push(now);
    if (state.lockedUntil > now) return false;
    if (this.allFailures(state).length < this.limits.maxFailures) return false;
    state.lockedUntil = now + this.limits.lockoutMs;
    for (const spent of SPENT_BY_LOCK) state.failures[spent] = [];
    return true;
  }

  async succeed(key: string, now: number, lease: string, clears: readonly Bucket[]): Promise<void> {
    const state = this.state(key, now);
    state.leases.delete(lease);
    for (const bucket of clears) state.failures[bucket] = [];
  }

  async release(key: string, lease: string): Promise<void> {
    this.states.get(key)?.leases.delete(lease);
  }

  async clear(key: string, now: number, buckets: readonly Bucket[]): Promise<void> {
    const state = this.state(key, now);
    for (const bucket of buckets) state.failures[bucket] = [];
    if (this.allFailures(state).length < this.limits.maxFailures) state.lockedUntil = 0;
  }

  /** The key's state with what has expired dropped. */
  private state(key: string, now: number): MemoryState {
    if (++this.steps % SWEEP_EVERY === 0) this.sweep(now);
    let state = this.states.get(key);
    if (!state) {
      state = { lockedUntil: 0, leases: new Map(), failures: { password: [], code: [], second_factor: [] } };
      this.states.set(key, state);
    }
    this.prune(state, now);
    return state;
  }

  private prune(state: MemoryState, now: number): void {
    const since = now - this.limits.windowMs;
    for (const bucket of BUCKETS) state.failures[bucket] = state.failures[bucket].filter((at) => at > since);
    for (const [lease, until] of state.leases) if (until <= now) state.leases.delete(lease);
  }

  private sweep(now: number): void {
    for (const [key, state] of this.states) {
      this.prune(state, now);
      if (state.lockedUntil <= now && state.leases.size === 0 && this.allFailures(state).length === 0) this.states.delete(key);
    }
  }

  private allFailures(state: MemoryState): number[] {
    return BUCKETS.flatMap((bucket) => state.failures[bucket]);
  }
}

/** When enough failures have left the window that fewer than the limit remain. */
function freedAt(failures: number[], limits: Limits): number {
  const sorted = [...failures].sort((a, b) => a - b);
  return sorted[sorted.length - limits.maxFailures] + limits.windowMs;
}

// ---------------------------------------------------------------------------------------------
// Redis: one script per step. Every key of an account shares the hash tag {key}, so the script
// runs on one node of a cluster too.
//
// KEYS: 1 lock (locked-until, ms) · 2 leases (zset: lease → expiry) · 3..5 failures per bucket
// (zset: attempt id → time). Times are the instance's clock, passed in; the keys' TTLs only
// collect garbage (each is at least as long as the state it holds matters).

const LUA_COMMON = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local function failures()
  local n = 0
  for i = 3, 5 do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    n = n + redis.call('ZCARD', KEYS[i])
  end
  return n
end
local function lockedUntil()
  return tonumber(redis.call('GET', KEYS[1]) or '0')
end
`;

/** ARGV: now, window, max, lease, leaseMs → {0} granted, {1, retryAfterMs} locked, {2} wait. */
const RESERVE = `${LUA_COMMON}
local lock = lockedUntil()
if lock > now then return {1, lock - now} end
local n = failures()
if n >= max then
  local times = {}
  for i = 3, 5 do
    local scores = redis.call('ZRANGE', KEYS[i], 0, -1, 'WITHSCORES')
    for j = 2, #scores, 2 do table.insert(times, tonumber(scores[j])) end
  end
  table.sort(times)
  return {1, times[#times - max + 1] + window - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if n + redis.call('ZCARD', KEYS[2]) >= max then return {2} end
local leaseMs = tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], now + leaseMs, ARGV[4])
redis.call('PEXPIRE', KEYS[2], leaseMs + 60000)
return {0}
`;

/** ARGV: now, window, max, lease, lockoutMs, bucket (1..3) → 1 when this failure imposed the lock. */
const FAIL = `${LUA_COMMON}
redis.call('ZREM', KEYS[2], ARGV[4])
local bucket = KEYS[2 + tonumber(ARGV[6])]
redis.call('ZADD', bucket, now, ARGV[4])
redis.call('PEXPIRE', bucket, window + 60000)
if lockedUntil() > now then return 0 end
if failures() < max then return 0 end
local lockoutMs = tonumber(ARGV[5])
redis.call('SET', KEYS[1], tostring(now + lockoutMs), 'PX', lockoutMs + 60000)
redis.call('DEL', KEYS[3], KEYS[4])
return 1
`;

/** ARGV: now, window, max, lease, then the buckets (1..3) to clear. */
const SUCCEED = `${LUA_COMMON}
redis.call('ZREM', KEYS[2], ARGV[4])
for i = 5, #ARGV do redis.call('DEL', KEYS[2 + tonumber(ARGV[i])]) end
return 0
`;

/** ARGV: lease. */
const RELEASE = `
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
`;

/** ARGV: now, window, max, then the buckets (1..3) to clear. Lifts the lock when the rest does not fill the budget. */
const CLEAR = `${LUA_COMMON}
for i = 4, #ARGV do redis.call('DEL', KEYS[2 + tonumber(ARGV[i])]) end
if failures() < max then redis.call('DEL', KEYS[1]) end
return 0
`;

class RedisGate implements GateBackend {
  constructor(
    private readonly store: RedisStore,
    private readonly limits: Limits,
  ) {}

  async reserve(key: string, now: number, lease: string): Promise<Reservation> {
    const reply = (await this.run(RESERVE, key, [...this.base(now), lease, this.limits.leaseMs])) as number[];
    if (reply[0] === 0) return { kind: 'granted' };
    if (reply[0] === 1) return { kind: 'locked', retryAfterMs: Number(reply[1]) };
    return { kind: 'wait' };
  }

  async fail(key: string, now: number, lease: string, bucket: Bucket): Promise<boolean> {
    return (await this.run(FAIL, key, [...this.base(now), lease, this.limits.lockoutMs, bucketIndex(bucket)])) === 1;
  }

  async succeed(key: string, now: number, lease: string, clears: readonly Bucket[]): Promise<void> {
    await this.run(SUCCEED, key, [...this.base(now), lease, ...clears.map(bucketIndex)]);
  }

  async release(key: string, lease: string): Promise<void> {
    await this.run(RELEASE, key, [lease]);
  }

  async clear(key: string, now: number, buckets: readonly Bucket[]): Promise<void> {
    await this.run(CLEAR, key, [...this.base(now), ...buckets.map(bucketIndex)]);
  }

  private base(now: number): number[] {
    return [now, this.limits.windowMs, this.limits.maxFailures];
  }

  private run(script: string, key: string, args: Array<string | number>): Promise<unknown> {
    const tag = `warden:gate:{${key}}`;
    const keys = [`${tag}:lock`, `${tag}:leases`, ...BUCKETS.map((bucket) => `${tag}:failures:${bucket}`)];
    return this.store.eval(script, keys, args.map(String));
  }
}

function bucketIndex(bucket: Bucket): number {
  return BUCKETS.indexOf(bucket) + 1;
}
