import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

describe(`concurrent registrations (${storageKind})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.close());

  it('registers 200 clients in parallel, each with its own id, all readable', async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        request(server, 'POST', '/register', { json: { redirect_uris: [`https://rp${i}.example/cb`], client_name: `rp ${i}` } }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(201));
    const ids = new Set(responses.map((r) => r.body.client_id));
    expect(ids.size).toBe(200);
    const [{ count }] = await server.db.query<{ count: string | number }>('SELECT count(*) AS count FROM clients') as [{ count: string | number }];
    expect(Number(count)).toBe(200);

    const reads = await Promise.all(
      responses.map((r) => request(server, 'GET', `/register/${r.body.client_id}`, { token: r.body.registration_access_token })),
    );
    reads.forEach((read, i) => {
      expect(read.status).toBe(200);
      expect(read.body.client_name).toBe(`rp ${i}`);
    });
  });

  it('never hands out a dead token when rotating updates race', async () => {
    const rotating = await startTestServer({ ROTATE_REGISTRATION_ACCESS_TOKEN: 'true' });
    try {
      const client = (await request(rotating, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } })).body;
      const path = `/register/${client.client_id}`;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          request(rotating, 'PUT', path, { token: client.registration_access_token, json: { client_id: client.client_id, redirect_uris: [`https://rp.example/${i}`] } }),
        ),
      );
      const winners = results.filter((r) => r.status === 200);
      expect(winners).toHaveLength(1); // the first update rotated the token the others presented
      for (const loser of results.filter((r) => r.status !== 200)) expect(loser.status).toBe(401);
      const read = await request(rotating, 'GET', path, { token: winners[0]!.body.registration_access_token });
      expect(read.status).toBe(200);
      expect(read.body.redirect_uris).toEqual(winners[0]!.body.redirect_uris);
    } finally {
      await rotating.close();
    }
  });

  it('keeps every update when a client is updated and deleted at once', async () => {
    const client = (await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } })).body;
    const path = `/register/${client.client_id}`;
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) =>
        request(server, 'PUT', path, { token: client.registration_access_token, json: { client_id: client.client_id, redirect_uris: [`https://rp.example/${i}`] } }),
      ),
      request(server, 'DELETE', path, { token: client.registration_access_token }),
    ]);
    // each request either took effect before the delete or was refused after it; never a 500
    for (const result of results) expect([200, 204, 401]).toContain(result.status);
    expect(results.at(-1)!.status).toBe(204);
    expect((await request(server, 'GET', path, { token: client.registration_access_token })).status).toBe(401);
    const [{ count }] = (await server.db.query<{ count: string | number }>('SELECT count(*) AS count FROM clients WHERE client_id = $1', [client.client_id])) as [{ count: string | number }];
    expect(Number(count)).toBe(0);
  });
});
