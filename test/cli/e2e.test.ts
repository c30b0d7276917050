import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { freshDatabase, storageKind, TEST_SECRETS_KEY } from '../support/test-server.js';
import { runCli, type CliResult } from './support/run-cli.js';

/**
 * The CLI as a process against the real server: admin bootstrap on its database, then every
 * remote command through the admin API. Skipped until the server side of the admin API is in
 * this branch (src/admin/routes.ts); commands.test.ts covers the CLI against a stand-in meanwhile.
 */
const serverHasAdminApi = existsSync('src/admin/routes.ts');

const now = () => Math.floor(Date.now() / 1000);

async function tokenFor(url: string, clientId: string, secret: string): Promise<number> {
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  await response.body?.cancel();
  return response.status;
}

describe.skipIf(!serverHasAdminApi)(`oidc-registrar against the real server (${storageKind})`, () => {
  let dir: string;
  let serverEnv: Record<string, string>;
  let server: ServerProcess;
  let credentials: string;
  let bootstrap: CliResult;
  let drop = async (): Promise<void> => undefined;
  const cli = (args: string[], input?: string) =>
    runCli(args, {
      // DATA_DIR elsewhere: the credentials come from the variable, as an operator's would
      env: { OIDC_REGISTRAR_CREDENTIALS: credentials, XDG_CACHE_HOME: join(dir, 'cache'), DATA_DIR: join(dir, 'elsewhere') },
      ...(input !== undefined ? { input } : {}),
    });
  const json = async (args: string[], input?: string) => {
    const result = await cli([...args, '--json'], input);
    if (result.code !== 0) throw new Error(`${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'registrar-cli-e2e-'));
    const port = String(await freePort());
    serverEnv = { PORT: port, ISSUER: `http://127.0.0.1:${port}`, DATA_DIR: join(dir, 'data') };
    if (storageKind === 'postgres') {
      const database = await freshDatabase();
      await database.db.close();
      drop = database.drop;
      serverEnv = { ...serverEnv, DATABASE_URL: database.url!, SECRETS_KEY: TEST_SECRETS_KEY };
    }
    credentials = join(dir, 'admin.json');
    // on the database itself, before the server holds it (the embedded one allows one process)
    bootstrap = await runCli(['admin', 'bootstrap', '--out', credentials], { env: serverEnv });
    server = await startServerProcess(serverEnv);
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('admin bootstrap wrote a 0600 credentials file: issuer, client_id and a private JWK it does not print', () => {
    expect(bootstrap.stderr).toBe('');
    expect(bootstrap.code).toBe(0);
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    const file = JSON.parse(readFileSync(credentials, 'utf8'));
    expect(file).toMatchObject({ issuer: server.url, client_id: expect.any(String), private_jwk: { kid: expect.any(String), alg: expect.any(String), d: expect.any(String) } });
    expect(bootstrap.stdout).toBe(`wrote ${credentials} (mode 0600): admin client ${file.client_id} of ${server.url}\n`);
    expect(bootstrap.stdout).not.toContain(file.private_jwk.d);
  });

  it('token prints an admin access token for curl, and the same one again while it lasts', async () => {
    const first = await cli(['token']);
    expect(first.code).toBe(0);
    const token = first.stdout.trim();
    const listed = await fetch(`${server.url}/admin/clients`, { headers: { authorization: `Bearer ${token}` } });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toMatchObject({ clients: expect.any(Array) });
    expect((await cli(['token'])).stdout.trim()).toBe(token);
  });

  it('the one-liner: clients create --data my_client.json, whose --json output a script can use', async () => {
    const file = join(dir, 'my_client.json');
    writeFileSync(file, JSON.stringify({ client_name: 'From a file', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'profile' }));
    const created = await json(['clients', 'create', '--data', file]);
    expect(created).toMatchObject({ client_name: 'From a file', created_via: 'admin_api', client_id: expect.any(String), client_secret: expect.any(String) });
    expect(await tokenFor(server.url, created.client_id, created.client_secret)).toBe(200);
  });

  it('clients create from flags, and from standard input', async () => {
    const created = await json([
      'clients', 'create', '--name', 'From flags', '--redirect-uri', 'https://rp.example/cb', '--auth-method', 'client_secret_post',
      '--scope', 'openid profile', '--token-format', 'reference', '--expires-in', '1d',
    ]);
    expect(created).toMatchObject({ client_name: 'From flags', redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'client_secret_post', scope: 'openid profile', access_token_format: 'reference' });
    expect(Math.abs(created.expires_at - (now() + 86_400))).toBeLessThan(60);
    const piped = await json(['clients', 'create', '--data', '-'], '{"client_name":"From stdin","grant_types":["client_credentials"]}');
    expect(piped.client_name).toBe('From stdin');
  });

  it('clients list: a table, --json, a search', async () => {
    const table = await cli(['clients', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^CLIENT ID +NAME +AUTH METHOD +STATE +CREATED +LAST USED$/);
    expect(table.stdout).toContain('From flags');
    const all = await json(['clients', 'list', '--all']);
    expect(all.clients.map((c: { client_name?: string }) => c.client_name)).toEqual(expect.arrayContaining(['From a file', 'From flags', 'From stdin']));
    const found = await json(['clients', 'list', '--query', 'from FLAGS']);
    expect(found.clients.map((c: { client_name?: string }) => c.client_name)).toEqual(['From flags']);
  });

  it('clients get, patch and update', async () => {
    const created = await json(['clients', 'create', '--name', 'Changing', '--grant-type', 'client_credentials']);
    const got = await json(['clients', 'get', created.client_id]);
    expect(got).toMatchObject({ client_id: created.client_id, client_name: 'Changing', has_client_secret: true });
    expect(got).not.toHaveProperty('client_secret');
    expect((await cli(['clients', 'get', created.client_id])).stdout).toMatch(new RegExp(`^client_id +${created.client_id}\\nclient_name +Changing\\n`));
    expect((await json(['clients', 'patch', created.client_id, '--name', 'Patched'])).client_name).toBe('Patched');
    const replaced = await json(['clients', 'update', created.client_id, '--yes', '--data', '-'], JSON.stringify({ client_name: 'Replaced', grant_types: ['client_credentials'], access_token_format: 'reference' }));
    expect(replaced).toMatchObject({ client_name: 'Replaced', access_token_format: 'reference' });
  });

  it('disable and enable: a disabled client gets no tokens', async () => {
    const created = await json(['clients', 'create', '--name', 'Switch', '--grant-type', 'client_credentials']);
    expect(await tokenFor(server.url, created.client_id, created.client_secret)).toBe(200);
    expect((await json(['clients', 'disable', created.client_id, '--yes'])).disabled).toBe(true);
    expect(await tokenFor(server.url, created.client_id, created.client_secret)).toBe(401);
    expect((await json(['clients', 'enable', created.client_id])).disabled).toBe(false);
    expect(await tokenFor(server.url, created.client_id, created.client_secret)).toBe(200);
  });

  it('rotate-secret and rotate-token: the new ones work, the old ones do not', async () => {
    const created = await json(['clients', 'create', '--name', 'Rotating', '--grant-type', 'client_credentials']);
    const rotated = await json(['clients', 'rotate-secret', created.client_id, '--yes']);
    expect(rotated.client_secret).not.toBe(created.client_secret);
    expect(await tokenFor(server.url, created.client_id, rotated.client_secret)).toBe(200);
    expect(await tokenFor(server.url, created.client_id, created.client_secret)).toBe(401);

    const renewed = await json(['clients', 'rotate-token', created.client_id, '--yes']);
    const read = (token: string) => fetch(created.registration_client_uri, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await read(renewed.registration_access_token)).toBe(200);
    expect(await read(created.registration_access_token)).toBe(401);
  });

  it('clients delete --yes; the client is gone (exit 1 with the server\'s description)', async () => {
    const created = await json(['clients', 'create', '--name', 'Doomed', '--grant-type', 'client_credentials']);
    expect(await cli(['clients', 'delete', created.client_id])).toMatchObject({ code: 2 }); // no terminal, no --yes
    expect(await cli(['clients', 'delete', created.client_id, '--yes'])).toMatchObject({ code: 0, stdout: `deleted ${created.client_id}\n` });
    const gone = await cli(['clients', 'get', created.client_id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^oidc-registrar: .+ \(not_found, HTTP 404\)\n$/);
  });

  it("a refused request exits 1 with the server's error_description", async () => {
    const result = await cli(['clients', 'create', '--redirect-uri', 'http://rp.example/cb']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^oidc-registrar: redirect_uris\[0\] .+ \(invalid_redirect_uri, HTTP 400\)\n$/);
  });

  it('keys list and keys rotate: the new key is published at once and pending', async () => {
    const before = await json(['keys', 'list']);
    expect(before.keys.some((k: { state: string }) => k.state === 'active')).toBe(true);
    const both = await json(['keys', 'rotate']);
    expect(both.keys.map((k: { alg: string; state: string }) => [k.alg, k.state])).toEqual([['ES256', 'pending'], ['RS256', 'pending']]);
    const { keys: [added] } = await json(['keys', 'rotate', '--alg', 'RS256']);
    expect(added).toMatchObject({ state: 'pending', alg: 'RS256' });
    const after = await json(['keys', 'list']);
    expect(after.keys).toContainEqual(expect.objectContaining({ kid: added.kid, state: 'pending' }));
    const published = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(published.keys.map((k) => k.kid)).toContain(added.kid);
    expect((await cli(['keys', 'list'])).stdout).toMatch(new RegExp(`^${added.kid} +RS256 +pending `, 'm'));
  });

  it('policies create/get/list/set-default/clear-default and iat create --max-uses 5 --expires-in 7d --policy partner-a, list, revoke', async () => {
    const policy = await json(['policies', 'create', 'partner-a', '--redirect-host', '*.partner-a.example', '--no-loopback', '--grant-type', 'authorization_code', '--max-clients-per-token', '5', '--description', 'Partner A']);
    expect(policy).toMatchObject({ name: 'partner-a', description: 'Partner A', rules: { redirect_uri_hosts: ['*.partner-a.example'], allow_loopback_redirects: false, grant_types: ['authorization_code'], max_clients_per_token: 5 } });
    expect((await cli(['policies', 'get', 'partner-a'])).stdout).toMatch(/^name +partner-a\n/);
    expect((await cli(['policies', 'list'])).stdout).toMatch(/^partner-a +(\S+, ){3}\S+ +\d{4}-/m);
    expect((await json(['policies', 'set-default', 'partner-a'])).is_default).toBe(true);
    expect((await cli(['policies', 'clear-default'])).stdout).toBe('no default policy\n');
    const refused = await cli(['policies', 'create', 'bad', '--file', '-'], '{"rules":{"max_client":1}}');
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringMatching(/unknown policy rule max_client .*\(invalid_request, HTTP 400\)/)]);

    // the exact command of the issue; the token is printed once
    const text = await cli(['iat', 'create', '--max-uses', '5', '--expires-in', '7d', '--policy', 'partner-a', '--description', 'partner A onboarding']);
    expect(text.code).toBe(0);
    const token = /^token +(\S+)$/m.exec(text.stdout)?.[1];
    const id = /^created (\S+)$/m.exec(text.stdout)?.[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(text.stdout).toMatch(/shown once/);
    const register = (metadata: unknown) =>
      fetch(`${server.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(metadata) });
    expect((await register({ redirect_uris: ['https://app.partner-a.example/cb'] })).status).toBe(201);
    expect((await register({ redirect_uris: ['https://elsewhere.example/cb'] })).status).toBe(400);

    const listed = await json(['iat', 'list']);
    expect(listed.initial_access_tokens).toContainEqual(expect.objectContaining({ id, uses: 1, uses_left: 4, max_uses: 5, policy: 'partner-a' }));
    expect(JSON.stringify(listed)).not.toContain(token);
    expect((await cli(['iat', 'list'])).stdout).toMatch(new RegExp(`^${id} +active +1/5 +4 +partner-a `, 'm'));
    expect(Math.abs((await json(['iat', 'get', id!])).expires_at - (now() + 7 * 86_400))).toBeLessThan(60);
    expect(await cli(['iat', 'revoke', id!, '--yes'])).toMatchObject({ code: 0, stdout: `revoked ${id}\n` });
    expect((await register({ redirect_uris: ['https://app.partner-a.example/cb'] })).status).toBe(401);
    expect((await json(['iat', 'get', id!])).state).toBe('revoked');
    const createdJson = await json(['iat', 'create']);
    expect(createdJson).toMatchObject({ token: expect.any(String), max_uses: null, uses_left: null, policy: null });
  });

  it('users create --password-stdin, list, get, update, disable, set-password, delete --yes; the password is never printed', async () => {
    const password = 'alice-cli-password';
    const created = await json(['users', 'create', '--username', 'alice', '--email', 'alice@example.com', '--email-verified', '--name', 'Alice Liddell', '--claim', 'locale=en-GB', '--password-stdin'], `${password}\n`);
    expect(created).toMatchObject({ username: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell', locale: 'en-GB', disabled: false });
    expect(JSON.stringify(created)).not.toContain(password);
    // no terminal and no --password-stdin: refused, nothing created
    const noPassword = await cli(['users', 'create', '--username', 'bob']);
    expect([noPassword.code, noPassword.stderr]).toEqual([2, expect.stringContaining('--password-stdin')]);
    const taken = await cli(['users', 'create', '--username', 'ALICE', '--password-stdin'], 'another-password');
    expect([taken.code, taken.stderr]).toEqual([1, expect.stringContaining('(conflict, HTTP 409)')]);

    const table = await cli(['users', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+USERNAME\s+EMAIL\s+NAME\s+STATUS\s+CREATED$/m);
    expect(table.stdout).toMatch(new RegExp(`^${created.id}\\s+alice\\s+alice@example.com\\s+Alice Liddell\\s+enabled`, 'm'));
    expect((await json(['users', 'get', 'Alice'])).id).toBe(created.id);
    const updated = await json(['users', 'update', 'alice', '--claim', 'nickname=Al', '--unset', 'locale']);
    expect(updated).toMatchObject({ nickname: 'Al' });
    expect(updated).not.toHaveProperty('locale');

    expect((await cli(['users', 'disable', 'alice'])).stdout).toBe('disabled alice\n');
    expect((await json(['users', 'list', '--disabled'])).users.map((u: { username: string }) => u.username)).toEqual(['alice']);
    expect((await cli(['users', 'enable', created.id])).stdout).toBe('enabled alice\n');
    const set = await cli(['users', 'set-password', 'alice', '--password-stdin'], 'alice-new-password\n');
    expect([set.code, set.stdout]).toEqual([0, 'password set for alice\n']);
    const short = await cli(['users', 'set-password', 'alice', '--password-stdin'], 'short');
    expect([short.code, short.stderr]).toEqual([1, expect.stringContaining('password must be 8 to 1024 characters long')]);

    const unconfirmed = await cli(['users', 'delete', 'alice']);
    expect([unconfirmed.code, unconfirmed.stderr]).toEqual([2, expect.stringContaining('pass --yes')]);
    expect((await cli(['users', 'delete', 'alice', '--yes'])).stdout).toBe('deleted alice\n');
    const gone = await cli(['users', 'get', created.id]);
    expect([gone.code, gone.stderr]).toEqual([1, expect.stringContaining('(not_found, HTTP 404)')]);
    // some twenty processes, each starting node
  }, 120_000);

  it('credentials with a key the server does not know: exit 1, cannot obtain an admin token', async () => {
    const file = JSON.parse(readFileSync(credentials, 'utf8'));
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const forged = join(dir, 'forged.json');
    writeFileSync(forged, JSON.stringify({ ...file, private_jwk: { ...(await exportJWK(privateKey)), kid: file.private_jwk.kid, alg: 'ES256' } }), { mode: 0o600 });
    const result = await runCli(['clients', 'list', '--credentials', forged], { env: { XDG_CACHE_HOME: join(dir, 'forged-cache') } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^oidc-registrar: cannot obtain an admin token: .+ \(invalid_client\)\n$/);
  });
});

describe.skipIf(!serverHasAdminApi || storageKind !== 'embedded')('an embedded server writes DATA_DIR/admin-credentials.json, the default of a checkout', () => {
  it('the first start writes it (0600); commands find it and the server from DATA_DIR alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registrar-cli-embedded-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    const server = await startServerProcess({ DATA_DIR: dataDir });
    try {
      const file = join(dataDir, 'admin-credentials.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8')).issuer).toBe(server.url);
      const listed = await runCli(['clients', 'list', '--json'], { env: { DATA_DIR: dataDir, XDG_CACHE_HOME: join(dir, 'cache') } });
      expect(listed.stderr).toBe('');
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout)).toMatchObject({ clients: expect.any(Array) });
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
