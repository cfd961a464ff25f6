/** Small helpers shared by the attack suite. */
import { RedisServer } from '../support/redis-server';
import {
  LOGIN,
  metric,
  redisServerAvailable,
  errorCode,
  startTestServer,
  type GqlOptions,
  type GqlResponse,
  type TestServer,
} from '../kit';

/** The current value of warden_logins_total{result}. */
export function loginCount(server: TestServer, result: 'ok' | 'failed' | 'locked'): Promise<number> {
  return metric(server, 'warden_logins_total', { result });
}

export function login(
  server: TestServer,
  email: string,
  password: string,
  options?: GqlOptions,
): Promise<GqlResponse<Record<string, any>>> {
  return server.gql(LOGIN, { input: { email, password } }, options);
}

/** The error code of the first error, and `extensions.retryAfter` when present. */
export function outcome(response: GqlResponse): { code: unknown; retryAfter: unknown } {
  return { code: errorCode(response), retryAfter: response.body.errors?.[0]?.extensions?.retryAfter };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * A NODE_ENV=production server. Production refuses the in-process store, so without REDIS_URL
 * it runs on a private redis-server; null (and the caller skips) when neither is available.
 */
export async function startProductionServer(
  env: Record<string, string> = {},
): Promise<{ server: TestServer; close(): Promise<void> } | null> {
  let redis: RedisServer | null = null;
  if (!process.env.REDIS_URL) {
    if (!redisServerAvailable) return null;
    redis = await RedisServer.start();
  }
  const server = await startTestServer({
    env: { NODE_ENV: 'production', BCRYPT_COST: '10', ...(redis ? { REDIS_URL: redis.url } : {}), ...env },
  });
  return {
    server,
    async close() {
      await server.close();
      await redis?.stop();
    },
  };
}
