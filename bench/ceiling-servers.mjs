// The HTTP ceilings of the comparison: a server doing nothing but answer with fixed bytes, so a
// static document of ours can be weighed against what the HTTP stack itself costs.
//
//   CEILING_KIND=fastify|http CEILING_PORT=4001 CEILING_DOCUMENTS=/tmp/documents.json node bench/ceiling-servers.mjs
//
// CEILING_DOCUMENTS names a JSON file { "<path>": { "contentType": "...", "body": "<base64>" } }
// holding the exact bytes and content type of our documents (fetched from our running server).
// fastify: the same Fastify version as ours, no plugins, no hooks, logger off, one GET route per
// path. http: bare node:http, a lookup by URL. Both print nothing: the bench polls them until ready.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Fastify from 'fastify';

const kind = process.env.CEILING_KIND;
const port = Number(process.env.CEILING_PORT);
if (kind !== 'fastify' && kind !== 'http') throw new Error(`CEILING_KIND must be fastify or http, got "${kind}"`);
if (!Number.isInteger(port) || port < 1) throw new Error('CEILING_PORT must be a port number');

const documents = new Map(
  Object.entries(JSON.parse(readFileSync(process.env.CEILING_DOCUMENTS, 'utf8'))).map(([path, { contentType, body }]) => [
    path,
    { contentType, body: Buffer.from(body, 'base64') },
  ]),
);

if (kind === 'fastify') {
  const app = Fastify({ logger: false });
  for (const [path, { contentType, body }] of documents) {
    app.get(path, (_request, reply) => {
      reply.header('content-type', contentType).send(body);
    });
  }
  await app.listen({ port, host: '127.0.0.1' });
  process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
} else {
  const server = createServer((request, response) => {
    const document = documents.get(request.url);
    if (document === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': document.contentType, 'content-length': document.body.length }).end(document.body);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
