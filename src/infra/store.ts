/**
 * The shared store for counters and locks: Redis (node-redis) when REDIS_URL is set, else an
 * in-process store for development. Rate limiting and lockout build on rate-limiter-flexible,
 * which has one API over both, through `limiter()`.
 */
import { createClient, createCluster, createSentinel } from 'redis';
import type { RedisTarget } from '../config';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
  type IRateLimiterOptions,
} from 'rate-limiter-flexible';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';

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

export interface BroadcastHandlers {
  /** A message some instance (this one included) published. */
  message(message: string): void;
  /** The subscription went down or came back: messages may have been missed in between. */
  reset(): void;
}

export interface Broadcast {
  /** False while messages could be missed: not subscribed, or a resubscription still settling. */
  readonly live: boolean;
  /**
   * Resolves once every instance subscribed when the message went out has handled it (each
   * acknowledges it), or after BROADCAST_ACK_TIMEOUT_MS with a warning. So once a write that
   * publishes has answered, no instance still acts on what the message retracts.
   */
  publish(message: string): Promise<void>;
  close(): Promise<void>;
}

/** After a reconnect, how long a resubscription gets to reach Redis before the channel counts as live. */
const RESUBSCRIBE_SETTLE_MS = 500;

/** How long publish() waits for the other instances' acknowledgements. */
export const BROADCAST_ACK_TIMEOUT_MS = 1_000;

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
  /** In-process channels: every app sharing this store object hears every message at once. */
  private readonly channels = new EventEmitter().setMaxListeners(0);

  async ping(): Promise<void> {}
  limiter(options: LimiterOptions): RateLimiterAbstract {
    return new RateLimiterMemory(limiterOptions(options));
  }
  async broadcast(channel: string, handlers: BroadcastHandlers): Promise<Broadcast> {
    const listener = (message: string) => handlers.message(message);
    this.channels.on(channel, listener);
    return {
      live: true,
      publish: async (message) => void this.channels.emit(channel, message),
      close: async () => void this.channels.off(channel, listener),
    };
  }
  async close(): Promise<void> {}
}

/** What Warden needs of a node-redis client, a cluster client or a sentinel client alike. */
interface RedisConnection {
  connect(): Promise<unknown>;
  ping(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): unknown;
  readonly isOpen: boolean;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Options every connection gets, whatever the topology. */
const CONNECTION_OPTIONS = {
  // Commands issued while disconnected fail at once instead of queueing: operations that need a
  // counter fail closed rather than hang.
  disableOfflineQueue: true,
  socket: {
    connectTimeout: STORE_TIMEOUT_MS,
    reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000),
  },
};

/** Username, password and TLS from a redis:// or rediss:// URL, for nodes that are discovered rather than listed. */
function credentialsOf(url: string) {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    tls: parsed.protocol === 'rediss:',
  };
}

function createConnection(target: RedisTarget): RedisConnection {
  switch (target.kind) {
    case 'single':
      return createClient({ url: target.url, ...CONNECTION_OPTIONS }) as unknown as RedisConnection;
    case 'cluster': {
      // The listed nodes are where discovery starts; `defaults` apply to every node found.
      const { tls, ...auth } = credentialsOf(target.urls[0]);
      return createCluster({
        rootNodes: target.urls.map((url) => ({ url })),
        defaults: { ...auth, ...CONNECTION_OPTIONS, socket: { ...CONNECTION_OPTIONS.socket, tls } as never },
      }) as unknown as RedisConnection;
    }
    case 'sentinel': {
      // The credentials and TLS of the first sentinel URL apply to the sentinels and to the master.
      const { tls, ...auth } = credentialsOf(target.urls[0]);
      const options = { ...auth, ...CONNECTION_OPTIONS, socket: { ...CONNECTION_OPTIONS.socket, tls } as never };
      return createSentinel({
        name: target.masterName,
        sentinelRootNodes: target.urls.map((url) => {
          const parsed = new URL(url);
          return { host: parsed.hostname, port: Number(parsed.port || 26379) };
        }),
        nodeClientOptions: options,
        sentinelClientOptions: options,
      }) as unknown as RedisConnection;
    }
  }
}

