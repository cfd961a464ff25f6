import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import type { ServerHandle } from './servers';

export interface LoadOptions {
  server: ServerHandle;
  /** A fixed request body, or a function giving each request's body from the connection's context. */
  body?: string;
  headers?: Record<string, string>;
  connections?: number;
  /** How long to run; ignored when `amount` is set. */
  durationSeconds: number;
  /** Run exactly this many requests instead of for `durationSeconds`. */
  amount?: number;
  /** Caps the request rate (for latency measured under a known load). */
  overallRate?: number;
  /** Per-connection set-up (rotation: each answer gives the connection's next body). */
  setupClient?: (client: autocannon.Client) => void;
  /** Called with every response body that is sampled; return false to mark the run invalid. */
  checkBody?: (body: string) => boolean;
}

export interface LoadResult {
  server: string;
  valid: boolean;
  invalidReason?: string;
  requests: number;
  rps: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  cpuMicrosPerRequest: number;
  eventLoopUtilization: number;
}

const SAMPLE_EVERY = 20;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { server } = options;
  let sampled = 0;
  let badBody: string | undefined;
  const before = await server.stats();
  const result = await autocannon({
    url: server.url,
    method: 'POST',
    connections: options.connections ?? 32,
    ...(options.amount ? { amount: options.amount } : { duration: options.durationSeconds }),
    overallRate: options.overallRate,
    headers: { 'content-type': 'application/json', ...options.headers },
    body: options.body,
    setupClient: (client) => {
      options.setupClient?.(client);
      client.on('body', (buffer: Buffer) => {
        if (badBody || sampled++ % SAMPLE_EVERY !== 0) return;
        const text = buffer.toString('utf8');
        if (text.includes('"errors"') || (options.checkBody && !options.checkBody(text))) badBody = text.slice(0, 300);
      });
    },
  });
  const after = await server.stats();
  const cpuMicros = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
  const elu = performance.eventLoopUtilization(after.elu, before.elu).utilization;
  const problems: string[] = [];
  if (result.errors > 0) problems.push(`${result.errors} connection errors`);
  if (result.timeouts > 0) problems.push(`${result.timeouts} timeouts`);
  if (result.non2xx > 0) problems.push(`${result.non2xx} non-2xx responses`);
  if (badBody) problems.push(`a sampled body had errors: ${badBody}`);
  if (result.requests.total === 0) problems.push('no requests completed');
  return {
    server: server.name,
    valid: problems.length === 0,
    invalidReason: problems.length ? problems.join('; ') : undefined,
    requests: result.requests.total,
    rps: result.requests.total / (options.amount ? Math.max(result.duration, 0.001) : options.durationSeconds),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    cpuMicrosPerRequest: result.requests.total ? cpuMicros / result.requests.total : 0,
    eventLoopUtilization: elu,
  };
}
