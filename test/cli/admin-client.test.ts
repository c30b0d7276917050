import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminTokenSource, AdminTokenError, defaultTokenCacheDir, EXPIRY_MARGIN_SECONDS, tokenCacheFile } from '../../src/admin-client/admin-token.js';
import { CredentialsError, readCredentials } from '../../src/admin-client/credentials.js';
import { AdminUnreachableError, HttpAdminApi } from '../../src/admin-client/http-admin-api.js';
import { AdminApiError } from '../../src/admin-client/types.js';
import { checkServerUrl, CliExit } from '../../src/cli/options.js';
import { FakeAdminApi } from './support/fake-admin-api.js';

let api: FakeAdminApi;
let dir: string;
let credentialsFile: string;

beforeAll(async () => {
  api = await new FakeAdminApi().start();
});
afterAll(async () => {
  await api.stop();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registrar-admin-client-'));
  credentialsFile = api.writeCredentials(dir);
  api.tokenRequests.length = 0;
  api.requests.length = 0;
  return () => rmSync(dir, { recursive: true, force: true });
});

describe('the admin token (private_key_jwt, client_credentials)', () => {
  it('is asked for with a one-minute assertion: iss = sub = client_id, aud = the issuer, a fresh jti, the key id', async () => {
    const loaded = await readCredentials(credentialsFile);
    const tokens = adminTokenSource({ loaded, url: api.url });
    await tokens.renew();
    await tokens.renew();
    const [first, second] = api.tokenRequests;
    expect(first!.claims).toMatchObject({ iss: api.clientId, sub: api.clientId, aud: api.url });
    expect((first!.claims.exp as number) - (first!.claims.iat as number)).toBeLessThanOrEqual(60);
    expect(first!.header).toMatchObject({ alg: 'ES256', kid: 'admin-key-1' });
    expect(first!.claims.jti).not.toBe(second!.claims.jti);
    expect(first!.form.get('scope')).toBe('admin:read admin:write');
  });

  it('is cached in a file readable by its owner only, in a directory of its own, and reused by the next command', async () => {
    const loaded = await readCredentials(credentialsFile);
    const cacheDir = join(dir, 'cache', 'oidc-registrar');
    const first = await adminTokenSource({ loaded, url: api.url, cacheDir }).get();
    const second = await adminTokenSource({ loaded, url: api.url, cacheDir }).get(); // as a later process would
    expect(second.access_token).toBe(first.access_token);
    expect(api.tokenRequests).toHaveLength(1);
    const file = tokenCacheFile(cacheDir, api.url, api.clientId, api.url);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(cacheDir)).toEqual([file.split('/').pop()]); // no temporary files left behind
    // the file name says nothing about the server or the client
    expect(file).not.toContain(api.clientId);
    expect(file).not.toContain('127.0.0.1');
  });

  it(`is renewed ${EXPIRY_MARGIN_SECONDS} s before it expires, not later`, async () => {
    const loaded = await readCredentials(credentialsFile);
    const cacheDir = join(dir, 'cache');
    let now = Math.floor(Date.now() / 1000);
    const source = () => adminTokenSource({ loaded, url: api.url, cacheDir, now: () => now });
    const first = await source().get(); // lives 300 s
    now += 300 - EXPIRY_MARGIN_SECONDS - 1;
    expect((await source().get()).access_token).toBe(first.access_token);
    now += 1;
    expect((await source().get()).access_token).not.toBe(first.access_token);
    expect(api.tokenRequests).toHaveLength(2);
  });

  it('is kept apart per issuer, client and server URL, and a damaged cache file is replaced', async () => {
    const a = 'https://a.example';
    expect(tokenCacheFile('/c', a, 'x', a)).not.toBe(tokenCacheFile('/c', 'https://b.example', 'x', a));
    expect(tokenCacheFile('/c', a, 'x', a)).not.toBe(tokenCacheFile('/c', a, 'y', a));
    expect(tokenCacheFile('/c', a, 'x', a)).not.toBe(tokenCacheFile('/c', a, 'x', 'https://b.example'));
    expect(tokenCacheFile('/c', a, 'x', a)).toBe(tokenCacheFile('/c', a, 'x', `${a}/`));
    const loaded = await readCredentials(credentialsFile);
    const cacheDir = join(dir, 'cache');
    await adminTokenSource({ loaded, url: api.url, cacheDir }).get();
    writeFileSync(tokenCacheFile(cacheDir, api.url, api.clientId, api.url), '{not json');
    const token = await adminTokenSource({ loaded, url: api.url, cacheDir }).get();
    expect(api.validTokens.has(token.access_token)).toBe(true);
    expect(api.tokenRequests).toHaveLength(2);
  });

  it('obtained from one server URL is never given out for another, even from a cache file under its name', async () => {
    const loaded = await readCredentials(credentialsFile);
    const cacheDir = join(dir, 'cache');
    const cached = await adminTokenSource({ loaded, url: api.url, cacheDir }).get();
    const other = await new FakeAdminApi().start();
    try {
      const elsewhere = await adminTokenSource({ loaded, url: other.url, cacheDir }).get().catch((e: unknown) => e);
      expect(elsewhere).toBeInstanceOf(AdminTokenError); // asked the other server, which does not know this client
      // a cache file copied over the other URL's name is not believed either: it names the URL it was obtained from
      const file = tokenCacheFile(cacheDir, api.url, api.clientId, api.url);
      expect(JSON.parse(readFileSync(file, 'utf8')).url).toBe(api.url);
      writeFileSync(tokenCacheFile(cacheDir, api.url, api.clientId, other.url), readFileSync(file));
      const copied = await adminTokenSource({ loaded, url: other.url, cacheDir }).get().catch((e: unknown) => e);
      expect(copied).toBeInstanceOf(AdminTokenError);
      expect(other.tokenRequests).toHaveLength(0);
    } finally {
      await other.stop();
    }
    expect((await adminTokenSource({ loaded, url: `${api.url}/`, cacheDir }).get()).access_token).toBe(cached.access_token);
  });

  it('lives under $XDG_CACHE_HOME/oidc-registrar, else ~/.cache/oidc-registrar', () => {
    expect(defaultTokenCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/oidc-registrar');
    expect(defaultTokenCacheDir({})).toMatch(/\/\.cache\/oidc-registrar$/);
  });

  it("refused: the server's error and description, never the assertion", async () => {
    const other = await new FakeAdminApi().start(); // another server does not know this client's key
    try {
      const loaded = await readCredentials(credentialsFile);
      const error = await adminTokenSource({ loaded, url: other.url }).get().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AdminTokenError);
      expect(error).toMatchObject({ status: 401, error: 'invalid_client', description: 'client authentication failed' });
      expect(String((error as Error).message)).not.toMatch(/eyJ/);
    } finally {
      await other.stop();
    }
  });
});

