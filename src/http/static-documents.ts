import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyServerFactory } from 'fastify';

/** A document that is the same for every caller: discovery, the JWKS. */
export interface StaticDocument {
  readonly contentType: string;
  readonly cacheControl: string;
  /** The bytes to send, asked per request: the JWKS changes when keys rotate. */
  readonly body: () => Buffer;
}

/** What every response carries and reports, whichever path answered it (app.ts owns both). */
export interface ResponseConventions {
  /** Headers on every response: helmet's set. */
  readonly headers: Readonly<Record<string, string>>;
  /** The CORS headers of an actual (non-preflight) request to `path`, if the path is open to any origin. */
  corsHeaders(path: string): Readonly<Record<string, string>> | undefined;
  /** The caller's x-request-id when harmless, otherwise one of ours. */
  requestId(given: string | string[] | undefined): string;
  /** Whether anything is told of each completed request (the info log line, metrics). */
  observed(): boolean;
  /** Tells it: the same log line and metrics as a request that went through Fastify. */
  completed(request: { id: string; method: string; url: string; route: string; status: number; elapsedMs: number }): void;
}

/** What of Fastify's options its own server is made with. */
interface FastifyServerTimeouts {
  http?: ServerOptions;
  keepAliveTimeout: number;
  requestTimeout: number;
  connectionTimeout: number;
}

interface Entry {
  readonly document: StaticDocument;
  /**
   * Everything but the request id and content-length, as Node's flat [name, value, ...] list: a
   * list copied per request costs a fraction of an object of 17 keys (new hidden classes each time).
   */
  readonly headers: readonly string[];
}

/**
 * Static documents answered in front of Fastify. A GET of discovery or the JWKS needs nothing of
 * Fastify's request pipeline (no body, no parameters, no storage), yet routing, the request and
 * reply objects and the hooks cost as much again as the HTTP exchange itself: ours ran at 0.6-0.7
 * of a bare Fastify route serving the same bytes (measured, issue 10). So a GET or HEAD whose path
 * is exactly a document's is answered here with the same headers and bytes; anything else (other
 * methods, preflights, encoded or trailing-slash variants, a server that is closing) goes on to
 * Fastify, where each document is also a route: `app.inject` and every other path see it there.
 */
export class StaticDocuments {
  readonly #byPath = new Map<string, Entry>();
  #closing = false;
  #conventions: ResponseConventions | undefined;

  /**
   * Serves `document` at `path`: a Fastify route (whose hooks add the common headers) and the
   * same answer in front of Fastify. A test compares the two, header for header.
   */
  route(app: FastifyInstance, path: string, document: StaticDocument): void {
    const own = { 'cache-control': document.cacheControl, 'content-type': document.contentType };
    app.get(path, (_request, reply) => reply.headers(own).send(document.body()));
    const conventions = this.#conventionsOrThrow();
    const headers = Object.entries({ ...conventions.headers, ...conventions.corsHeaders(path), ...own }).flat();
    this.#byPath.set(path, { document, headers });
  }

  /** Common headers and reporting; set once, before any route. */
  use(conventions: ResponseConventions, app: FastifyInstance): void {
    this.#conventions = conventions;
    // Fastify answers 503 to requests that arrive while it closes; this path must not answer them instead
    app.addHook('preClose', (done) => {
      this.#closing = true;
      done();
    });
  }

  /** A node:http server like Fastify's own, with the static documents in front of Fastify's handler. */
  serverFactory(): FastifyServerFactory {
    return (handler, fastifyOptions) => {
      // Fastify hands over its options with its defaults filled in (keepAliveTimeout 72 s, ...)
      const options = fastifyOptions as unknown as FastifyServerTimeouts;
      const server: Server = createServer(options.http ?? {}, (request, response) => {
        if (!this.#answered(request, response)) handler(request, response);
      });
      // what Fastify does to the server it makes itself (lib/server.js)
      server.keepAliveTimeout = options.keepAliveTimeout;
      server.requestTimeout = options.requestTimeout;
      server.setTimeout(options.connectionTimeout);
      return server;
    };
  }

  #conventionsOrThrow(): ResponseConventions {
    if (this.#conventions === undefined) throw new Error('StaticDocuments.use() must come before any route');
    return this.#conventions;
  }

  /**
   * Whether the request was answered here. Nothing here is expected to throw, but a throw in a
   * node:http listener would end the process: one before anything was sent leaves the request to
   * Fastify (the same document's route), one after closes the connection.
   */
  #answered(request: IncomingMessage, response: ServerResponse): boolean {
    try {
      return this.#answer(request, response);
    } catch {
      if (!response.headersSent) return false;
      response.destroy();
      return true;
    }
  }

  #answer(request: IncomingMessage, response: ServerResponse): boolean {
    const method = request.method;
    if ((method !== 'GET' && method !== 'HEAD') || this.#closing) return false;
    const url = request.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const entry = this.#byPath.get(path);
    if (entry === undefined) return false;

    const conventions = this.#conventions!;
    const observed = conventions.observed();
    const started = observed ? performance.now() : 0;
    const id = conventions.requestId(request.headers['x-request-id']);
    const body = entry.document.body();
    response.writeHead(200, [...entry.headers, 'x-request-id', id, 'content-length', String(body.length)]);
    // Node sends no body in answer to HEAD whatever end() is given
    response.end(body);
    if (observed) conventions.completed({ id, method, url, route: path, status: 200, elapsedMs: performance.now() - started });
    return true;
  }
}
