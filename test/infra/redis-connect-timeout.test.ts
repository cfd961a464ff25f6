/**
 * connectRedis gives up after its timeout when a server accepts the connection but never
 * answers, naming the target, and leaves no client reconnecting behind.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createLogger } from '../../src/infra/logger';
import { connectRedis } from '../../src/infra/redis-connection';

describe('connectRedis', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  let port = 0;
  beforeAll(async () => {
    // Accepts and reads, never replies: a hung Redis.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('rejects after the timeout when the server never answers', async () => {
    const started = Date.now();
    await expect(connectRedis(`redis://127.0.0.1:${port}`, createLogger({ level: 'silent' }), 300)).rejects.toThrow(
      `Redis at redis://127.0.0.1:${port} did not answer within 0.3s`,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
