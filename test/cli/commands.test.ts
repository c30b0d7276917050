import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeAdminApi } from './support/fake-admin-api.js';
import { CLI, runCli } from './support/run-cli.js';

/**
 * The CLI as a process against a stand-in admin API: what it sends, what it prints, how it
 * exits. test/cli/e2e.test.ts runs the same commands against the real server.
 */
let api: FakeAdminApi;
let dir: string;
let credentials: string;
let env: Record<string, string>;

beforeAll(async () => {
  api = await new FakeAdminApi().start();
});
afterAll(() => api.stop());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registrar-cli-'));
  credentials = api.writeCredentials(dir);
  env = { DATA_DIR: join(dir, 'no-data'), XDG_CACHE_HOME: join(dir, 'cache'), OIDC_REGISTRAR_CREDENTIALS: credentials };
  api.requests.length = 0;
  api.tokenRequests.length = 0;
  api.clients.clear();
  return () => rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) => runCli(args, { env: { ...env, ...options.env }, ...(options.input !== undefined ? { input: options.input } : {}) });
const bodyOf = (method: string, path: string) => api.adminRequests().find((r) => r.method === method && r.path === path)?.body;

describe('token', () => {
  it('prints an admin access token, cached in a 0600 file and reused by the next call', async () => {
    const first = await cli(['token']);
    expect(first.code).toBe(0);
    const token = first.stdout.trim();
    expect(api.validTokens.has(token)).toBe(true);
    expect(first.stdout).toBe(`${token}\n`); // only the token: $(oidc-registrar token) is the whole header value
    expect((await cli(['token'])).stdout.trim()).toBe(token);
    expect(api.tokenRequests).toHaveLength(1);
    const cacheDir = join(dir, 'cache', 'oidc-registrar');
    const [file] = readdirSync(cacheDir);
    expect(statSync(join(cacheDir, file!)).mode & 0o777).toBe(0o600);
    expect((await cli(['token', '--renew'])).stdout.trim()).not.toBe(token);
  });

  it('--json gives the token with its type, remaining lifetime and scope', async () => {
    const result = await cli(['token', '--json']);
    expect(JSON.parse(result.stdout)).toMatchObject({ token_type: 'Bearer', scope: 'admin:read admin:write', access_token: expect.any(String), expires_in: expect.any(Number) });
  });

  it("is refused with the server's description, exit 1, and nothing of the assertion", async () => {
    const other = await new FakeAdminApi().start();
    try {
      const result = await cli(['token', '--url', other.url]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('oidc-registrar: cannot obtain an admin token: client authentication failed (invalid_client)\n');
      expect(result.stdout).toBe('');
    } finally {
      await other.stop();
    }
  });
});

describe('clients create: the one-liner', () => {
  const file = () => {
    const path = join(dir, 'my_client.json');
    writeFileSync(path, JSON.stringify({ client_name: 'My RP', redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'client_secret_basic' }));
    return path;
  };

  it('oidc-registrar clients create --data my_client.json', async () => {
    const result = await cli(['clients', 'create', '--data', file()]);
    expect(result.code).toBe(0);
    expect(bodyOf('POST', '/admin/clients')).toEqual({ client_name: 'My RP', redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'client_secret_basic' });
    const [created] = api.clients.values();
    expect(result.stdout).toMatch(new RegExp(`^created ${created!.client_id}\\n`));
    expect(result.stdout).toMatch(/^client_secret +secret-/m);
    expect(result.stdout).toContain('shown once');
  });

  it('--json holds client_id and client_secret for a script', async () => {
    const result = await cli(['clients', 'create', '--data', file(), '--json']);
    const created = JSON.parse(result.stdout);
    expect(created.client_id).toBe([...api.clients.keys()][0]);
    expect(created.client_secret).toBe(`secret-${created.client_id}`);
    expect(created.registration_access_token).toBe(`rat-${created.client_id}`);
  });

  it('--data - reads standard input', async () => {
    const result = await cli(['clients', 'create', '--data', '-', '--json'], { input: '{"client_name":"from stdin","grant_types":["client_credentials"]}' });
    expect(result.code).toBe(0);
    expect(bodyOf('POST', '/admin/clients')).toEqual({ client_name: 'from stdin', grant_types: ['client_credentials'] });
  });

  it('flags build the same request without a file', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await cli([
      'clients', 'create', '--name', 'My RP', '--redirect-uri', 'https://rp.example/cb', '--redirect-uri', 'https://rp.example/cb2',
      '--auth-method', 'client_secret_post', '--grant-type', 'authorization_code', '--grant-type', 'client_credentials',
      '--scope', 'openid profile', '--token-format', 'reference', '--token-lifetime', '10m', '--expires-in', '30d', '--json',
    ]);
    expect(result.code).toBe(0);
    const body = bodyOf('POST', '/admin/clients') as Record<string, unknown>;
    expect(body).toEqual({
      client_name: 'My RP',
      redirect_uris: ['https://rp.example/cb', 'https://rp.example/cb2'],
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['authorization_code', 'client_credentials'],
      scope: 'openid profile',
      access_token_format: 'reference',
      access_token_lifetime: 600,
      expires_at: expect.any(Number),
    });
    expect(body.expires_at as number).toBeGreaterThanOrEqual(before + 30 * 86_400);
    expect(body.expires_at as number).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 30 * 86_400);
    expect(JSON.parse(result.stdout).client_secret).toEqual(expect.any(String));
  });

  it('flags override the fields of the file', async () => {
    await cli(['clients', 'create', '--data', file(), '--name', 'Renamed']);
    expect(bodyOf('POST', '/admin/clients')).toMatchObject({ client_name: 'Renamed', redirect_uris: ['https://rp.example/cb'] });
  });

  it("a refusal prints the server's error_description and exits 1", async () => {
    const result = await cli(['clients', 'create', '--redirect-uri', 'http://rp.example/cb']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('oidc-registrar: redirect_uris[0] may use http only on a loopback host (localhost, 127.0.0.1, [::1]) (invalid_redirect_uri, HTTP 400)\n');
    expect(result.stdout).toBe('');
  });

  it.each([
    ['a missing file', ['--data', 'absent.json'], /--data absent\.json: no such file/],
    ['a file that is not JSON', ['--data', '-'], /--data standard input: not valid JSON/],
  ])('%s exits 1 before anything is sent', async (_name, args, message) => {
    const result = await cli(['clients', 'create', ...args], { input: 'client_name=x' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(api.requests).toHaveLength(0);
  });

  it.each([
    // JSON.parse quotes the input itself in some messages: `Unexpected token 'c', "client_sec"... is not valid JSON`
    ['an unexpected token', 'client_secret=s3cr3t-value', ''],
    ['a bad member, with where it is', '{"client_secret": "s3cr3t-value" "x": 1}', ' (line 1, column 34)'],
    ['a trailing comma, on its line', '{\n  "client_secret": "s3cr3t-value",\n}', ' (line 3, column 1)'],
    ['an unfinished object', '{"client_secret": "s3cr3t-value"', ' (line 1, column 33)'],
  ])('a --data file that is not JSON: %s is said without a word of its content', async (_name, input, where) => {
    const file = join(dir, 'client.json');
    writeFileSync(file, input);
    for (const [source, name, options] of [
      [file, file, {}],
      ['-', 'standard input', { input }],
    ] as const) {
      const result = await cli(['clients', 'create', '--data', source], options);
      expect(result).toMatchObject({ code: 1, stdout: '', stderr: `oidc-registrar: --data ${name}: not valid JSON${where}\n` });
      expect(result.stderr).not.toContain('s3cr3t');
    }
    expect(api.requests).toHaveLength(0);
  });
});

describe('clients: list, get, update, patch, disable, enable, rotate, delete', () => {
  it('list: a table by default, newest first', async () => {
    api.addClient({ client_name: 'Old RP' });
    const newer = api.addClient({ client_name: 'New RP', disabled: true });
    const result = await cli(['clients', 'list']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CLIENT ID +NAME +AUTH METHOD +STATE +CREATED +LAST USED$/);
    expect(lines[1]).toMatch(new RegExp(`^${newer.client_id} +New RP +client_secret_basic +disabled `));
    expect(lines[2]).toContain('Old RP');
  });

  it('list --json: the page as the API gives it; filters go in the query', async () => {
    const client = api.addClient({ client_name: 'RP' });
    const result = await cli(['clients', 'list', '--json', '--query', 'rp', '--no-disabled', '--auth-method', 'private_key_jwt', '--created-after', '2024-01-01', '--limit', '10']);
    expect(JSON.parse(result.stdout)).toEqual({ clients: [expect.objectContaining({ client_id: client.client_id })], next_cursor: null });
    expect(Object.fromEntries(api.adminRequests()[0]!.query)).toEqual({ q: 'rp', disabled: 'false', auth_method: 'private_key_jwt', created_after: '1704067200', limit: '10' });
  });

  it('list shows where the next page starts; --all follows every cursor', async () => {
    for (let i = 0; i < 5; i++) api.addClient({ client_name: `RP ${i}` });
    const page = await cli(['clients', 'list', '--limit', '2']);
    expect(page.stdout).toMatch(/\nmore: --cursor 2 \(or --all\)\n$/);
    const all = JSON.parse((await cli(['clients', 'list', '--limit', '2', '--all', '--json'])).stdout);
    expect(all.clients).toHaveLength(5);
    expect(all.next_cursor).toBeNull();
  });

  it('get: the client field by field; --json parses; an unknown id exits 1 with the description', async () => {
    const client = api.addClient({ client_name: 'RP', redirect_uris: ['https://a.example/cb'] });
    const text = await cli(['clients', 'get', client.client_id]);
    expect(text.stdout).toMatch(new RegExp(`^client_id +${client.client_id}\\nclient_name +RP\\n`));
    expect(text.stdout).toMatch(/^redirect_uris +https:\/\/a\.example\/cb$/m);
    expect(JSON.parse((await cli(['clients', 'get', client.client_id, '--json'])).stdout)).toEqual(client);
    const missing = await cli(['clients', 'get', 'nope']);
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: 'oidc-registrar: no client nope (not_found, HTTP 404)\n' });
  });

  it('update replaces (PUT) with --yes; patch sends a merge patch', async () => {
    const client = api.addClient({ client_name: 'RP' });
    const update = await cli(['clients', 'update', client.client_id, '--name', 'Replaced', '--redirect-uri', 'https://b.example/cb', '--yes', '--json']);
    expect(update.code).toBe(0);
    expect(bodyOf('PUT', `/admin/clients/${client.client_id}`)).toEqual({ client_name: 'Replaced', redirect_uris: ['https://b.example/cb'] });
    const patch = await cli(['clients', 'patch', client.client_id, '--data', '-'], { input: '{"client_name":"Patched","redirect_uris":null}' });
    expect(patch.code).toBe(0);
    const sent = api.adminRequests().find((r) => r.method === 'PATCH')!;
    expect(sent.contentType).toBe('application/merge-patch+json');
    expect(sent.body).toEqual({ client_name: 'Patched', redirect_uris: null });
    expect(patch.stdout).toMatch(/^client_name +Patched$/m);
  });

  it('disable, enable, rotate-secret (with a grace period) and rotate-token', async () => {
    const client = api.addClient();
    const id = client.client_id;
    expect(await cli(['clients', 'disable', id, '--yes'])).toMatchObject({ code: 0, stdout: `disabled ${id}\n` });
    expect(api.clients.get(id)!.disabled).toBe(true);
    expect(await cli(['clients', 'enable', id])).toMatchObject({ code: 0, stdout: `enabled ${id}\n` });
    expect(api.clients.get(id)!.disabled).toBe(false);

    const secret = JSON.parse((await cli(['clients', 'rotate-secret', id, '--grace-period', '1h', '--yes', '--json'])).stdout);
    expect(secret.client_secret).toMatch(/^secret-/);
    expect(bodyOf('POST', `/admin/clients/${id}/rotate-secret`)).toEqual({ grace_period: 3600 });
    const text = await cli(['clients', 'rotate-secret', id, '-y']);
    expect(text.stdout).toMatch(/^client_secret +secret-/m);

    const token = JSON.parse((await cli(['clients', 'rotate-token', id, '--yes', '--json'])).stdout);
    expect(token.registration_access_token).toMatch(/^rat-/);
  });

  it('delete: refused off a terminal without --yes (exit 2, nothing sent), done with it', async () => {
    const client = api.addClient();
    const refused = await cli(['clients', 'delete', client.client_id]);
    expect(refused.code).toBe(2);
    expect(api.requests).toHaveLength(0);
    const deleted = await cli(['clients', 'delete', client.client_id, '--yes']);
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted ${client.client_id}\n` });
    expect(api.clients.has(client.client_id)).toBe(false);
    expect((await cli(['clients', 'delete', client.client_id, '--yes'])).code).toBe(1); // gone: 404
    const other = api.addClient();
    expect(JSON.parse((await cli(['clients', 'delete', other.client_id, '--yes', '--json'])).stdout)).toEqual({ client_id: other.client_id, deleted: true });
  });
});

/** util-linux `script` gives the command a terminal; the answer is typed on it. */
const SCRIPT = '/usr/bin/script';

describe.runIf(existsSync(SCRIPT))('confirmation on a terminal', () => {
  async function onTerminal(args: string[], answer: string): Promise<{ code: number | null; output: string }> {
    const command = [process.execPath, CLI, ...args].map((word) => `'${word}'`).join(' ');
    const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('[y/N]')) child.stdin.end(`${answer}\n`);
    });
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
  }

  it('asks before deleting: "n" cancels (exit 1, nothing sent), "y" deletes', async () => {
    const client = api.addClient();
    const no = await onTerminal(['clients', 'delete', client.client_id], 'n');
    expect(no.output).toContain(`Delete client ${client.client_id}? [y/N]`);
    expect(no.output).toContain('oidc-registrar: cancelled');
    expect(no.code).toBe(1);
    expect(api.requests).toHaveLength(0);
    const yes = await onTerminal(['clients', 'delete', client.client_id], 'y');
    expect(yes.code).toBe(0);
    expect(api.clients.has(client.client_id)).toBe(false);
  });
});

describe('keys', () => {
  it('list: a table; --json; rotate: the new key', async () => {
    const list = await cli(['keys', 'list']);
    expect(list.stdout).toMatch(/^KID +ALG +STATE +CREATED +ACTIVATES\nkey-1 +ES256 +active +2023-11-14 22:13:20Z +2023-11-14 22:13:20Z\n$/);
    const rotated = await cli(['keys', 'rotate']);
    expect(rotated.stdout).toMatch(/^added key-2 \(ES256\): published now, signs from \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n$/);
    expect(JSON.parse((await cli(['keys', 'list', '--json'])).stdout).keys.map((k: { state: string }) => k.state)).toEqual(['active', 'pending']);
    const one = await cli(['keys', 'rotate', '--alg', 'RS256']);
    expect(one.stdout).toMatch(/^added key-3 \(RS256\): published now/);
    expect(api.adminRequests().at(-1)).toMatchObject({ method: 'POST', path: '/admin/keys/rotate', body: { alg: 'RS256' } });
  });
});

describe('where the server and the credentials come from', () => {
  it('by default: DATA_DIR/admin-credentials.json and the issuer it names', async () => {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    api.writeCredentials(dataDir);
    const result = await runCli(['keys', 'list', '--json'], { env: { DATA_DIR: dataDir, XDG_CACHE_HOME: join(dir, 'cache') } });
    expect(result.code).toBe(0);
    expect(api.tokenRequests).toHaveLength(1);
  });

  it('./data/admin-credentials.json when DATA_DIR is unset (a checkout running the embedded server)', async () => {
    const checkout = mkdtempSync(join(tmpdir(), 'registrar-checkout-'));
    try {
      mkdirSync(join(checkout, 'data'));
      api.writeCredentials(join(checkout, 'data'));
      const result = await runCli(['keys', 'list'], { env: { XDG_CACHE_HOME: join(dir, 'cache') }, cwd: checkout });
      expect(result.code).toBe(0);
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  });

  it('--url and OIDC_REGISTRAR_URL override the issuer; --credentials overrides the variable', async () => {
    const unreachable = await cli(['keys', 'list'], { env: { OIDC_REGISTRAR_URL: 'http://127.0.0.1:9' } });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^oidc-registrar: cannot reach http:\/\/127\.0\.0\.1:9 \(.+\)\n$/);
    expect((await cli(['keys', 'list', '--url', api.url], { env: { OIDC_REGISTRAR_URL: 'http://127.0.0.1:9' } })).code).toBe(0);
    const wrong = await cli(['keys', 'list', '--credentials', join(dir, 'absent.json')]);
    expect(wrong).toMatchObject({ code: 1, stderr: `oidc-registrar: ${join(dir, 'absent.json')}: no such file\n` });
  });

  it.each([
    ['--url', ['--url', 'http://registrar.example'], {}],
    ['OIDC_REGISTRAR_URL', [], { OIDC_REGISTRAR_URL: 'http://10.0.0.1:8080' }],
    // 0.0.0.0 reaches this machine, but it is no loopback address
    ['--url to 0.0.0.0', ['--url', 'http://0.0.0.0:1'], {}],
    ['--url to a name that merely starts like a loopback one', ['--url', 'http://127.0.0.1.example'], {}],
    ['--url to a name ending in localhost', ['--url', 'http://evil-localhost:1'], {}],
  ])('plain http off loopback is refused before anything is sent: %s', async (_name, args, extraEnv) => {
    const result = await cli(['keys', 'list', ...args], { env: extraEnv });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^oidc-registrar: --url must use https unless its host is loopback \(localhost, 127\.0\.0\.0\/8, \[::1\]\): http:\/\/\S+ would carry the admin token in clear\n$/);
    expect(result.stdout).toBe('');
    expect(api.requests).toHaveLength(0);
  });

  it("plain http off loopback is refused when it comes from the credentials' issuer too", async () => {
    const file = join(dir, 'remote-credentials.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(credentials, 'utf8')), issuer: 'http://registrar.example' }), { mode: 0o600 });
    const result = await cli(['keys', 'list', '--credentials', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--url must use https unless its host is loopback (localhost, 127.0.0.0/8, [::1]): http://registrar.example (the issuer in ${file}, used when no --url is given) would carry the admin token in clear`);
  });

  it.each(['http://localhost:9', 'http://127.1.2.3:9', 'http://[::1]:9'])('plain http to loopback is allowed: %s', async (url) => {
    const result = await cli(['keys', 'list', '--url', url]);
    expect(result.code).toBe(1); // nothing listens there: refused as unreachable, not as a usage error
    expect(result.stderr).toMatch(/^oidc-registrar: cannot reach /);
  });

  it('a token cached for one server is never presented to another that --url points at', async () => {
    const token = (await cli(['token'])).stdout.trim();
    expect(api.validTokens.has(token)).toBe(true);
    const other = await new FakeAdminApi().start(); // another server, say one a mistyped --url reaches
    try {
      const result = await cli(['keys', 'list', '--url', other.url]);
      expect(other.requests.map((r) => r.authorization)).not.toContain(`Bearer ${token}`);
      // it asks the other server for a token of its own, which that server refuses
      expect(other.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /token']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('client authentication failed (invalid_client)');
    } finally {
      await other.stop();
    }
    // the first server's token is still cached for it
    expect((await cli(['token'])).stdout.trim()).toBe(token);
    expect(api.tokenRequests).toHaveLength(1);
  });

  it('warns about a credentials file others can read', async () => {
    chmodSync(credentials, 0o644);
    const result = await cli(['keys', 'list']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('is readable by other users; chmod 600 it');
  });

  it('a cached token the server stopped accepting is replaced, once, without the operator noticing', async () => {
    await cli(['token']);
    api.validTokens.clear();
    const result = await cli(['keys', 'list']);
    expect(result.code).toBe(0);
    expect(api.tokenRequests).toHaveLength(2);
  });
});
