/**
 * Short-lived records that may be taken at most once (ceremony challenges), kept in the shared
 * store so any instance can finish what another started. Each is stored under a SHA-256 of its
 * key, so the store never holds a usable key, and expires after `ttlMs`. take() reads and deletes
 * in one step (a Lua script on Redis): of two parallel takes, one gets the record.
 */
import { createHash } from 'node:crypto';
import { runStore, type RedisStore, type Store } from './store';
import type { Clock } from '../lib/clock';

const TAKE_SCRIPT = "local v = redis.call('GET', KEYS[1]); if v then redis.call('DEL', KEYS[1]) end; return v";
const PUT_SCRIPT = "return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])";

/** In-process records, per MemoryStore object: apps sharing one store share them too. */
const memoryRecords = new WeakMap<Store, Map<string, { value: string; expiresAt: number }>>();

export class SingleUseStore<T> {
  /**
   * @param prefix the key prefix in the store (`warden:passkey:`), one per kind of record.
   * @param operation names the operation in StoreUnavailableError messages.
   */
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly operation: string,
  ) {}

  /** @throws StoreUnavailableError */
  async put(key: string, record: T): Promise<void> {
    const storeKey = this.keyOf(key);
    const value = JSON.stringify(record);
    if (this.store.kind === 'redis') {
      const redis = this.store as RedisStore;
      await runStore(this.operation, () => redis.eval(PUT_SCRIPT, [storeKey], [value, String(this.ttlMs)]));
      return;
    }
    const records = this.memory();
    const now = this.clock.now();
    for (const [k, entry] of records) if (entry.expiresAt <= now) records.delete(k);
    records.set(storeKey, { value, expiresAt: now + this.ttlMs });
  }

  /** The record for `key`, removed so it cannot be taken again; null when unknown, expired or taken. @throws StoreUnavailableError */
  async take(key: string): Promise<T | null> {
    const storeKey = this.keyOf(key);
    let raw: string | null = null;
    if (this.store.kind === 'redis') {
      const redis = this.store as RedisStore;
      raw = ((await runStore(this.operation, () => redis.eval(TAKE_SCRIPT, [storeKey], []))) as string | null) ?? null;
    } else {
      const records = this.memory();
      const entry = records.get(storeKey);
      records.delete(storeKey);
      if (entry && entry.expiresAt > this.clock.now()) raw = entry.value;
    }
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return null;
    }
  }

  private keyOf(key: string): string {
    return this.prefix + createHash('sha256').update(key, 'utf8').digest('base64url');
  }

  private memory() {
    let records = memoryRecords.get(this.store);
    if (!records) memoryRecords.set(this.store, (records = new Map()));
    return records;
  }
}
