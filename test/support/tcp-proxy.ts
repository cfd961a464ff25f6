/**
 * A TCP proxy in front of a server (a private redis-server) that a test can make half-open:
 * `stallDownstream()` keeps every connection open and keeps forwarding what the client sends,
 * but holds back everything the server answers — what a client sees when the path back to it
 * silently drops packets. `resume()` lets the held data through, in order.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private stalled = false;
  private server!: Server;
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy();
    proxy.server = createServer((client) => {
      const pair = { client, upstream: connect(targetPort, '127.0.0.1') };
      proxy.pairs.add(pair);
      client.pipe(pair.upstream);
      if (!proxy.stalled) pair.upstream.pipe(client);
      const end = () => {
        proxy.pairs.delete(pair);
        client.destroy();
        pair.upstream.destroy();
      };
      client.on('error', end).on('close', end);
      pair.upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    proxy.port = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  /** Holds back the server's answers on every connection, open and new. */
  stallDownstream(): void {
    this.stalled = true;
    for (const { client, upstream } of this.pairs) {
      upstream.unpipe(client);
      upstream.pause();
    }
  }

  resume(): void {
    this.stalled = false;
    for (const { client, upstream } of this.pairs) upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((resolve) => this.server.close(resolve));
  }
}
