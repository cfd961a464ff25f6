/**
 * Broadcast: a channel every instance sharing the store hears, with the acknowledgements and the
 * heartbeat lease that let the session cache serve from memory without outliving a revocation
 * (docs/session-cache.md). Redis publish/subscribe across instances; an EventEmitter within one
 * process for the in-process store.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { RedisTarget } from '../config';
import { withTimeout } from '../lib/timeout';
import { STORE_TIMEOUT_MS, createConnection, type PubSubConnection, type RedisConnection } from './redis-connection';

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

/** A channel between the apps that share one in-process EventEmitter: every message arrives at once, so it is always live. */
export function memoryBroadcast(channels: EventEmitter, channel: string, handlers: BroadcastHandlers): Broadcast {
  const listener = (message: string) => handlers.message(message);
  channels.on(channel, listener);
  return {
    live: true,
    publish: async (message) => {
      channels.emit(channel, message);
      return 'acknowledged' as const;
    },
    close: async () => void channels.off(channel, listener),
  };
}

/**
 * Joins `channel` through Redis: subscribes on a connection of its own (a subscribed connection takes no other commands) and
 * runs the heartbeat, the acknowledgements and the lease described in docs/session-cache.md.
 * Redis delivers a subscriber's messages in the order it processed the PUBLISH commands, so
 * hearing one's own heartbeat sent at time t proves every message Redis took before t arrived.
 */
export async function openRedisBroadcast(
  connection: { target: RedisTarget; publisher: RedisConnection & PubSubConnection; logger: Logger },
  channel: string,
  handlers: BroadcastHandlers,
): Promise<Broadcast> {
  const { target, publisher, logger } = connection;
  const self = randomUUID();
  const subscriber = createConnection(target, { name: `warden-broadcast-${self.slice(0, 8)}` }) as RedisConnection & PubSubConnection;
  const ackChannel = `${channel}:ack`;
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
      await withTimeout(
        publisher.publish(channel, JSON.stringify({ k: 'hb', from: self, at: now() })),
        STORE_TIMEOUT_MS,
        'heartbeat timed out',
      );
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
      if (subscribed && !closed)
        await withTimeout(publisher.publish(channel, JSON.stringify({ k: 'bye', from: self })), 500, 'bye timed out').catch(
          () => undefined,
        );
      closed = true;
      check();
      if (subscriber.isOpen) await subscriber.close().catch(() => subscriber.destroy());
    },
  };
}
