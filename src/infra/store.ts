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
  /** The channel went down, lapsed or came back: messages may have been missed in between. */
  reset(): void;
}

/**
 * How a publish ended (docs/session-cache.md):
 * - `acknowledged`: every instance that could be listening handled the message before publish resolved.
 * - `outlasted`: some instance did not acknowledge in time, so publish waited until the
 *   channel's lease (BROADCAST_LEASE_MS) ran out after Redis took the message: an instance that
 *   missed it has stopped acting on what it retracts.
 * - `undelivered`: Redis did not take the message within BROADCAST_ACCEPT_TIMEOUT_MS; publish
 *   kept trying for BROADCAST_LEASE_MS more, so every instance whose Redis stopped answering
 *   within that time has lost its lease. One that can still reach Redis may act on what it
 *   retracts until a later publish of the same message gets through (the caller retries).
 */
export type PublishOutcome = 'acknowledged' | 'outlasted' | 'undelivered';

export interface Broadcast {
  /**
   * True only while this instance is sure to hear every message: subscribed, and it has heard
   * its own heartbeat (a round trip through Redis) within BROADCAST_LEASE_MS. It turns false
   * (and `reset` runs) as soon as that lapses.
   */
  readonly live: boolean;
  /**
   * Publishes and waits until every instance that could be listening has handled the message,
   * or until no instance that missed it can still be live (see PublishOutcome). Never rejects.
   */
  publish(message: string): Promise<PublishOutcome>;
  close(): Promise<void>;
}

/**
 * Every instance publishes a heartbeat this often on the channel it listens to, and hears its
 * own: the proof that its subscription still delivers.
 */
export const BROADCAST_HEARTBEAT_MS = 250;

/**
 * The lease: an instance that has not heard its own heartbeat, sent within this long, stops
 * counting its channel as live (and its session cache stops serving). A publish that some
 * instance did not acknowledge waits this long after Redis took it.
 */
export const BROADCAST_LEASE_MS = 1_500;

/** How long Redis gets to take a message; publish() answers `undelivered` BROADCAST_LEASE_MS after that. */
export const BROADCAST_ACCEPT_TIMEOUT_MS = 2_000;

/** While acknowledgements are missing, the message is published again this often (an instance that resubscribed hears it). */
const BROADCAST_RETRY_MS = 100;

/** Peers heard within this long are expected to acknowledge. */
const PEER_WINDOW_MS = 2 * BROADCAST_LEASE_MS;

/**
 * A publisher trusts its acknowledgements only once its own subscription has been active this
 * long: by then it has heard a heartbeat of every instance whose lease is still running.
 */
const ACTIVE_BEFORE_TRUST_MS = BROADCAST_LEASE_MS + 2 * BROADCAST_HEARTBEAT_MS;

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
      publish: async (message) => {
        this.channels.emit(channel, message);
        return 'acknowledged' as const;
      },
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

