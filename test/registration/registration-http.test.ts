import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const rp = { redirect_uris: ['https://rp.example/cb'], client_name: 'Example RP', contacts: ['ops@rp.example'] };

describe(`registration over HTTP (${storageKind})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.close());

  const register = (json: unknown = rp) => request(server, 'POST', '/register', { json });

  describe('register → read → update → delete', () => {
    it('runs the whole RFC 7591 / RFC 7592 cycle', async () => {
      const created = await register({ ...rp, favourite_colour: 'blue' });
      expect(created.status).toBe(201);
      expect(created.headers.get('cache-control')).toBe('no-store');
      expect(created.headers.get('pragma')).toBe('no-cache');
      const client = created.body;
      expect(client.client_id).toMatch(/^[A-Za-z0-9_-]{32,}$/);
      expect(Buffer.from(client.client_secret, 'base64url').length).toBeGreaterThanOrEqual(64);
      expect(Buffer.from(client.registration_access_token, 'base64url').length).toBeGreaterThanOrEqual(32);
      expect(client.client_secret_expires_at).toBe(0);
      expect(Math.abs(client.client_id_issued_at - Date.now() / 1000)).toBeLessThan(10);
      expect(client.registration_client_uri).toBe(`${server.url}/register/${client.client_id}`);
      expect(created.headers.get('location')).toBe(client.registration_client_uri);
      expect(client).toMatchObject({ ...rp, application_type: 'web', grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' });
      expect(client).not.toHaveProperty('favourite_colour');
      for (const value of Object.values(client)) expect(value === null || value === '').toBe(false);

      const path = `/register/${client.client_id}`;
      const read = await request(server, 'GET', path, { token: client.registration_access_token });
      expect(read.status).toBe(200);
      expect(read.headers.get('cache-control')).toBe('no-store');
      // RFC 7592 §3: the client information response, registration access token included
      expect(read.body).toEqual(client);

      const updated = await request(server, 'PUT', path, {
        token: client.registration_access_token,
        json: { client_id: client.client_id, redirect_uris: ['https://rp.example/new'], client_name: 'Renamed' },
      });
      expect(updated.status).toBe(200);
      expect(updated.body.redirect_uris).toEqual(['https://rp.example/new']);
      expect(updated.body.client_name).toBe('Renamed');
      expect(updated.body).not.toHaveProperty('contacts'); // replacement: omitted fields are removed
      expect(updated.body.client_secret).toBe(client.client_secret); // still needed, so kept
      // RFC 7592 §3: the response includes the registration access token; not rotated by default
      expect(updated.body.registration_access_token).toBe(client.registration_access_token);

      const reread = await request(server, 'GET', path, { token: client.registration_access_token });
      expect(reread.body.client_name).toBe('Renamed');

      const deleted = await request(server, 'DELETE', path, { token: client.registration_access_token });
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');

      const gone = await request(server, 'GET', path, { token: client.registration_access_token });
      expect(gone.status).toBe(401);
      expect(gone.body.error).toBe('invalid_token');
      const deleteAgain = await request(server, 'DELETE', path, { token: client.registration_access_token });
      expect(deleteAgain.status).toBe(401);
    });

    it('issues no secret to a public client, and one when it becomes confidential', async () => {
      const created = await register({ ...rp, token_endpoint_auth_method: 'none' });
      expect(created.status).toBe(201);
      expect(created.body).not.toHaveProperty('client_secret');
      expect(created.body).not.toHaveProperty('client_secret_expires_at');
      const updated = await request(server, 'PUT', `/register/${created.body.client_id}`, {
        token: created.body.registration_access_token,
        json: { ...rp, client_id: created.body.client_id, token_endpoint_auth_method: 'client_secret_post' },
      });
      expect(updated.status).toBe(200);
      expect(updated.body.client_secret).toMatch(/^[A-Za-z0-9_-]{86}$/);
      expect(updated.body.client_secret_expires_at).toBe(0);
      const back = await request(server, 'PUT', `/register/${created.body.client_id}`, {
        token: created.body.registration_access_token,
        json: { ...rp, client_id: created.body.client_id, token_endpoint_auth_method: 'none' },
      });
      expect(back.body).not.toHaveProperty('client_secret');
    });

    it('registers a machine client for client_credentials', async () => {
      const created = await register({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS512', scope: 'openid' });
      expect(created.status).toBe(201);
      expect(created.body.grant_types).toEqual(['client_credentials']);
      expect(created.body).not.toHaveProperty('response_types');
      expect(created.body).not.toHaveProperty('redirect_uris');
    });

    it('gives every registration its own id, secret and token', async () => {
      const [a, b] = await Promise.all([register(), register()]);
      expect(a!.body.client_id).not.toBe(b!.body.client_id);
      expect(a!.body.client_secret).not.toBe(b!.body.client_secret);
      expect(a!.body.registration_access_token).not.toBe(b!.body.registration_access_token);
    });
  });

  describe('registration errors', () => {
    it.each([
      ['an array body', '[]', 400, 'invalid_client_metadata'],
      ['a string body', '"hello"', 400, 'invalid_client_metadata'],
      ['a number body', '42', 400, 'invalid_client_metadata'],
      ['null', 'null', 400, 'invalid_client_metadata'],
      ['malformed JSON', '{"redirect_uris": [', 400, 'invalid_request'],
      ['an empty body', '', 400, 'invalid_request'],
      ['a __proto__ key', '{"__proto__": {"admin": true}, "redirect_uris": ["https://rp.example/cb"]}', 400, 'invalid_request'],
    ])('%s → %i %s', async (_what, body, status, error) => {
      const res = await request(server, 'POST', '/register', { body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error, error_description: expect.any(String) });
    });

    it('refuses a body that is not JSON with 415, naming the type it accepts', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        const res = await request(server, 'POST', '/register', { body: 'redirect_uris=https://rp.example/cb', headers: { 'content-type': type } });
        expect(res.status).toBe(415);
        expect(res.body).toEqual({ error: 'unsupported_media_type', error_description: 'the request body must be sent as application/json' });
      }
    });

    it('415 at the token, introspection and revocation endpoints names the form encoding', async () => {
      for (const path of ['/token', '/introspect', '/revoke']) {
        const res = await request(server, 'POST', path, { json: { grant_type: 'client_credentials' } });
        expect(res.status).toBe(415);
        expect(res.body).toEqual({ error: 'unsupported_media_type', error_description: 'the request body must be sent as application/x-www-form-urlencoded' });
      }
    });

    it('refuses JSON nested thousands deep with 400, not a stack overflow', async () => {
      const deep = `${'['.repeat(12_000)}${']'.repeat(12_000)}`;
      const res = await request(server, 'POST', '/register', { body: `{"redirect_uris":["https://rp.example/cb"],"jwks":{"keys":[{}],"x":${deep}}}`, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client_metadata');
    });

    it('refuses a body over 64 KiB with 413', async () => {
      const res = await register({ ...rp, client_name: 'x'.repeat(70 * 1024) });
      expect(res.status).toBe(413);
      expect(res.body.error).toBe('request_too_large');
    });

    it('names the field and the rule in error_description', async () => {
      const res = await register({ redirect_uris: ['http://rp.example/cb'] });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_redirect_uri');
      expect(res.body.error_description).toContain('redirect_uris[0]');
      expect(res.body.error_description).toContain('loopback');
    });

    it('keeps error_description within the RFC 6749 character set, whatever the input', async () => {
      const res = await register({ ...rp, 'client_name#"\\ü': 'x' });
      expect(res.status).toBe(400);
      expect(res.body.error_description).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
    });

    it('accepts application/json with a charset', async () => {
      const res = await request(server, 'POST', '/register', { body: JSON.stringify(rp), headers: { 'content-type': 'application/json; charset=utf-8' } });
      expect(res.status).toBe(201);
    });

    it('does not take client_id or client_secret from the request', async () => {
      const res = await register({ ...rp, client_id: 'chosen-by-client-123', client_secret: 'weak' });
      expect(res.status).toBe(201);
      expect(res.body.client_id).not.toBe('chosen-by-client-123');
      expect(res.body.client_secret).not.toBe('weak');
    });
  });

  describe('client configuration endpoint errors (RFC 7592)', () => {
    let client: Record<string, any>;
    beforeAll(async () => {
      client = (await register()).body;
    });
    const path = () => `/register/${client.client_id}`;

    it.each([
      ['no Authorization header', {}],
      ['a wrong token', { authorization: 'Bearer wrong-token' }],
      ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
      ['a bare scheme', { authorization: 'Bearer' }],
      ['a token with spaces', { authorization: 'Bearer a b c' }],
      ['non-ASCII bytes', { authorization: 'Bearer \u00ff\u00fe' }],
      ['quoted token', { authorization: 'Bearer "abc"' }],
      ['padding first', { authorization: 'Bearer ===abc' }],
      ['a huge header', { authorization: `Bearer ${'a'.repeat(6000)}` }],
    ])('%s → 401 invalid_token with a challenge', async (_what, headers) => {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await request(server, method, path(), { headers, ...(method === 'PUT' ? { json: { client_id: client.client_id, ...rp } } : {}) });
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_token');
        // RFC 6750 §3.1: no error code in the challenge when no credentials were sent
        expect(res.headers.get('www-authenticate')).toMatch('authorization' in headers ? /^Bearer error="invalid_token"/ : /^Bearer$/);
      }
    });

    it('answers a client id of any length or shape with 401, never a router error', async () => {
      for (const id of ['x', 'a'.repeat(150), 'a'.repeat(300), '..%2F..%2Fetc']) {
        const res = await request(server, 'GET', `/register/${id}`, { token: client.registration_access_token });
        expect(res.status, id).toBe(401);
        expect(res.body.error, id).toBe('invalid_token');
      }
      const undecodable = await request(server, 'GET', '/register/%zz', { token: client.registration_access_token });
      expect(undecodable.status).toBe(400);
      expect(undecodable.body.error).toBe('invalid_request');
      expect(undecodable.headers.get('cache-control')).toBe('no-store');
    });

    it('answers a request Node cannot parse (a control byte in a header) with OAuth JSON', async () => {
      const { connect } = await import('node:net');
      const url = new URL(server.url);
      const raw = await new Promise<string>((resolve, reject) => {
        let data = '';
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(`GET ${path()} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u0001abc\r\n\r\n`);
        });
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
      expect(body).toEqual({ error: 'invalid_request', error_description: 'the request is not valid HTTP' });
    });

    it('deletes when the client sends a JSON content type with no body', async () => {
      const other = (await register()).body;
      const res = await request(server, 'DELETE', `/register/${other.client_id}`, { token: other.registration_access_token, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(204);
    });

    it('returns fields in the same order on read as on registration', async () => {
      const created = (await register({ ...rp, 'client_name#fr': 'RP', jwks_uri: 'https://rp.example/jwks', token_endpoint_auth_method: 'private_key_jwt' })).body;
      const read = await request(server, 'GET', `/register/${created.client_id}`, { token: created.registration_access_token });
      expect(Object.keys(read.body)).toEqual(Object.keys(created));
    });

    it('answers an unknown client exactly as a wrong token', async () => {
      const unknown = await request(server, 'GET', '/register/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { token: client.registration_access_token });
      const wrong = await request(server, 'GET', path(), { token: 'not-the-token' });
      expect(unknown.status).toBe(401);
      expect(unknown.body).toEqual(wrong.body);
      expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
    });

    it("refuses another client's token", async () => {
      const other = (await register()).body;
      const res = await request(server, 'GET', path(), { token: other.registration_access_token });
      expect(res.status).toBe(401);
    });

    it.each([
      ['without client_id', () => ({ ...rp }), 'client_id'],
      ['with another client_id', () => ({ ...rp, client_id: 'someone-else-entirely' }), 'client_id'],
      ['with registration_access_token', () => ({ ...rp, client_id: client.client_id, registration_access_token: client.registration_access_token }), 'registration_access_token'],
      ['with registration_client_uri', () => ({ ...rp, client_id: client.client_id, registration_client_uri: client.registration_client_uri }), 'registration_client_uri'],
      ['with client_id_issued_at', () => ({ ...rp, client_id: client.client_id, client_id_issued_at: 1 }), 'client_id_issued_at'],
      ['with client_secret_expires_at', () => ({ ...rp, client_id: client.client_id, client_secret_expires_at: 0 }), 'client_secret_expires_at'],
      ['with a different client_secret', () => ({ ...rp, client_id: client.client_id, client_secret: 'not-the-secret' }), 'client_secret'],
    ])('PUT %s → 400 invalid_request', async (_what, body, mentions) => {
      const res = await request(server, 'PUT', path(), { token: client.registration_access_token, json: body() });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.body.error_description).toContain(mentions);
      expect(res.text).not.toContain(client.client_secret);
    });

    it('PUT with the current client_secret is accepted', async () => {
      const res = await request(server, 'PUT', path(), { token: client.registration_access_token, json: { ...rp, client_id: client.client_id, client_secret: client.client_secret } });
      expect(res.status).toBe(200);
    });

    it('PUT validates like POST and changes nothing when refused', async () => {
      const res = await request(server, 'PUT', path(), { token: client.registration_access_token, json: { client_id: client.client_id, redirect_uris: ['javascript:alert(1)'] } });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_redirect_uri');
      const read = await request(server, 'GET', path(), { token: client.registration_access_token });
      expect(read.body.redirect_uris).toEqual(rp.redirect_uris);
    });

    it('PUT with a body that is not an object → 400', async () => {
      const res = await request(server, 'PUT', path(), { token: client.registration_access_token, body: '[1]', headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client_metadata');
    });
  });

  describe('HTTP surface', () => {
    it('answers an unknown path with a 404 OAuth error', async () => {
      const res = await request(server, 'GET', '/nope');
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('not_found');
    });

    it('sets helmet headers on every response', async () => {
      for (const path of ['/healthz', '/.well-known/openid-configuration', '/nope']) {
        const res = await request(server, 'GET', path);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('strict-transport-security')).toContain('max-age=');
        expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      }
    });

    it('allows cross-origin discovery reads and registrations, not configuration reads', async () => {
      const discovery = await request(server, 'GET', '/.well-known/openid-configuration', { headers: { origin: 'https://app.example' } });
      expect(discovery.headers.get('access-control-allow-origin')).toBe('*');
      const jwks = await request(server, 'GET', '/jwks', { headers: { origin: 'https://app.example' } });
      expect(jwks.headers.get('access-control-allow-origin')).toBe('*');
      const preflight = await request(server, 'OPTIONS', '/register', {
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
      const created = await request(server, 'POST', '/register', { json: rp, headers: { origin: 'https://app.example' } });
      expect(created.headers.get('access-control-allow-origin')).toBe('*');
      const config = await request(server, 'GET', `/register/${created.body.client_id}`, { token: created.body.registration_access_token, headers: { origin: 'https://app.example' } });
      expect(config.status).toBe(200);
      expect(config.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('answers preflights for the public routes only, for the methods they are open to', async () => {
      const ask = (path: string, method: string) =>
        request(server, 'OPTIONS', path, { headers: { origin: 'https://app.example', 'access-control-request-method': method } });
      for (const path of ['/.well-known/openid-configuration', '/jwks']) {
        const allowed = await ask(path, 'GET');
        expect(allowed.status).toBe(204);
        expect(allowed.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
        expect(allowed.headers.get('access-control-max-age')).toBe('600');
        expect(allowed.headers.get('content-length')).toBe('0');
        expect((await ask(path, 'POST')).status).toBe(404);
      }
      const configuration = await ask('/register/some-client', 'GET');
      expect(configuration.status).toBe(404);
      expect(configuration.headers.get('access-control-allow-origin')).toBeNull();
      expect((await ask('/token', 'POST')).headers.get('access-control-allow-origin')).toBeNull();
    });

    it('answers an OPTIONS without Origin (no browser preflight) without a text/plain 400', async () => {
      const res = await request(server, 'OPTIONS', '/register', { headers: { 'access-control-request-method': 'POST' } });
      expect(res.status).toBeLessThan(400);
    });

    it('echoes a request id, or makes one', async () => {
      const given = await request(server, 'GET', '/healthz', { headers: { 'x-request-id': 'trace-123' } });
      expect(given.headers.get('x-request-id')).toBe('trace-123');
      const made = await request(server, 'GET', '/healthz');
      const next = await request(server, 'GET', '/healthz');
      // this process's random prefix and a counter: unique across instances, never repeated
      expect(made.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9]{12}-[0-9a-z]+$/);
      expect(next.headers.get('x-request-id')).not.toBe(made.headers.get('x-request-id'));
      expect(next.headers.get('x-request-id')!.split('-')[0]).toBe(made.headers.get('x-request-id')!.split('-')[0]);
    });

    it('reports liveness and readiness', async () => {
      expect((await request(server, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
      expect((await request(server, 'GET', '/readyz')).body).toEqual({ status: 'ready', database: storageKind });
    });
  });
});
