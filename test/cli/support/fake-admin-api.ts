import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, jwtVerify, type CryptoKey } from 'jose';

/**
 * A stand-in for the admin API as its contract describes it, small enough to read: a token
 * endpoint that verifies private_key_jwt assertions (iss = sub = client_id, aud = issuer), and
 * /admin routes over an in-memory client list. The CLI is tested against it as a process, down
 * to the requests it sends; test/cli/e2e.test.ts runs commands against the real server.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

type Client = Record<string, unknown> & { client_id: string };

export class FakeAdminApi {
  readonly requests: RecordedRequest[] = [];
  /** Every token endpoint request: the decoded assertion claims, header and the form. */
  readonly tokenRequests: { claims: Record<string, unknown>; header: Record<string, unknown>; form: URLSearchParams }[] = [];
  readonly clients = new Map<string, Client>();
  keys = [{ kid: 'key-1', alg: 'ES256', created_at: 1_700_000_000, activates_at: 1_700_000_000, state: 'active' as string }];
  /** Lifetime of the tokens /token issues. */
  tokenLifetime = 300;
  /** Tokens the admin routes accept; clear it to make them answer 401 invalid_token. */
  readonly validTokens = new Set<string>();
  readonly clientId = `admin-${randomUUID().slice(0, 8)}`;
  url = '';
  #server: Server;
  #publicKey: CryptoKey | undefined;
  #privateJwk: Record<string, unknown> | undefined;

  constructor() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'server_error', error_description: String(error) }));
      });
    });
  }

  async start(): Promise<this> {
    const pair = await generateKeyPair('ES256', { extractable: true });
    this.#publicKey = pair.publicKey;
    this.#privateJwk = { ...(await exportJWK(pair.privateKey)), kid: 'admin-key-1', alg: 'ES256' };
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The credentials file `admin bootstrap` would write for this server, mode 0600. */
  writeCredentials(dir: string, name = 'admin-credentials.json'): string {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify({ issuer: this.url, client_id: this.clientId, private_jwk: this.#privateJwk }), { mode: 0o600 });
    chmodSync(file, 0o600);
    return file;
  }

  adminRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/admin/'));
  }

  addClient(fields: Record<string, unknown> = {}): Client {
    const now = Math.floor(Date.now() / 1000);
    const client: Client = {
      client_id: randomBytes(8).toString('hex'),
      client_id_issued_at: now,
      has_client_secret: true,
      client_secret_expires_at: 0,
      registration_client_uri: '',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      access_token_format: 'jwt',
      access_token_lifetime: 300,
      expires_at: null,
      disabled: false,
      admin: false,
      created_at: now,
      updated_at: now,
      created_via: 'admin_api',
      last_used_at: null,
      ...fields,
    };
    client.registration_client_uri = `${this.url}/register/${client.client_id}`;
    this.clients.set(client.client_id, client);
    return client;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const contentType = req.headers['content-type'];
    let body: unknown = text;
    if (text !== '' && contentType !== undefined && /json/.test(contentType)) body = JSON.parse(text);
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, contentType, authorization: req.headers.authorization, body });

    const send = (status: number, answer?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, answer === undefined ? headers : { 'content-type': 'application/json', ...headers });
      res.end(answer === undefined ? undefined : JSON.stringify(answer));
    };
    const oauthError = (status: number, error: string, description: string) => send(status, { error, error_description: description });

    if (req.method === 'POST' && url.pathname === '/token') return this.#token(new URLSearchParams(text), send, oauthError);

    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token === undefined || !this.validTokens.has(token)) {
      return send(401, { error: 'invalid_token', error_description: 'the access token is missing, expired or revoked' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    const path = url.pathname;
    const method = req.method;
    if (path === '/admin/keys' && method === 'GET') return send(200, { keys: this.keys });
    if (path === '/admin/keys/rotate' && method === 'POST') {
      const now = Math.floor(Date.now() / 1000);
      const alg = typeof body === 'object' && body !== null && 'alg' in body ? String(body.alg) : 'ES256';
      const key = { kid: `key-${this.keys.length + 1}`, alg, created_at: now, activates_at: now + 600, state: 'pending' };
      this.keys.push(key);
      return send(201, { keys: [key] });
    }
    if (path === '/admin/clients' && method === 'GET') {
      const limit = Number(url.searchParams.get('limit') ?? '50');
      const all = [...this.clients.values()].reverse();
      const start = Number(url.searchParams.get('cursor') ?? '0');
      const page = all.slice(start, start + limit);
      return send(200, { clients: page, next_cursor: start + limit < all.length ? String(start + limit) : null });
    }
    if (path === '/admin/clients' && method === 'POST') {
      const fields = body as Record<string, unknown>;
      const invalid = this.#invalidRedirectUri(fields);
      if (invalid !== undefined) return oauthError(400, 'invalid_redirect_uri', invalid);
      const client = this.addClient({ ...fields, created_via: 'admin_api' });
      return send(201, { ...client, client_secret: `secret-${client.client_id}`, registration_access_token: `rat-${client.client_id}` }, { location: `${this.url}/admin/clients/${client.client_id}` });
    }
    const match = /^\/admin\/clients\/([^/]+)(\/[a-z-]+)?$/.exec(path);
    if (match === null) return oauthError(404, 'not_found', `no route ${method} ${path}`);
    const client = this.clients.get(decodeURIComponent(match[1]!));
    if (client === undefined) return oauthError(404, 'not_found', `no client ${decodeURIComponent(match[1]!)}`);
    const action = match[2];
    const touch = (changes: Record<string, unknown>) => {
      Object.assign(client, changes, { updated_at: Math.floor(Date.now() / 1000) });
      return client;
    };
    if (action === undefined && method === 'GET') return send(200, client);
    if (action === undefined && method === 'PUT') {
      const invalid = this.#invalidRedirectUri(body as Record<string, unknown>);
      if (invalid !== undefined) return oauthError(400, 'invalid_redirect_uri', invalid);
      const replaced = { ...(body as Record<string, unknown>), client_id: client.client_id, created_at: client.created_at, updated_at: Math.floor(Date.now() / 1000) };
      this.clients.set(client.client_id, replaced);
      return send(200, replaced);
    }
    if (action === undefined && method === 'PATCH') {
      if (contentType !== 'application/merge-patch+json') return oauthError(415, 'invalid_request', 'PATCH takes application/merge-patch+json');
      for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
        if (value === null) delete client[name];
        else client[name] = value;
      }
      return send(200, touch({}));
    }
    if (action === undefined && method === 'DELETE') {
      this.clients.delete(client.client_id);
      return send(204);
    }
    if (action === '/disable' && method === 'POST') return send(200, touch({ disabled: true }));
    if (action === '/enable' && method === 'POST') return send(200, touch({ disabled: false }));
    if (action === '/rotate-secret' && method === 'POST') return send(200, { ...touch({}), client_secret: `secret-${randomUUID()}` });
    if (action === '/rotate-registration-token' && method === 'POST') return send(200, { ...touch({}), registration_access_token: `rat-${randomUUID()}` });
    return oauthError(404, 'not_found', `no route ${method} ${path}`);
  }

  #invalidRedirectUri(fields: Record<string, unknown>): string | undefined {
    const uris = Array.isArray(fields.redirect_uris) ? (fields.redirect_uris as string[]) : [];
    const index = uris.findIndex((u) => u.startsWith('http://') && !u.startsWith('http://localhost'));
    return index < 0 ? undefined : `redirect_uris[${index}] may use http only on a loopback host (localhost, 127.0.0.1, [::1])`;
  }

  async #token(
    form: URLSearchParams,
    send: (status: number, answer?: unknown) => void,
    oauthError: (status: number, error: string, description: string) => void,
  ): Promise<void> {
    if (form.get('grant_type') !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', 'client_credentials only');
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return oauthError(401, 'invalid_client', 'client authentication failed');
    try {
      const { payload, protectedHeader } = await jwtVerify(form.get('client_assertion') ?? '', this.#publicKey!, {
        issuer: this.clientId,
        subject: this.clientId,
        audience: this.url,
        algorithms: ['ES256'],
        requiredClaims: ['jti', 'exp'],
      });
      this.tokenRequests.push({ claims: payload as Record<string, unknown>, header: protectedHeader as Record<string, unknown>, form });
    } catch {
      return oauthError(401, 'invalid_client', 'client authentication failed');
    }
    const token = `at-${randomUUID()}`;
    this.validTokens.add(token);
    send(200, { access_token: token, token_type: 'Bearer', expires_in: this.tokenLifetime, scope: form.get('scope') ?? '' });
  }
}
