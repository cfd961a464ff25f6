/**
 * The side of a benchmarked server process that talks to the runner over IPC: it announces its
 * URL, and answers "stats" with its own CPU time and event-loop utilisation, so figures come from
 * inside the server and not from the load generator.
 */
import { performance } from 'node:perf_hooks';

export interface ChildStats {
  cpu: NodeJS.CpuUsage;
  elu: ReturnType<typeof performance.eventLoopUtilization>;
  /** SQL statements run so far, where the server counts them. */
  queries?: number;
}

export function announce(url: string, queries?: () => number): void {
  process.on('message', (message) => {
    if (message === 'stats') {
      const stats: ChildStats = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), queries: queries?.() };
      process.send!({ stats });
    }
  });
  process.send!({ ready: url });
}
