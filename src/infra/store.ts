/**
 * The shared store for counters and locks: Redis (node-redis) when REDIS_URL is set, else an
 * in-process store for development. Rate limiting and lockout build on rate-limiter-flexible,
 * which has one API over both, through `limiter()`.
 */
import { createClient, type RedisClientType } from 'redis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
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
    return new RateLimiterRedis({ ...limiterOptions(options), storeClient: this.client, useRedisPackage: true });
  }

  async close(): Promise<void> {
    if (this.client.isOpen) {
      await this.client.close().catch(() => this.client.destroy());
    }
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
