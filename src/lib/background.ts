/**
 * Work that runs after the response has been sent: mail, and the password-reset lookup whose
 * timing must not reach the client. Every task is tracked until it settles, so shutdown can wait
 * for it (bounded) and tests can wait for it; a failure is logged, never thrown at a caller.
 */
import type { Logger } from 'pino';

export class BackgroundTasks {
  private readonly pending = new Map<Promise<void>, string>();
  private readonly stopping = new AbortController();

  constructor(private readonly logger: Logger) {}

  /** Aborted when shutdown begins: retry loops stop waiting between attempts. */
  get shutdownSignal(): AbortSignal {
    return this.stopping.signal;
  }

  /** How many tasks have not settled yet. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Runs `work` on a later turn of the event loop (setImmediate: after the current operation has
   * handed its response back), tracked until it settles. The returned promise never rejects.
   */
  run(name: string, work: () => Promise<unknown>): Promise<void> {
    const task: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .then(
        () => undefined,
        (error: unknown) => {
          this.logger.error({ err: error, task: name }, 'background task failed');
        },
      )
      .finally(() => {
        this.pending.delete(task);
      });
    this.pending.set(task, name);
    return task;
  }

  /** Resolves once nothing is pending, including tasks that tasks started. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending.keys()]);
  }

  /**
   * Shutdown: retries stop waiting, then pending tasks get at most `timeoutMs` to finish.
   * Returns how many were abandoned (and logs them by name).
   */
  async drain(timeoutMs: number): Promise<number> {
    this.stopping.abort();
    if (this.pending.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs));
    });
    const outcome = await Promise.race([this.idle().then(() => 'idle' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'idle') return 0;
    const left = [...this.pending.values()];
    this.logger.warn({ pending: left.length, tasks: left }, 'shutdown: gave up waiting for background work (mail still in flight is lost)');
    return left.length;
  }
}

/** Waits `ms`, or less when `signal` aborts first. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
