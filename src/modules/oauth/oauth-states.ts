/**
 * Pending OAuth sign-ins, kept in the shared store so any instance can finish what another
 * started. Each is stored under a SHA-256 of its `state` (the store never holds a usable state),
 * expires after `ttlMs`, and is taken at most once: take() reads and deletes in one step.
 */
import { createHash } from 'node:crypto';
import { runStore, type RedisStore, type Store } from '../../infra/store';
import type { Clock } from '../../lib/clock';

/** What start… remembers for finish…. */
export interface PendingOAuth {
  provider: string;
  purpose: 'login' | 'link';
  /** The user who started a link; null for a sign-in. */
  userId: string | null;
  redirectUri: string;
  codeVerifier: string;
  nonce: string;
  /** SHA-256 (base64url) of the browser-binding cookie of the browser that started it. */
  browser: string;
}

const KEY_PREFIX = 'warden:oauth:';

const TAKE_SCRIPT = "local v = redis.call('GET', KEYS[1]); if v then redis.call('DEL', KEYS[1]) end; return v";
const PUT_SCRIPT = "return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])";

/** In-process pending sign-ins, per MemoryStore object: apps sharing one store share them too. */
const memoryStates = new WeakMap<Store, Map<string, { value: string; expiresAt: number }>>();

export function hashOf(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

export class OAuthStates {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  /** @throws StoreUnavailableError */
  async put(state: string, pending: PendingOAuth): Promise<void> {
    const key = KEY_PREFIX + hashOf(state);
    const value = JSON.stringify(pending);
    if (this.store.kind === 'redis') {
      const redis = this.store as RedisStore;
      await runStore('oauth state', () => redis.eval(PUT_SCRIPT, [key], [value, String(this.ttlMs)]));
      return;
    }
    const states = this.memory();
    const now = this.clock.now();
    for (const [k, entry] of states) if (entry.expiresAt <= now) states.delete(k);
    states.set(key, { value, expiresAt: now + this.ttlMs });
  }

  /** The pending sign-in for `state`, removed so it cannot be used again; null when unknown or expired. @throws StoreUnavailableError */
  async take(state: string): Promise<PendingOAuth | null> {
    const key = KEY_PREFIX + hashOf(state);
    let raw: string | null = null;
    if (this.store.kind === 'redis') {
      const redis = this.store as RedisStore;
      raw = ((await runStore('oauth state', () => redis.eval(TAKE_SCRIPT, [key], []))) as string | null) ?? null;
    } else {
      const states = this.memory();
      const entry = states.get(key);
      states.delete(key);
      if (entry && entry.expiresAt > this.clock.now()) raw = entry.value;
    }
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as PendingOAuth;
    } catch {
      return null;
    }
  }

  private memory() {
    let states = memoryStates.get(this.store);
    if (!states) memoryStates.set(this.store, (states = new Map()));
    return states;
  }
}
