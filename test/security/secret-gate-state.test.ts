/**
 * The secret gate's rules that no HTTP field reaches yet (second-factor kinds, for the MFA
 * flows) or that need a slow check to see (the bounded wait), on both stores: process memory,
 * and a private redis-server where one is available.
 */
import { ErrorCode } from '../../src/errors/error-code';
import { createLogger } from '../../src/infra/logger';
import { Metrics } from '../../src/infra/metrics';
import { MemoryStore, RedisStore, type Store } from '../../src/infra/store';
import { ManualClock } from '../../src/lib/clock';
import { AccountLockedError, SecretGate } from '../../src/modules/security/secret-gate.service';
import { RedisServer } from '../support/redis-server';
import { redisServerAvailable, uniqueEmail } from '../kit';

const MAX = 3;
const WINDOW_MS = 5 * 60_000;
const LOCKOUT_MS = 10 * 60_000;

type Setup = { store: Store; close(): Promise<void> };
const stores: Array<[string, () => Promise<Setup>]> = [
  ['memory', async () => ({ store: new MemoryStore(), close: async () => undefined })],
];
if (redisServerAvailable) {
  stores.push([
    'redis',
    async () => {
      const redis = await RedisServer.start();
      const store = await RedisStore.connect(redis.url, createLogger({ level: 'silent' }));
      return {
        store,
        async close() {
          await store.close();
          await redis.stop();
        },
      };
    },
  ]);
}

describe.each(stores)('secret gate state (%s store)', (_name, open) => {
  let setup: Setup;
  const clock = new ManualClock();
  const metrics = new Metrics();
  const gateWith = (options: { waitMs?: number } = {}) =>
    new SecretGate({ store: setup.store, clock, maxFailures: MAX, windowMs: WINDOW_MS, lockoutMs: LOCKOUT_MS, metrics, ...options });
  let gate: SecretGate;
  beforeAll(async () => {
    setup = await open();
    gate = gateWith();
  });
  afterAll(() => setup.close());

  const wrong = async () => false;
  const right = async () => true;

  it('keeps second-factor failures through a right password; only a right second factor clears them', async () => {
    const email = uniqueEmail();
    for (let i = 0; i < MAX - 1; i++) expect(await gate.check(email, 'totp', wrong)).toBe(false);
    expect(await gate.check(email, 'password', right)).toBe(true);
    expect(await gate.check(email, 'recovery_code', wrong)).toBe(false);
    await expect(gate.check(email, 'password', right)).rejects.toBeInstanceOf(AccountLockedError);

    const other = uniqueEmail();
    for (let i = 0; i < MAX - 1; i++) expect(await gate.check(other, 'totp', wrong)).toBe(false);
    expect(await gate.check(other, 'totp', right)).toBe(true);
    for (let i = 0; i < MAX - 1; i++) expect(await gate.check(other, 'totp', wrong)).toBe(false);
    expect(await gate.check(other, 'password', right)).toBe(true);
  });

  it('clears password failures on a right password, and lifts a password lock after a reset', async () => {
    const email = uniqueEmail();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < MAX - 1; i++) expect(await gate.check(email, 'password', wrong)).toBe(false);
      expect(await gate.check(email, 'password', right)).toBe(true);
    }
    expect(await gate.check(email, 'password', wrong)).toBe(false);
    expect(await gate.check(email, 'email_code', wrong)).toBe(false);
    expect(await gate.check(email, 'password', wrong)).toBe(false);
    let verified = 0;
    await expect(gate.check(email.toUpperCase(), 'password', async () => ++verified > 0)).rejects.toMatchObject({
      extensions: { code: ErrorCode.ACCOUNT_LOCKED, retryAfter: LOCKOUT_MS / 1000 },
    });
    expect(verified).toBe(0);
    await gate.afterPasswordReset(email);
    expect(await gate.check(email, 'password', right)).toBe(true);
  });

  it('does not lift a lock the second factor alone fills on a password reset; it ends when those failures leave the window', async () => {
    const email = uniqueEmail();
    for (let i = 0; i < MAX; i++) expect(await gate.check(email, 'totp', wrong)).toBe(false);
    await gate.afterPasswordReset(email);
    await expect(gate.check(email, 'password', right)).rejects.toBeInstanceOf(AccountLockedError);
    clock.advance(LOCKOUT_MS);
    expect(await gate.check(email, 'password', right)).toBe(true);

    // With a window longer than the lock, second-factor failures hold it until they age out.
    const long = new SecretGate({ store: setup.store, clock, maxFailures: MAX, windowMs: 3 * LOCKOUT_MS, lockoutMs: LOCKOUT_MS, metrics });
    const again = uniqueEmail();
    for (let i = 0; i < MAX; i++) expect(await long.check(again, 'totp', wrong)).toBe(false);
    clock.advance(LOCKOUT_MS);
    await expect(long.check(again, 'password', right)).rejects.toMatchObject({ extensions: { retryAfter: (2 * LOCKOUT_MS) / 1000 } });
    clock.advance(2 * LOCKOUT_MS);
    expect(await long.check(again, 'password', right)).toBe(true);
  });

  it('refuses with RATE_LIMITED, unchecked, a check still waiting for a slot after the bound', async () => {
    const email = uniqueEmail();
    const impatient = gateWith({ waitMs: 150 });
    let release!: () => void;
    const held = new Promise<boolean>((resolve) => (release = () => resolve(true)));
    const slow = Array.from({ length: MAX }, () => impatient.check(email, 'password', () => held));
    let ran = false;
    const started = performance.now();
    await expect(
      impatient.check(email, 'password', async () => {
        ran = true;
        return true;
      }),
    ).rejects.toMatchObject({ extensions: { code: ErrorCode.RATE_LIMITED, retryAfter: 1 } });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(ran).toBe(false);
    release();
    expect(await Promise.all(slow)).toEqual(Array(MAX).fill(true));
    // The slots are free again.
    expect(await impatient.check(email, 'password', right)).toBe(true);
  });

  it('frees the slot of a check that throws, without counting it as a failure', async () => {
    const email = uniqueEmail();
    for (let i = 0; i < MAX + 2; i++) {
      await expect(gate.check(email, 'password', async () => Promise.reject(new Error('database down')))).rejects.toThrow('database down');
    }
    for (let i = 0; i < MAX - 1; i++) expect(await gate.check(email, 'password', wrong)).toBe(false);
    expect(await gate.check(email, 'password', right)).toBe(true);
  });

  it('lets waiting checks through as the ones ahead succeed, and stops them once the ones ahead have locked', async () => {
    const email = uniqueEmail();
    const oks = await Promise.all(Array.from({ length: 20 }, () => gate.check(email, 'password', right)));
    expect(oks).toEqual(Array(20).fill(true));
    let checked = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        gate.check(email, 'password', async () => {
          checked++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          return false;
        }),
      ),
    );
    expect(checked).toBe(MAX);
    expect(results.filter((result) => result.status === 'rejected' && result.reason instanceof AccountLockedError)).toHaveLength(20 - MAX);
  });
});
