import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy the test controls, between the server and PostgreSQL: the outage tests cut the
 * database off without touching the shared cluster.
 *   up        forwards every connection
 *   down      refuses new connections and resets open ones (PostgreSQL stopped or crashed)
 *   blackhole accepts connections and drops every byte (a network partition)
 */
export interface TcpProxy {
  port: number;
  mode(next: 'up' | 'down' | 'blackhole'): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let current: 'up' | 'down' | 'blackhole' = 'up';
  let port = 0;
  let server: Server | undefined;

  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const listen = async () => {
    server = createServer((client) => {
      track(client);
      if (current === 'blackhole') {
        client.resume(); // read and drop
        return;
      }
      const upstream = createConnection({ host: targetHost, port: targetPort });
      track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as { port: number }).port;
  };
  const stopListening = async () => {
    const closing = server;
    server = undefined;
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  const resetAll = () => {
    for (const socket of sockets) socket.resetAndDestroy();
  };

  await listen();
  return {
    get port() {
      return port;
    },
    async mode(next) {
      current = next;
      resetAll();
      if (next === 'down') await stopListening();
      else if (!server) await listen();
    },
    async close() {
      resetAll();
      await stopListening();
    },
  };
}