function createConnection(target: RedisTarget, extra: { name?: string } = {}): RedisConnection {
  switch (target.kind) {
    case 'single':
      return createClient({ url: target.url, ...CONNECTION_OPTIONS, ...extra }) as unknown as RedisConnection;
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
    // falling back to a per-process count, and callers fail closed (docs/api.md §6).
    return new RateLimiterRedis({
      ...limiterOptions(options),
      storeClient: this.client,
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
    });
  }

  /**
   * Subscribes on a connection of its own (a subscribed connection takes no other commands) and
   * runs the heartbeat, the acknowledgements and the lease described in docs/session-cache.md.
   * Redis delivers a subscriber's messages in the order it processed the PUBLISH commands, so
   * hearing one's own heartbeat sent at time t proves every message Redis took before t arrived.
   */
  async broadcast(channel: string, handlers: BroadcastHandlers): Promise<Broadcast | null> {
    if (this.target.kind !== 'single') return null;
    const self = randomUUID();
    const subscriber = createConnection(this.target, { name: `warden-broadcast-${self.slice(0, 8)}` }) as RedisConnection & PubSubConnection;
    const publisher = this.client as RedisConnection & PubSubConnection;
    const ackChannel = `${channel}:ack`;
    const logger = this.logger;
    const now = () => performance.now();

    let closed = false;
    let subscribed = false;
    /** When the current connection became ready; heartbeats sent before it prove nothing. */
    let readyAt = now();
    /** Send time of the newest own heartbeat heard on the current connection. */
    let provenAt = -Infinity;
    /** Receive time of the first such heartbeat: the subscription is active since at least then. */
    let activeSince = Infinity;
    let wasLive = false;
    const peers = new Map<string, number>();

    const isLive = () => subscribed && !closed && now() - provenAt < BROADCAST_LEASE_MS;
    /** Called on every read of `live` and on every tick: a lapse drops the cache at once. */
    const check = () => {
      const live = isLive();
      if (wasLive && !live) {
        wasLive = false;
        handlers.reset();
      }
      return live;
    };
    const down = () => {
      provenAt = -Infinity;
      activeSince = Infinity;
      check();
    };
    subscriber.on('error', (error: Error) => {
      if (wasLive) logger.warn({ err: error, channel }, 'redis subscription lost');
      down();
    });
    subscriber.on('reconnecting', down);
    subscriber.on('end', down);
    subscriber.on('ready', () => {
      down();
      readyAt = now();
      void beat();
    });

    let beating = false;
    const beat = async () => {
      if (beating || closed) return;
      beating = true;
      try {
        await withTimeout(publisher.publish(channel, JSON.stringify({ k: 'hb', from: self, at: now() })), STORE_TIMEOUT_MS, 'heartbeat timed out');
      } catch {
        // The lease lapses by itself when heartbeats stop arriving.
      } finally {
        beating = false;
      }
    };
    const ticker = setInterval(() => {
      check();
      void beat();
    }, BROADCAST_HEARTBEAT_MS);
    ticker.unref();

    // Each message carries an id; every subscriber handles it, then publishes the id and its own
    // instance id on the ack channel.
    const waiting = new Map<string, { acks: Set<string>; wake: () => void }>();
    const onMessage = (raw: string) => {
      let parsed: { k?: string; id?: string; message?: string; from?: string; at?: number };
      try {
        parsed = JSON.parse(raw);
      } catch {
        return;
      }
      if (parsed.k === 'hb' && typeof parsed.from === 'string') {
        if (parsed.from !== self) peers.set(parsed.from, now());
        else if (typeof parsed.at === 'number' && parsed.at >= readyAt && subscribed) {
          if (activeSince === Infinity) activeSince = now();
          provenAt = Math.max(provenAt, parsed.at);
          if (!wasLive && isLive()) {
            wasLive = true;
            // Back (or up for the first time): whatever was kept from before may have missed messages.
            handlers.reset();
          }
        }
        return;
      }
      if (parsed.k === 'bye' && typeof parsed.from === 'string') {
        peers.delete(parsed.from);
        return;
      }
      if (typeof parsed.id !== 'string' || typeof parsed.message !== 'string') return;
      handlers.message(parsed.message);
      publisher.publish(ackChannel, JSON.stringify({ id: parsed.id, from: self })).catch(() => undefined);
    };
    const onAck = (raw: string) => {
      let parsed: { id?: string; from?: string };
      try {
        parsed = JSON.parse(raw);
      } catch {
        return;
      }
      const entry = typeof parsed.id === 'string' ? waiting.get(parsed.id) : undefined;
      if (!entry || typeof parsed.from !== 'string') return;
      entry.acks.add(parsed.from);
      entry.wake();
    };
    try {
      await withTimeout(subscriber.connect(), STORE_TIMEOUT_MS * 5, `redis subscription to ${channel} timed out`);
      await withTimeout(subscriber.subscribe(ackChannel, onAck), STORE_TIMEOUT_MS, `redis subscription to ${channel} timed out`);
      await withTimeout(subscriber.subscribe(channel, onMessage), STORE_TIMEOUT_MS, `redis subscription to ${channel} timed out`);
    } catch (error) {
      clearInterval(ticker);
      subscriber.destroy();
      throw error;
    }
    subscribed = true;
    readyAt = now();
    void beat();

    /**
     * Every instance that could be live without having handled the message has acknowledged it:
     * this one (its subscription active long enough to have heard every live peer's heartbeat),
     * every peer heard lately, and at least as many as Redis delivered to.
     */
    const complete = (acks: Set<string>, receivers: number) => {
      const t = now();
      if (!isLive() || t - activeSince < ACTIVE_BEFORE_TRUST_MS || !acks.has(self) || acks.size < receivers) return false;
      for (const [peer, heard] of peers) {
        if (t - heard > PEER_WINDOW_MS) peers.delete(peer);
        else if (!acks.has(peer)) return false;
      }
      return true;
    };

    return {
      get live() {
        return check();
      },
      publish: async (message) => {
        const id = randomUUID();
        const payload = JSON.stringify({ k: 'inv', id, message });
        const entry = { acks: new Set<string>(), wake: () => {} };
        waiting.set(id, entry);
        const started = now();
        let acceptedAt: number | null = null;
        let receivers = 0;
        let sending = false;
        let sentAt = -Infinity;
        // (Re)publishes at most every BROADCAST_RETRY_MS, one PUBLISH in flight at a time: an
        // instance that resubscribed meanwhile hears a later copy. Handlers are idempotent.
        const send = () => {
          if (sending || now() - sentAt < BROADCAST_RETRY_MS) return;
          sending = true;
          sentAt = now();
          withTimeout(publisher.publish(channel, payload), STORE_TIMEOUT_MS, 'redis publish timed out')
            .then((count) => {
              acceptedAt ??= now();
              receivers = Math.max(receivers, Number(count));
            })
            .catch(() => undefined)
            .finally(() => {
              sending = false;
              entry.wake();
            });
        };
        try {
          for (;;) {
            if (acceptedAt === null || !complete(entry.acks, receivers)) send();
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, BROADCAST_RETRY_MS);
              entry.wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            if (acceptedAt !== null && complete(entry.acks, receivers)) return 'acknowledged';
            const elapsed = now() - (acceptedAt ?? started);
            if (acceptedAt !== null && elapsed >= BROADCAST_LEASE_MS) {
              logger.warn({ channel, receivers, acks: entry.acks.size }, 'not every instance acknowledged a broadcast; waited out the lease');
              return 'outlasted';
            }
            // Not taken: an instance whose Redis stopped answering before BROADCAST_ACCEPT_TIMEOUT_MS
            // has lost its lease BROADCAST_LEASE_MS later.
            if (acceptedAt === null && elapsed >= BROADCAST_ACCEPT_TIMEOUT_MS + BROADCAST_LEASE_MS) {
              logger.error({ channel }, 'redis did not take a broadcast in time');
              return 'undelivered';
            }
          }
        } finally {
          waiting.delete(id);
        }
      },
      close: async () => {
        clearInterval(ticker);
        if (subscribed && !closed) await withTimeout(publisher.publish(channel, JSON.stringify({ k: 'bye', from: self })), 500, 'bye timed out').catch(() => undefined);
        closed = true;
        check();
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
