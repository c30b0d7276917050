import { createServer, type Server } from 'node:http';

/** A client's key server on loopback: serves whatever `body` holds, counts requests. */
export class KeyServer {
  body: unknown = { keys: [] };
  headers: Record<string, string> = { 'content-type': 'application/json' };
  status = 200;
  delayMs = 0;
  hits = 0;
  private server: Server = createServer((_req, res) => {
    this.hits++;
    setTimeout(() => {
      res.writeHead(this.status, this.headers);
      res.end(typeof this.body === 'string' ? this.body : JSON.stringify(this.body));
    }, this.delayMs);
  });
  port = 0;
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  get host() {
    return `127.0.0.1:${this.port}`;
  }
  url(path = '/jwks') {
    return `http://${this.host}${path}`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
