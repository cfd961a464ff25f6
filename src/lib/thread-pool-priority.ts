/**
 * bcrypt runs on libuv's thread pool. When logins keep the cores busy hashing, those threads
 * compete with the event loop for CPU as equals, and every other request waits behind them. On
 * Linux each thread has its own nice value, so this starts the pool and lowers the priority of
 * its threads: the event loop runs first whenever it has work, and bcrypt takes the CPU left.
 *
 * It must run before anything else uses the pool: libuv starts all of the pool's threads on its
 * first job, which is how they are told apart from the process's other threads (they are the ones
 * that appear during that job). Elsewhere than Linux, or once the pool has started, it changes
 * nothing and reports 0 threads.
 */
import { randomFill } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** How far below the event loop the pool runs (nice 0 → 10: about a tenth of its CPU share when both want the core). */
export const THREAD_POOL_NICE = 10;

export async function lowerThreadPoolPriority(nice = THREAD_POOL_NICE): Promise<{ threads: number }> {
  if (process.platform !== 'linux') return { threads: 0 };
  const tasks = () => {
    try {
      return readdirSync('/proc/self/task');
    } catch {
      return [];
    }
  };
  const before = new Set(tasks());
  // The first job on the pool makes libuv start every one of its threads.
  await new Promise((resolve) => randomFill(Buffer.alloc(1), resolve));
  let threads = 0;
  for (const tid of tasks().filter((task) => !before.has(task))) {
    try {
      setPriority(Number(tid), nice);
      threads++;
    } catch {
      // A thread that already ended, or a system that forbids it: leave it as it is.
    }
  }
  return { threads };
}
