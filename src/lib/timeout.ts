/**
 * Settles like `promise`, or rejects with `message` once `ms` have passed.
 *
 * Not AbortSignal.timeout: the calls this bounds (a node-redis command already written, a Prisma
 * query, a pub/sub connect) take no signal that ends them, so a race is needed anyway, and an
 * AbortSignal.timeout timer cannot be cleared: every store call would leave one running.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