describe('the credentials file', () => {
  it.each([
    ['not JSON', 'nope', /is not JSON/],
    ['no issuer', JSON.stringify({ client_id: 'a', private_jwk: {} }), /issuer must be a non-empty string/],
    ['a relative issuer', JSON.stringify({ issuer: 'localhost', client_id: 'a', private_jwk: {} }), /issuer must be an absolute URL/],
    ['no client_id', JSON.stringify({ issuer: 'http://x', private_jwk: {} }), /client_id must be a non-empty string/],
    ['a public key', JSON.stringify({ issuer: 'http://x', client_id: 'a', private_jwk: { kty: 'EC', kid: 'k', alg: 'ES256' } }), /not a private key/],
    ['a key without kid', JSON.stringify({ issuer: 'http://x', client_id: 'a', private_jwk: { kty: 'EC', d: 'x', alg: 'ES256' } }), /private_jwk\.kid is missing/],
    ['a key that does not import', JSON.stringify({ issuer: 'http://x', client_id: 'a', private_jwk: { kty: 'EC', crv: 'P-256', d: 'AAAA', x: 'AAAA', y: 'AAAA', kid: 'k', alg: 'ES256' } }), /cannot be used with ES256/],
  ])('%s is refused, naming the file and the member', async (_name, text, message) => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, text);
    const error = await readCredentials(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialsError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message.startsWith(file)).toBe(true);
    expect((error as Error).message).not.toContain('AAAA');
  });

  it('a missing file says so', async () => {
    await expect(readCredentials(join(dir, 'absent.json'))).rejects.toThrow(/absent\.json: no such file/);
  });

  it('reads what admin bootstrap writes', async () => {
    const { credentials } = await readCredentials(credentialsFile);
    expect(credentials).toMatchObject({ issuer: api.url, client_id: api.clientId, private_jwk: { kid: 'admin-key-1', alg: 'ES256' } });
    expect(JSON.parse(readFileSync(credentialsFile, 'utf8')).private_jwk.d).toBeTypeOf('string');
  });
});