/** The target for logs, passwords hidden. */
export function describeRedisTarget(target: RedisTarget): string {
  switch (target.kind) {
    case 'single':
      return redactUrl(target.url);
    case 'cluster':
      return `cluster ${target.urls.map(redactUrl).join(',')}`;
    case 'sentinel':
      return `sentinel master "${target.masterName}" via ${target.urls.map(redactUrl).join(',')}`;
  }
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
    const resolved: RedisTarget = typeof target === 'string' ? { kind: 'single', url: target } : target;
    const where = describeRedisTarget(resolved);
    const client = createConnection(resolved);
    let lastError = '';
    client.on('error', (error: Error) => {
      if (error.message !== lastError) logger.warn({ err: error }, 'redis error');
      lastError = error.message;
    });
    client.on('ready', () => {
      if (lastError) logger.info('redis reconnected');
      lastError = '';
    });
    const store = new RedisStore(client, resolved, logger);
    const connected = client.connect();
    connected.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connected,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis at ${where} did not answer within ${timeoutMs / 1000}s`)), timeoutMs);
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

  /**
   * Subscribes on a connection of its own (a subscribed connection takes no other commands). It
   * counts as live only while that connection is up and subscribed; node-redis resubscribes after
   * a reconnect, and the channel is live again once that has had time to reach Redis.
   */
  async broadcast(channel: string, handlers: BroadcastHandlers): Promise<Broadcast | null> {
    if (this.target.kind !== 'single') return null;
    const subscriber = createConnection(this.target) as RedisConnection & PubSubConnection;
    const publisher = this.client as RedisConnection & PubSubConnection;
    const ackChannel = `${channel}:ack`;
    let live = false;
    let settle: NodeJS.Timeout | undefined;
    const down = () => {
      clearTimeout(settle);
      if (!live) return;
      live = false;
      handlers.reset();
    };
    subscriber.on('error', (error: Error) => {
      if (live) this.logger.warn({ err: error, channel }, 'redis subscription lost');
      down();
    });
    subscriber.on('reconnecting', down);
    subscriber.on('end', down);
    let subscribed = false;
    subscriber.on('ready', () => {
      if (!subscribed) return;
      clearTimeout(settle);
      settle = setTimeout(() => {
        live = true;
        handlers.reset();
      }, RESUBSCRIBE_SETTLE_MS);
    });

    // Each message carries an id; every subscriber handles it, then publishes the id on the ack
    // channel. The publisher counts acks up to the number of receivers PUBLISH reported.
    const waiting = new Map<string, { acks: number; expected: number; done: () => void }>();
    const onMessage = (raw: string) => {
      let parsed: { id: string; message: string };
      try {
        parsed = JSON.parse(raw);
      } catch {
        return;
      }
      handlers.message(parsed.message);
      publisher.publish(ackChannel, parsed.id).catch(() => undefined);
    };
    const onAck = (id: string) => {
      const entry = waiting.get(id);
      if (!entry) return;
      entry.acks++;
      if (entry.acks >= entry.expected) entry.done();
    };
    try {
      await withTimeout(subscriber.connect(), STORE_TIMEOUT_MS * 5, `redis subscription to ${channel} timed out`);
      await withTimeout(subscriber.subscribe(ackChannel, onAck), STORE_TIMEOUT_MS, `redis subscription to ${channel} timed out`);
      await withTimeout(subscriber.subscribe(channel, onMessage), STORE_TIMEOUT_MS, `redis subscription to ${channel} timed out`);
    } catch (error) {
      subscriber.destroy();
      throw error;
    }
    subscribed = true;
    live = true;
    const logger = this.logger;
    return {
      get live() {
        return live;
      },
      publish: async (message) => {
        const id = randomUUID();
        let timer: NodeJS.Timeout | undefined;
        const acknowledged = new Promise<boolean>((resolve) => {
          waiting.set(id, { acks: 0, expected: Infinity, done: () => resolve(true) });
          timer = setTimeout(() => resolve(false), BROADCAST_ACK_TIMEOUT_MS);
        });
        try {
          const receivers = Number(await withTimeout(publisher.publish(channel, JSON.stringify({ id, message })), STORE_TIMEOUT_MS, 'redis publish timed out'));
          const entry = waiting.get(id)!;
          entry.expected = receivers;
          if (entry.acks >= receivers) entry.done();
          if (!(await acknowledged)) logger.warn({ channel, receivers, acks: entry.acks }, 'not every instance acknowledged a broadcast in time');
        } finally {
          clearTimeout(timer);
          waiting.delete(id);
        }
      },
      close: async () => {
        clearTimeout(settle);
        live = false;
        if (subscriber.isOpen) await subscriber.close().catch(() => subscriber.destroy());
      },
    };
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

/** The scripting part of a node-redis client. */
interface ScriptConnection {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** The publish/subscribe part of a node-redis client. */
interface PubSubConnection {
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
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

/** Redis when a target (or a REDIS_URL string) is given, else the in-process store. */
export async function openStore(target: RedisTarget | string | undefined, logger: Logger): Promise<Store> {
  return target ? RedisStore.connect(target, logger) : new MemoryStore();
}
