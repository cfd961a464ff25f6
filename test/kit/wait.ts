/**
 * Waiting in tests: on something the test can observe (a log line, a metric, a row, a status),
 * never on a fixed delay that is too short on a loaded machine and too long everywhere else.
 */

/** The one fixed pause of the suite, for the few places that model time passing on purpose (a client pausing between calls). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Between looks (default 20 ms). */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/**
 * Resolves with the first truthy value `probe` returns; fails after `timeoutMs` with `what` (and
 * the last error the probe threw, if any). The probe runs at once, then every `intervalMs`.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 20, what = 'the condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `not within ${timeoutMs} ms: ${what}${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** `waitFor` with the reliability tests' argument order: a check that turns true, a time, a description. */
export async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  await waitFor(check, { timeoutMs: ms, intervalMs: 100, what });
}

/** Milliseconds a promise took, with its value. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}
