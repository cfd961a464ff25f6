/**
 * The shared store for counters and locks: Redis (node-redis) when REDIS_URL is set, else an
 * in-process store for development. Rate limiting and lockout build on rate-limiter-flexible,
 * which has one API over both, through `limiter()`. The connection itself is in
 * redis-connection.ts and the channel between instances in broadcast.ts.
 */
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
  type IRateLimiterOptions,
} from 'rate-limiter-flexible';
import type { Logger } from 'pino';
import { EventEmitter } from 'node:events';
import type { RedisTarget } from '../config';
import { withTimeout } from '../lib/timeout';
import { memoryBroadcast, openRedisBroadcast, type Broadcast, type BroadcastHandlers } from './broadcast';
import { STORE_TIMEOUT_MS, connectRedis, type PubSubConnection, type RedisConnection, type ScriptConnection } from './redis-connection';

export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  durationMs: number;
  blockDurationMs?: number;
}

export interface Store {
  readonly kind: 'memory' | 'redis';
  /** Resolves when the store answers; rejects (within a few seconds) when it does not. */
  ping(): Promise<void>;
  limiter(options: LimiterOptions): RateLimiterAbstract;
  /**
   * Joins a channel that every instance sharing this store hears (publish/subscribe), or null
   * where Warden has none (Redis Cluster and Sentinel).
   */
  broadcast(channel: string, handlers: BroadcastHandlers): Promise<Broadcast | null>;
  close(): Promise<void>;
}

function limiterOptions(options: LimiterOptions): IRateLimiterOptions {
  return {
    keyPrefix: options.keyPrefix,
    points: options.points,
    duration: Math.max(1, Math.ceil(options.durationMs / 1000)),
    blockDuration: options.blockDurationMs === undefined ? 0 : Math.max(1, Math.ceil(options.blockDurationMs / 1000)),
  };
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  /** In-process channels: every app sharing this store object hears every message at once. */
  private readonly channels = new EventEmitter().setMaxListeners(0);

  async ping(): Promise<void> {}
  limiter(options: LimiterOptions): RateLimiterAbstract {
    return new RateLimiterMemory(limiterOptions(options));
  }
  async broadcast(channel: string, handlers: BroadcastHandlers): Promise<Broadcast> {
    return memoryBroadcast(this.channels, channel, handlers);
  }
  async close(): Promise<void> {}
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;

  private constructor(
    readonly client: RedisConnection,
    private readonly target: RedisTarget,
    private readonly logger: Logger,
  ) {}

  /** Connects, waiting at most `timeoutMs` for the first answer. Reconnects by itself afterwards. */
  static async connect(target: RedisTarget | string, logger: Logger, timeoutMs = 10_000): Promise<RedisStore> {
    const { client, target: resolved } = await connectRedis(target, logger, timeoutMs);
    return new RedisStore(client, resolved, logger);
  }

  async ping(): Promise<void> {
    await withTimeout(this.client.ping(), STORE_TIMEOUT_MS, 'redis ping timed out');
  }

  limiter(options: LimiterOptions): RateLimiterAbstract {
    // No insuranceLimiter: when Redis fails, the limiter rejects with the error instead of
    // falling back to a per-process count, and callers fail closed (docs/api.md §6).
    return new RateLimiterRedis({
      ...limiterOptions(options),
      storeClient: this.client,
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
    });
  }

  /** Joins a channel through Redis publish/subscribe (src/infra/broadcast.ts); none on Cluster or Sentinel. */
  async broadcast(channel: string, handlers: BroadcastHandlers): Promise<Broadcast | null> {
    if (this.target.kind !== 'single') return null;
    return openRedisBroadcast(
      { target: this.target, publisher: this.client as RedisConnection & PubSubConnection, logger: this.logger },
      channel,
      handlers,
    );
  }

  /** Runs a Lua script atomically (EVAL); every key must share one hash slot on a cluster. */
  eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    return (this.client as RedisConnection & ScriptConnection).eval(script, { keys, arguments: args });
  }

  async close(): Promise<void> {
    if (this.client.isOpen) {
      await this.client.close().catch(() => this.client.destroy());
    }
  }
}

/** The store did not answer (down, or no reply within STORE_TIMEOUT_MS); the operation fails closed. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(operation: string, cause?: unknown) {
    super(`the store did not answer (${operation})`, { cause });
  }
}

export type LimiterOutcome = { allowed: true; res: RateLimiterRes } | { allowed: false; res: RateLimiterRes };

/**
 * Runs one rate-limiter-flexible operation with a bound: a rejection with a RateLimiterRes is
 * "over the limit"; any other rejection, or no answer within STORE_TIMEOUT_MS (a hung Redis
 * keeps its socket open, and node-redis sets no timeout on MULTI), throws StoreUnavailableError.
 * @throws StoreUnavailableError
 */
export async function runLimiter(operation: string, call: () => Promise<RateLimiterRes>): Promise<LimiterOutcome> {
  try {
    return { allowed: true, res: await withTimeout(call(), STORE_TIMEOUT_MS, 'store timed out') };
  } catch (error) {
    if (error instanceof RateLimiterRes) return { allowed: false, res: error };
    throw new StoreUnavailableError(operation, error);
  }
}

/** Like runLimiter, for operations that only succeed or fail (delete, reward, block, ping). */
export async function runStore<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await withTimeout(call(), STORE_TIMEOUT_MS, 'store timed out');
  } catch (error) {
    throw new StoreUnavailableError(operation, error);
  }
}

/** Redis when a target (or a REDIS_URL string) is given, else the in-process store. */
export async function openStore(target: RedisTarget | string | undefined, logger: Logger): Promise<Store> {
  return target ? RedisStore.connect(target, logger) : new MemoryStore();
}
