import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

function capture(): { stream: Writable; lines: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text };
}

describe('secrets never reach the logs', () => {
  it('redacts credential fields and private key members wherever they sit', () => {
    const out = capture();
    const log = createLogger('info', out.stream);
    log.info({
      client_secret: 'S1',
      body: { registration_access_token: 'S2', client_assertion: 'S3', nested: { client_secret: 'S4' } },
      req: { headers: { authorization: 'Bearer S5', cookie: 'S6' } },
      jwks: { keys: [{ kty: 'EC', d: 'S7', x: 'public-x' }] },
      jwk: { kty: 'oct', k: 'S8' },
    }, 'event');
    const line = out.lines();
    for (const secret of ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']) expect(line).not.toContain(`"${secret}`);
    expect(line).toContain('public-x');
    expect(line).toContain('[redacted]');
  });

  describe(`over a real registration cycle (${storageKind})`, () => {
    const out = capture();
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({}, createLogger('trace', out.stream));
    });
    afterAll(async () => server.close());

    it('logs requests with ids but no secret, token or query string', async () => {
      const created = await request(server, 'POST', '/register?client_secret=from-query', { json: { redirect_uris: ['https://rp.example/cb'] }, headers: { 'x-request-id': 'req-42' } });
      const client = created.body;
      await request(server, 'GET', `/register/${client.client_id}`, { token: client.registration_access_token });
      await request(server, 'PUT', `/register/${client.client_id}`, { token: client.registration_access_token, json: { client_id: client.client_id, client_secret: 'wrong-secret-guess', redirect_uris: ['https://rp.example/cb'] } });
      await request(server, 'GET', `/register/${client.client_id}`, { token: 'wrong-token-guess' });
      const logs = out.lines();
      expect(logs).toContain('"reqId":"req-42"');
      expect(logs).toContain(client.client_id);
      for (const secret of [client.client_secret, client.registration_access_token, 'from-query', 'wrong-secret-guess', 'wrong-token-guess']) {
        expect(logs).not.toContain(secret);
      }
    });
  });
});
