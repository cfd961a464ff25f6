/**
 * A per-instance cache of live sessions and their users' rows, so that an authenticated request
 * whose session is known to be live costs no database round trip. Revocation stays immediate:
 *
 * - Every write that ends a session or changes a user's row calls invalidateUser() once it has
 *   committed. That drops the user's entries here and, through the store's broadcast channel
 *   (Redis publish/subscribe), on every other instance before the write's response is sent.
 * - Partial failure (docs/session-cache.md): an instance serves from its cache only while it
 *   holds the channel's lease — it has heard its own heartbeat through Redis within
 *   BROADCAST_LEASE_MS. A publish that some instance does not acknowledge waits until that
 *   lease has run out, so the write answers only once no instance can still serve the old row.
 *   One that Redis does not take at all is retried in the background until it gets through or
 *   SESSION_CACHE_TTL has passed. Both are counted in warden_session_invalidations_total.
 * - A database read that was in flight when any invalidation happened is not cached: it may
 *   have read the row from before the write (`generation`).
 * - While the channel is down or its lease has lapsed nothing is served from the cache or put
 *   into it: every request checks the database, as docs/api.md §6 asks.
 * - Entries live at most SESSION_CACHE_TTL (at most 60 s), which bounds what a write made outside
 *   Warden (SQL typed into the database) can leave behind; 0 turns the cache off.
 * - The cleanup job needs no invalidation: it deletes only sessions that ended or lapsed more
 *   than ACCESS_TOKEN_TTL ago, which no unexpired access token names, and ended ones are never cached.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Metrics } from '../../infra/metrics';
import type { Broadcast, PublishOutcome } from '../../infra/broadcast';
import type { Store } from '../../infra/store';
import type { UserRow } from '../../domain/types';

export const VIEWER_CACHE_CHANNEL = 'warden:viewer-invalidate';

/** How often an invalidation Redis did not take is published again, in the background. */
const UNDELIVERED_RETRY_MS = 1_000;

interface Entry {
  userId: string;
  user: UserRow;
}

export interface ViewerCacheOptions {
  ttlMs: number;
  maxEntries?: number;
  logger: Logger;
  metrics?: Metrics;
}

const METRIC_RESULT: Record<PublishOutcome, 'acknowledged' | 'unacknowledged' | 'undelivered'> = {
  acknowledged: 'acknowledged',
  outlasted: 'unacknowledged',
  undelivered: 'undelivered',
};

export class ViewerCache {
  private readonly entries: LRUCache<string, Entry> | null;
  /** userId → the session ids cached for that user, so one user's entries drop together. */
  private readonly sessionsOf = new Map<string, Set<string>>();
  private generation = 0;
  private channel: Broadcast | null = null;
  /** Users whose invalidation Redis did not take, with when it first failed. */
  private readonly undelivered = new Map<string, number>();
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(private readonly options: ViewerCacheOptions) {
    this.entries =
      options.ttlMs > 0
        ? new LRUCache<string, Entry>({
            max: options.maxEntries ?? 50_000,
            ttl: options.ttlMs,
            dispose: (entry, sessionId) => this.unindex(entry.userId, sessionId),
          })
        : null;
  }

  /** A cache that hears invalidations from every instance sharing `store`. */
  static async open(store: Store, options: ViewerCacheOptions): Promise<ViewerCache> {
    const cache = new ViewerCache(options);
    if (!cache.entries) return cache;
    try {
      cache.channel = await store.broadcast(VIEWER_CACHE_CHANNEL, {
        message: (userId) => cache.dropUser(userId),
        reset: () => cache.dropAll(),
      });
    } catch (error) {
      options.logger.error({ err: error }, 'session cache off: could not subscribe to invalidations');
    }
    if (!cache.channel) options.logger.info('session cache off: this store has no broadcast channel');
    return cache;
  }

  /** Serving from the cache is safe only while invalidations are sure to arrive. */
  private get usable(): boolean {
    return this.entries !== null && this.channel !== null && this.channel.live;
  }

  /** The user of a session known to be live, if cached. */
  lookup(sessionId: string, userId: string): UserRow | undefined {
    if (!this.usable) return undefined;
    const entry = this.entries!.get(sessionId);
    return entry && entry.userId === userId ? entry.user : undefined;
  }

  /** Take a ticket before reading the database; remember() with it caches the read only if no invalidation came in between. */
  ticket(): number {
    return this.generation;
  }

  remember(ticket: number, sessionId: string, user: UserRow): void {
    if (!this.usable || ticket !== this.generation) return;
    this.entries!.set(sessionId, { userId: user.id, user });
    let sessions = this.sessionsOf.get(user.id);
    if (!sessions) this.sessionsOf.set(user.id, (sessions = new Set()));
    sessions.add(sessionId);
  }

  /**
   * After a committed write that ended some of this user's sessions or changed their row: drops
   * them here at once, and on the other instances by the time this resolves — acknowledged, or
   * after the lease has run out for any that did not acknowledge. When Redis does not take the
   * message, this resolves after BROADCAST_ACCEPT_TIMEOUT_MS and the message is retried in the
   * background (instances that cannot reach Redis have lapsed by then; see docs/session-cache.md).
   */
  async invalidateUser(userId: string): Promise<void> {
    if (!this.entries) return;
    this.dropUser(userId);
    if (!this.channel) return;
    const outcome = await this.channel.publish(userId);
    this.options.metrics?.sessionInvalidations.inc({ result: METRIC_RESULT[outcome] });
    if (outcome === 'undelivered') {
      this.options.logger.error({ userId }, 'could not tell the other instances to drop cached sessions; retrying in the background');
      if (!this.undelivered.has(userId)) this.undelivered.set(userId, Date.now());
      this.scheduleRetry();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.channel?.close();
    this.dropAll();
  }

  private async publishUndelivered(): Promise<void> {
    for (const [userId, since] of this.undelivered) {
      if (this.closed) return;
      if (Date.now() - since > this.options.ttlMs) {
        this.undelivered.delete(userId);
        continue;
      }
      if ((await this.channel!.publish(userId)) !== 'undelivered') {
        this.undelivered.delete(userId);
        this.options.logger.info({ userId }, 'a delayed session-cache invalidation got through');
      }
    }
  }

  /** Publishes undelivered invalidations again until Redis takes them or SESSION_CACHE_TTL has passed (every entry they retract has expired then). */
  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    // A publish that throws must not become an unhandled rejection (which would end the process)
    // nor leave retryTimer set, which would stop every later retry.
    this.retryTimer = setTimeout(() => {
      this.publishUndelivered()
        .catch((error: unknown) =>
          this.options.logger.error({ err: error }, 'retrying session-cache invalidations failed; trying again later'),
        )
        .finally(() => {
          this.retryTimer = null;
          if (!this.closed && this.undelivered.size > 0) this.scheduleRetry();
        });
    }, UNDELIVERED_RETRY_MS);
    this.retryTimer.unref();
  }

  private dropUser(userId: string): void {
    this.generation++;
    for (const sessionId of this.sessionsOf.get(userId) ?? []) this.entries?.delete(sessionId);
    this.sessionsOf.delete(userId);
  }

  private dropAll(): void {
    this.generation++;
    this.entries?.clear();
    this.sessionsOf.clear();
  }

  private unindex(userId: string, sessionId: string): void {
    const sessions = this.sessionsOf.get(userId);
    if (!sessions) return;
    sessions.delete(sessionId);
    if (sessions.size === 0) this.sessionsOf.delete(userId);
  }
}
