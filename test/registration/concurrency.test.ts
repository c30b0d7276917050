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

  it('writes registrations that arrive together in shared statements, each answered alone: one that fails fails alone', async () => {
    const statements: string[] = [];
    const query = server.db.query.bind(server.db);
    // the statements in flight take a while, so that the registrations arriving meanwhile queue up
    server.db.query = (async (sql: string, ...rest: []) => {
      statements.push(sql);
      if (sql.startsWith('WITH')) await new Promise((resolve) => setTimeout(resolve, 50));
      return query(sql, ...rest);
    }) as typeof server.db.query;
    // the audit entry of one request can no longer be written: its batch fails, then each is written alone
    await server.db.query("ALTER TABLE audit_entries ADD CONSTRAINT refuse_one CHECK (request_id IS DISTINCT FROM 'refused-registration') NOT VALID");
    const requestId = (i: number) => (i === 17 ? 'refused-registration' : `batched-${i}`);
    let responses: Awaited<ReturnType<typeof request>>[];
    try {
      responses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'], client_name: 'batched' }, headers: { 'x-request-id': requestId(i) } }),
        ),
      );
    } finally {
      await server.db.query('ALTER TABLE audit_entries DROP CONSTRAINT refuse_one');
      server.db.query = query;
    }
    expect(statements.some((sql) => sql.startsWith('WITH input'))).toBe(true);
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 40 }, (_, i) => (i === 17 ? 500 : 201)));
    // each client stored has its own entry, under its own request id; the refused one has neither
    const entries = await server.db.query<{ client_id: string; request_id: string }>(
      "SELECT client_id, request_id FROM audit_entries WHERE action = 'client.register' AND (request_id LIKE 'batched-%' OR request_id = 'refused-registration')",
    );
    expect(new Map(entries.map((e) => [e.request_id, e.client_id]))).toEqual(
      new Map(responses.flatMap((r, i) => (i === 17 ? [] : [[requestId(i), r.body.client_id as string]]))),
    );
    const [row] = await server.db.query<{ n: string | number }>("SELECT count(*) AS n FROM clients WHERE metadata->>'client_name' = 'batched'");
    expect(Number(row!.n)).toBe(39);
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