describe('the admin API over HTTP', () => {
  async function client() {
    const loaded = await readCredentials(credentialsFile);
    return new HttpAdminApi({ url: `${api.url}/`, tokens: adminTokenSource({ loaded, url: api.url }) });
  }

  it('sends the bearer token, JSON bodies, and PATCH as application/merge-patch+json', async () => {
    const admin = await client();
    const created = await admin.createClient({ client_name: 'A', redirect_uris: ['https://a.example/cb'] });
    await admin.patchClient(created.client_id, { client_name: 'B', scope: null });
    await admin.rotateSecret(created.client_id, 3600);
    await admin.disableClient(created.client_id);
    const sent = api.adminRequests().map((r) => ({ method: r.method, path: r.path, contentType: r.contentType, body: r.body }));
    expect(sent).toEqual([
      { method: 'POST', path: '/admin/clients', contentType: 'application/json', body: { client_name: 'A', redirect_uris: ['https://a.example/cb'] } },
      { method: 'PATCH', path: `/admin/clients/${created.client_id}`, contentType: 'application/merge-patch+json', body: { client_name: 'B', scope: null } },
      { method: 'POST', path: `/admin/clients/${created.client_id}/rotate-secret`, contentType: 'application/json', body: { grace_period: 3600 } },
      // no body, so no content type: an empty JSON body would be refused
      { method: 'POST', path: `/admin/clients/${created.client_id}/disable`, contentType: undefined, body: '' },
    ]);
    expect(api.adminRequests().every((r) => r.authorization === `Bearer ${[...api.validTokens].at(-1)}`)).toBe(true);
  });

  it('puts the list filters in the query', async () => {
    await (await client()).listClients({ limit: 5, q: 'rp', disabled: false, created_after: 1_700_000_000 });
    expect(Object.fromEntries(api.adminRequests()[0]!.query)).toEqual({ limit: '5', q: 'rp', disabled: 'false', created_after: '1700000000' });
  });

  it("turns a non-2xx answer into AdminApiError with the server's error and description", async () => {
    const error = await (await client()).getClient('no-such-client').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdminApiError);
    expect(error).toMatchObject({ status: 404, error: 'not_found', description: 'no client no-such-client' });
  });

  it('asks for a new token once when the server no longer accepts the one it has', async () => {
    const admin = await client();
    await admin.listKeys();
    api.validTokens.clear(); // revoked, say
    await expect(admin.listKeys()).resolves.toMatchObject({ keys: [{ kid: 'key-1' }] });
    expect(api.tokenRequests).toHaveLength(2);
  });

  it('an unreachable server is AdminUnreachableError naming the URL and the cause', async () => {
    const admin = new HttpAdminApi({ url: 'http://127.0.0.1:1', tokens: { get: async () => ({ access_token: 'x' }), renew: async () => ({ access_token: 'x' }) } });
    const error = await admin.listKeys().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdminUnreachableError);
    expect((error as Error).message).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:1 \(.+\)$/);
  });
});

describe('the server URL the admin token is sent to', () => {
  it.each(['https://registrar.example', 'https://10.0.0.1:8443/base', 'http://localhost:3000', 'http://127.0.0.1', 'http://127.255.0.9:1', 'http://127.1', 'http://[::1]:3000'])(
    '%s is accepted',
    (url) => expect(() => checkServerUrl(url, '--url')).not.toThrow(),
  );

  it.each(['http://registrar.example', 'http://10.0.0.1', 'http://0.0.0.0:3000', 'http://[::ffff:7f00:1]', 'http://localhost.example', 'http://128.0.0.1', 'ftp://localhost', 'localhost:3000'])(
    '%s is a usage error naming --url',
    (url) => {
      const error = (() => {
        try {
          checkServerUrl(url, '--url');
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(CliExit);
      expect(error).toMatchObject({ exitCode: 2, message: expect.stringMatching(/^--url must /) });
    },
  );
});
