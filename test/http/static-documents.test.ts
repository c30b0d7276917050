import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticDocuments } from '../../src/http/static-documents.js';
import { createLogger } from '../../src/logging.js';
import { scrape } from '../metrics/scrape.js';
import { startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const DOCUMENTS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks'];
/** Headers that differ between any two responses, or that Node adds to a socket's answers only. */
const PER_RESPONSE = new Set(['date', 'connection', 'keep-alive', 'x-request-id', 'transfer-encoding']);
const OUR_REQUEST_ID = /^[A-Za-z0-9]{12}-[0-9a-z]+$/;

function stable(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !PER_RESPONSE.has(name.toLowerCase())).map(([name, value]) => [name.toLowerCase(), String(value)]));
}

describe(`discovery and the JWKS answered in front of Fastify (${storageKind})`, () => {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ METRICS: 'on' }, createLogger('info', out));
  });
  afterAll(async () => server.close());

  for (const path of DOCUMENTS) {
    for (const method of ['GET', 'HEAD'] as const) {
      it(`${method} ${path}: the same status, headers and bytes as the Fastify route`, async () => {
        const overHttp = await fetch(`${server.url}${path}`, { method });
        const body = Buffer.from(await overHttp.arrayBuffer());
        const throughFastify = await server.app.inject({ method, url: path });
        expect(overHttp.status).toBe(200);
        expect(throughFastify.statusCode).toBe(200);
        expect(stable(Object.fromEntries(overHttp.headers))).toEqual(stable(throughFastify.headers));
        expect(overHttp.headers.get('x-request-id')).toMatch(OUR_REQUEST_ID);
        expect(String(throughFastify.headers['x-request-id'])).toMatch(OUR_REQUEST_ID);
        if (method === 'GET') {
          expect(body.equals(throughFastify.rawPayload)).toBe(true);
          expect(Number(overHttp.headers.get('content-length'))).toBe(body.length);
        } else {
          expect(body.length).toBe(0);
        }
      });
    }
  }

  it('keeps a harmless caller request id, replaces a harmful one, and logs the request under it', async () => {
    const kept = await fetch(`${server.url}/jwks?cache=bust`, { headers: { 'x-request-id': 'trace-static-1' } });
    expect(kept.status).toBe(200);
    expect(kept.headers.get('x-request-id')).toBe('trace-static-1');
    const replaced = await fetch(`${server.url}/jwks`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(OUR_REQUEST_ID);
    const line = text.split('\n').find((l) => l.includes('"reqId":"trace-static-1"'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ reqId: 'trace-static-1', method: 'GET', path: '/jwks', status: 200, msg: 'request completed' });
    expect(line).not.toContain('cache=bust');
  });

  it('counts each request in the metrics under its route, like any other', async () => {
    const count = async () =>
      (await scrape(server.url)).value('oidc_registrar_http_requests_total', 'counter', {
        method: 'GET',
        route: '/.well-known/openid-configuration',
        status: '200',
      }) ?? 0;
    const before = await count();
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/.well-known/openid-configuration`)).status).toBe(200);
    expect((await count()) - before).toBe(3);
  });

  it('leaves every other method and path to Fastify: the same answers as before', async () => {
    const post = await fetch(`${server.url}/jwks`, { method: 'POST' });
    expect(post.status).toBe(404);
    expect(await post.json()).toMatchObject({ error: 'not_found' });
    expect((await fetch(`${server.url}/jwks/`)).status).toBe(404);
    const preflight = await fetch(`${server.url}/jwks`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
  });
});

describe('StaticDocuments.serverFactory', () => {
  it('answers a GET or HEAD of a document itself and hands everything else to Fastify', async () => {
    const documents = new StaticDocuments();
    const app = Fastify({ serverFactory: documents.serverFactory() });
    const reachedFastify: string[] = [];
    app.addHook('onRequest', (request, _reply, done) => {
      reachedFastify.push(`${request.method} ${request.url}`);
      done();
    });
    documents.use({ headers: { 'x-frame-options': 'DENY' }, corsHeaders: () => undefined, requestId: () => 'id-1', observed: () => false, completed: () => undefined }, app);
    documents.route(app, '/doc', { contentType: 'text/plain', cacheControl: 'no-cache', body: () => Buffer.from('hello') });
    app.post('/doc', (_request, reply) => reply.send('posted'));
    let failures = 1;
    documents.route(app, '/flaky', {
      contentType: 'text/plain',
      cacheControl: 'no-cache',
      body: () => {
        if (failures-- > 0) throw new Error('not ready');
        return Buffer.from('steady');
      },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const get = await fetch(`${base}/doc?x=1`);
      expect(await get.text()).toBe('hello');
      expect(get.headers.get('x-frame-options')).toBe('DENY');
      expect(get.headers.get('x-request-id')).toBe('id-1');
      expect((await fetch(`${base}/doc`, { method: 'HEAD' })).headers.get('content-length')).toBe('5');
      expect(reachedFastify).toEqual([]);

      expect(await (await fetch(`${base}/doc`, { method: 'POST' })).text()).toBe('posted');
      expect((await fetch(`${base}/doc/`)).status).toBe(404);
      expect(reachedFastify).toEqual(['POST /doc', 'GET /doc/']);
      // the same document through Fastify (app.inject never reaches the server)
      expect((await app.inject({ method: 'GET', url: '/doc' })).body).toBe('hello');

      // a throw before anything was sent leaves the request to Fastify rather than ending the process
      const flaky = await fetch(`${base}/flaky`);
      expect(flaky.status).toBe(200);
      expect(await flaky.text()).toBe('steady');
      // (the GET /doc is app.inject's, above)
      expect(reachedFastify).toEqual(['POST /doc', 'GET /doc/', 'GET /doc', 'GET /flaky']);
      expect(await (await fetch(`${base}/flaky`)).text()).toBe('steady');
      expect(reachedFastify).toHaveLength(4);
    } finally {
      await app.close();
    }
  });
});
