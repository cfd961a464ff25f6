/**
 * The side of a benchmarked server process that talks to the runner over IPC: it announces its
 * URL, and answers "stats" with its own CPU time and event-loop utilisation, so figures come from
 * inside the server and not from the load generator.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

/** The process's memory after a full collection (the server runs with --expose-gc when asked for this). */
export interface ChildMemory {
  rss: number;
  heapUsed: number;
  /** Whether a collection ran first (false: no --expose-gc, so the heap figure includes garbage). */
  collected: boolean;
}

export interface ChildStats {
  cpu: NodeJS.CpuUsage;
  elu: ReturnType<typeof performance.eventLoopUtilization>;
  /** SQL statements run so far, where the server counts them. */
  queries?: number;
}

/**
 * With BENCH_PROFILE_DIR set, each load run is profiled (only the run, not the start-up): the
 * runner's first "stats" starts the V8 profiler and the second writes a .cpuprofile there.
 */
const profileDir = process.env.BENCH_PROFILE_DIR;
let profiler: Session | null = null;

async function toggleProfiler(): Promise<void> {
  if (!profileDir) return;
  if (!profiler) {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    return;
  }
  const { profile } = await profiler.post('Profiler.stop');
  writeFileSync(
    path.join(profileDir, `${path.basename(process.argv[1], '.js')}-${process.pid}-${Date.now()}.cpuprofile`),
    JSON.stringify(profile),
  );
  profiler.disconnect();
  profiler = null;
}

export function announce(url: string, queries?: () => number): void {
  process.on('message', (message) => {
    if (message === 'stats') {
      const stats: ChildStats = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), queries: queries?.() };
      void toggleProfiler().then(() => process.send!({ stats }));
    } else if (message === 'memory') {
      const gc = (globalThis as { gc?: () => void }).gc;
      // Twice: the first may only queue finalizers whose objects the second frees.
      gc?.();
      gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      const memory: ChildMemory = { rss, heapUsed, collected: Boolean(gc) };
      process.send!({ memory });
    }
  });
  process.send!({ ready: url });
}
