import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy the test controls, between the server and PostgreSQL: the outage tests cut the
 * database off without touching the shared cluster.
 *   up        forwards every connection
 *   down      refuses new connections and resets open ones (PostgreSQL stopped or crashed)
 *   blackhole accepts connections and drops every byte (a network partition)
 *   stall     keeps open connections open but drops every byte both ways from now on, and
 *             blackholes new ones (a partition that strands established connections)
 */
export interface TcpProxy {
  port: number;
  mode(next: Mode): Promise<void>;
  close(): Promise<void>;
}

type Mode = 'up' | 'down' | 'blackhole' | 'stall';

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let current: Mode = 'up';
  const pairs = new Set<[Socket, Socket]>();
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
      if (current === 'blackhole' || current === 'stall') {
        client.resume(); // read and drop
        return;
      }
      const upstream = createConnection({ host: targetHost, port: targetPort });
      track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      const pair: [Socket, Socket] = [client, upstream];
      pairs.add(pair);
      client.on('close', () => (upstream.destroy(), pairs.delete(pair)));
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
      if (next === 'stall') {
        for (const [client, upstream] of pairs) {
          client.unpipe(upstream);
          upstream.unpipe(client);
          // read and drop from now on; neither side hears of it
          client.resume();
          upstream.resume();
        }
        return;
      }
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
