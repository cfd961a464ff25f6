/**
 * The shared store for counters and locks: Redis (node-redis) when REDIS_URL is set, else an
 * in-process store for development. Rate limiting and lockout build on rate-limiter-flexible,
 * which has one API over both, through `limiter()`.
 */
import { createClient, type RedisClientType } from 'redis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
  type IRateLimiterOptions,
} from 'rate-limiter-flexible';
import type { Logger } from 'pino';

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
  close(): Promise<void>;
}

/** Commands fail within this bound when Redis is unreachable, so callers fail closed quickly. */
export const STORE_TIMEOUT_MS = 2_000;

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
  async ping(): Promise<void> {}
  limiter(options: LimiterOptions): RateLimiterAbstract {
    return new RateLimiterMemory(limiterOptions(options));
  }
  async close(): Promise<void> {}
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;

  private constructor(readonly client: RedisClientType) {}

  /** Connects, waiting at most `timeoutMs` for the first answer. Reconnects by itself afterwards. */
  static async connect(url: string, logger: Logger, timeoutMs = 10_000): Promise<RedisStore> {
    const client: RedisClientType = createClient({
      url,
      // Commands issued while disconnected fail at once instead of queueing: operations that
      // need a counter fail closed rather than hang.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: STORE_TIMEOUT_MS,
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000),
      },
    });
    let lastError = '';
    client.on('error', (error: Error) => {
      if (error.message !== lastError) logger.warn({ err: error }, 'redis error');
      lastError = error.message;
    });
    client.on('ready', () => {
      if (lastError) logger.info('redis reconnected');
      lastError = '';
    });
    const store = new RedisStore(client);
    const connected = client.connect();
    connected.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connected,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis at ${redactUrl(url)} did not answer within ${timeoutMs / 1000}s`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      client.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return store;
  }

  async ping(): Promise<void> {
    await withTimeout(this.client.ping(), STORE_TIMEOUT_MS, 'redis ping timed out');
  }

  limiter(options: LimiterOptions): RateLimiterAbstract {
    // No insuranceLimiter: when Redis fails, the limiter rejects with the error instead of
    // falling back to a per-process count, and callers fail closed (API.md §6).
    return new RateLimiterRedis({
      ...limiterOptions(options),
      storeClient: this.client,
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
    });
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

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid url)';
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function openStore(redisUrl: string | undefined, logger: Logger): Promise<Store> {
  return redisUrl ? RedisStore.connect(redisUrl, logger) : new MemoryStore();
}
