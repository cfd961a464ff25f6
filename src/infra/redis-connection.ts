/**
 * Connections to Redis through node-redis: one node (REDIS_URL), a Cluster (REDIS_CLUSTER_URLS)
 * or a Sentinel-managed master (REDIS_SENTINEL_URLS + REDIS_SENTINEL_MASTER), with the options
 * every connection shares so that commands fail closed and fast while Redis is away.
 */
import { createClient, createCluster, createSentinel } from 'redis';
import type { Logger } from 'pino';
import type { RedisTarget } from '../config';
import { redactUrl } from '../lib/redact-url';
import { withTimeout } from '../lib/timeout';

/** Commands fail within this bound when Redis is unreachable, so callers fail closed quickly. */
export const STORE_TIMEOUT_MS = 2_000;

/** What Warden needs of a node-redis client, a cluster client or a sentinel client alike. */
export interface RedisConnection {
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

export function createConnection(target: RedisTarget, extra: { name?: string } = {}): RedisConnection {
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

/**
 * Opens Warden's main connection to `target` (a REDIS_URL string is a single node), waiting at
 * most `timeoutMs` for the first answer; it reconnects by itself afterwards, and logs an error
 * once until it does.
 */
export async function connectRedis(
  target: RedisTarget | string,
  logger: Logger,
  timeoutMs = 10_000,
): Promise<{ client: RedisConnection; target: RedisTarget }> {
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
  const connected = client.connect();
  connected.catch(() => undefined);
  try {
    await withTimeout(connected, timeoutMs, `Redis at ${where} did not answer within ${timeoutMs / 1000}s`);
  } catch (error) {
    client.destroy();
    throw error;
  }
  return { client, target: resolved };
}

/** The scripting part of a node-redis client. */
export interface ScriptConnection {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** The publish/subscribe part of a node-redis client. */
export interface PubSubConnection {
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
}
