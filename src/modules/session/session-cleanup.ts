/**
 * The periodic cleanup (every CLEANUP_INTERVAL): deletes sessions past their lifetimes and expired
 * verification codes and reset tokens. A session's refresh-token state lives in its own row, so
 * nothing else grows with rotations. Every instance may run it; each statement is idempotent.
 */
import type { Logger } from 'pino';
import type { PrismaClient } from '../../generated/prisma/client';
import type { Clock } from '../../lib/clock';

export interface SessionCleanupDeps {
  prisma: PrismaClient;
  clock: Clock;
  logger: Logger;
  /**
   * How long an ended or lapsed session is kept: ACCESS_TOKEN_TTL + CLOCK_SKEW. Until then its
   * access tokens still answer SESSION_REVOKED (not UNAUTHENTICATED), and a valid access token
   * can still renew an idle-expired refresh token (docs/api.md §4).
   */
  retentionMs: number;
  reuseGraceMs: number;
  /** More work for each round, run after the sessions and tokens (e.g. abandoned avatar uploads). */
  tasks?: readonly CleanupTask[];
}

/** A job of another module run in every cleanup round; a failing one is logged and the rest go on. */
export interface CleanupTask {
  name: string;
  /** Deletes what has lapsed at `now` (ms); returns how much it deleted. */
  run(now: number): Promise<number>;
}

/** setInterval's longest delay; a longer one would fire at once, every millisecond. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface CleanupResult {
  sessions: number;
  /** Verification codes and reset tokens past their expiry, spent or not. */
  oneTimeTokens: number;
  /** What each CleanupTask deleted, by name (a failed one is missing). */
  tasks: Record<string, number>;
}

export class SessionCleanup {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CleanupResult | undefined> | undefined;

  constructor(private readonly deps: SessionCleanupDeps) {}

  /** Deletes what has lapsed, once. */
  async runOnce(): Promise<CleanupResult> {
    const now = this.deps.clock.now();
    const cutoff = new Date(now - this.deps.retentionMs);
    const prisma = this.deps.prisma;
    // `expiresAt` is indexed and never later than `absoluteExpiresAt`; revocation pulls it in to
    // the revocation time (SessionService.revoke), so this one range finds ended sessions too.
    const sessions = await prisma.session.deleteMany({ where: { expiresAt: { lt: cutoff } } });
    const oneTimeTokens = await prisma.oneTimeToken.deleteMany({ where: { expiresAt: { lt: new Date(now) } } });
    const result = {
      sessions: sessions.count,
      oneTimeTokens: oneTimeTokens.count,
      tasks: {} as Record<string, number>,
    };
    if (result.sessions + result.oneTimeTokens > 0) this.deps.logger.info(result, 'cleaned up lapsed sessions and tokens');
    for (const task of this.deps.tasks ?? []) {
      try {
        result.tasks[task.name] = await task.run(now);
        if (result.tasks[task.name] > 0)
          this.deps.logger.info({ task: task.name, deleted: result.tasks[task.name] }, 'cleanup task deleted lapsed items');
      } catch (error) {
        this.deps.logger.error({ err: error, task: task.name }, 'cleanup task failed; will retry at the next interval');
      }
    }
    return result;
  }

  /** Runs runOnce() every `intervalMs`; the timer never keeps the process alive. */
  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => {
        if (this.running) return; // a slow round is still going: skip this tick
        this.running = this.runOnce()
          .catch((error: unknown) => {
            this.deps.logger.error({ err: error }, 'session cleanup failed; will retry at the next interval');
            return undefined;
          })
          .finally(() => {
            this.running = undefined;
          });
      },
      Math.min(intervalMs, MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  /** Stops the timer and waits for a round in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
