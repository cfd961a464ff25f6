/**
 * A per-instance cache of live sessions and their users' rows, so that an authenticated request
 * whose session is known to be live costs no database round trip. Revocation stays immediate:
 *
 * - Every write that ends a session or changes a user's row calls invalidateUser() once it has
 *   committed. That drops the user's entries here and, through the store's broadcast channel
 *   (Redis publish/subscribe), on every other instance before the write's response is sent.
 * - A database read that was in flight when any invalidation happened is not cached: it may
 *   have read the row from before the write (`generation`).
 * - While the channel is down (Redis unreachable, resubscribing) nothing is served from the cache
 *   or put into it: every request checks the database, as API.md §6 asks.
 * - Entries live at most SESSION_CACHE_TTL, which bounds what a write made outside Warden (SQL
 *   typed into the database) can leave behind; 0 turns the cache off.
 * - The cleanup job needs no invalidation: it deletes only sessions that ended or lapsed more
 *   than ACCESS_TOKEN_TTL ago, which no unexpired access token names, and ended ones are never cached.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Broadcast, Store } from '../../infra/store';
import type { UserRow } from '../../domain/types';

export const VIEWER_CACHE_CHANNEL = 'warden:viewer-invalidate';

interface Entry {
  userId: string;
  user: UserRow;
}

export interface ViewerCacheOptions {
  ttlMs: number;
  maxEntries?: number;
  logger: Logger;
}

export class ViewerCache {
  private readonly entries: LRUCache<string, Entry> | null;
  /** userId → the session ids cached for that user, so one user's entries drop together. */
  private readonly sessionsOf = new Map<string, Set<string>>();
  private generation = 0;
  private channel: Broadcast | null = null;

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
   * them here at once, and on the other instances by the time this resolves. A failed publish is
   * logged; the other instances' channel is then most likely down too, which turns their cache off.
   */
  async invalidateUser(userId: string): Promise<void> {
    if (!this.entries) return;
    this.dropUser(userId);
    await this.publish(userId);
  }

  async close(): Promise<void> {
    await this.channel?.close();
    this.dropAll();
  }

  private async publish(message: string): Promise<void> {
    try {
      await this.channel?.publish(message);
    } catch (error) {
      this.options.logger.error({ err: error }, 'could not tell the other instances to drop cached sessions');
    }
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
