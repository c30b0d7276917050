import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { storageKind } from '../support/test-server.js';
import { freePort, runServer, serverProcessEnvironment, startServerProcess, temporaryDataDir } from '../support/server-process.js';

const rp = { redirect_uris: ['https://rp.example/cb'], client_name: 'restart' };

describe(`the server process (${storageKind})`, () => {
  let env: Record<string, string>;
  let remove: () => Promise<void>;
  let dataDir: string;

  beforeAll(async () => {
    ({ env, dataDir, remove } = await serverProcessEnvironment());
  });
  afterAll(async () => remove());

  it('keeps clients across a stop and a start, and exits 0 on SIGTERM', async () => {
    const first = await startServerProcess(env);
    const created = await fetch(`${first.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rp) });
    expect(created.status).toBe(201);
    const client = (await created.json()) as Record<string, string>;
    expect(await first.stop()).toBe(0);

    const second = await startServerProcess({ ...env, PORT: new URL(first.url).port });
    try {
      const read = await fetch(`${second.url}/register/${client.client_id}`, { headers: { authorization: `Bearer ${client.registration_access_token}` } });
      expect(read.status).toBe(200);
      const body = (await read.json()) as Record<string, string>;
      expect(body.client_name).toBe('restart');
      expect(body.client_secret).toBe(client.client_secret); // decrypts with the same key after restart
    } finally {
      expect(await second.stop()).toBe(0);
    }
    const logs = first.output() + second.output();
    expect(logs).not.toContain(client.client_secret);
    expect(logs).not.toContain(client.registration_access_token);
  });

  it('logs one start-up line with issuer, address, storage and registration mode, and one line per request', async () => {
    const server = await startServerProcess(env);
    await server.stop();
    const lines = server.output().split('\n');
    const startLines = lines.filter((l) => l.includes('oidc-registrar listening'));
    expect(startLines).toHaveLength(1);
    const line = startLines[0];
    // startServerProcess polled /readyz until it answered: one completed line per poll, no "incoming" lines
    expect(lines.filter((l) => l.includes('"path":"/readyz"')).length).toBeGreaterThanOrEqual(1);
    expect(lines.filter((l) => l.includes('incoming request'))).toEqual([]);
    const record = JSON.parse(line!);
    expect(record.issuer).toBe(server.url);
    expect(record.address).toBe(server.url);
    expect(record.storage).toMatch(storageKind === 'postgres' ? /^postgresql$/ : /^embedded/);
    expect(record.registration).toBe('open');
  });

  it('lets handlers of clients that hung up finish before closing the database', async () => {
    const server = await startServerProcess(env);
    const created = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_jwt' }),
    });
    const client = (await created.json()) as Record<string, string>;
    // token requests take two queries (the client, then the assertion id): a database closed
    // between them is what this guards against
    const forms = await Promise.all(
      Array.from({ length: 80 }, async (_, i) => {
        const jwt = await new SignJWT({ jti: `hangup-${i}` })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(client.client_id!)
          .setSubject(client.client_id!)
          .setAudience(server.url)
          .setExpirationTime('1m')
          .sign(new TextEncoder().encode(client.client_secret!));
        return new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt }).toString();
      }),
    );
    const { connect } = await import('node:net');
    const port = Number(new URL(server.url).port);
    // requests whose clients vanish the moment they are sent: their handlers run on regardless
    await Promise.all(
      forms.map(
        (form) =>
          new Promise<void>((resolve) => {
            const socket = connect(port, '127.0.0.1', () => {
              socket.write(`POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n${form}`, () => {
                socket.destroy();
                resolve();
              });
            });
            socket.on('error', () => resolve());
          }),
      ),
    );
    expect(await server.stop()).toBe(0);
    const errors = server.output().split('\n').filter((line) => line.includes('"level":50'));
    expect(errors).toEqual([]);
    expect(server.output()).toContain('access token issued'); // the handlers did run
  });

  it.runIf(storageKind === 'embedded')(
    'says what a first start does: creating the database, and where the generated secrets key went (never the key)',
    async () => {
      const freshDir = mkdtempSync(join(tmpdir(), 'registrar-first-'));
      try {
        const first = await startServerProcess({ DATA_DIR: freshDir });
        expect(await first.stop()).toBe(0);
        const records = first
          .output()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        const messages = records.map((record) => String(record.msg));
        const creating = messages.findIndex((m) => m.startsWith(`creating the embedded database in ${freshDir} (first start`));
        const created = messages.indexOf('embedded database created');
        expect(creating).toBeGreaterThanOrEqual(0);
        expect(created).toBeGreaterThan(creating);
        expect(messages.indexOf('oidc-registrar listening')).toBeGreaterThan(created);
        const keyFile = join(freshDir, 'secrets.key');
        const keyNotice = records.find((record) => record.file === keyFile);
        expect(keyNotice?.msg).toMatch(/back it up with the data/);
        expect(first.output()).not.toContain(readFileSync(keyFile, 'utf8').trim());

        const second = await startServerProcess({ DATA_DIR: freshDir });
        expect(await second.stop()).toBe(0);
        expect(second.output()).not.toContain('creating the embedded database');
        expect(second.output()).not.toContain('secrets.key');
      } finally {
        rmSync(freshDir, { recursive: true, force: true });
      }
    },
    90_000,
  );

  it.runIf(storageKind === 'embedded')('keeps a generated secrets key beside the data, readable by the owner only', () => {
    expect(statSync(join(dataDir, 'secrets.key')).mode & 0o777).toBe(0o600);
  });

  it.runIf(storageKind === 'embedded')('refuses a second server on the same DATA_DIR', async () => {
    const first = await startServerProcess(env);
    try {
      const second = runServer({ ...env, PORT: '0' });
      expect(await second.exit).toBe(1);
      expect(second.output()).toContain('is in use by process');
    } finally {
      await first.stop();
    }
  });
});

describe('a configuration error stops start-up with one message naming the variable', () => {
  // every rule of the config is a unit test in test/config; here: what the operator sees
  it.each([
    ['ISSUER', { ISSUER: 'https://as.example/?tenant=a' }],
    ['SECRETS_KEY', { DATABASE_URL: 'postgres://127.0.0.1/x' }],
  ])('%s: %j', async (variable, env) => {
    const dataDir = temporaryDataDir('registrar-cfg-', { seeded: false });
    onTestFinished(() => rmSync(dataDir, { recursive: true, force: true }));
    const server = runServer({ DATA_DIR: dataDir, ...env });
    expect(await server.exit).toBe(78);
    const lines = server.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`configuration error: ${variable}:`);
  });
});

describe('a port already in use stops start-up with exit code 78 and one message naming it', () => {
  /** Another process's server on 127.0.0.1:port. */
  const occupy = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const holder = createServer().once('error', reject);
      holder.listen(port, '127.0.0.1', () => resolve(holder));
    });
  const inUse = (port: number) => `oidc-registrar: PORT ${port} on 127.0.0.1 is already in use`;
  const mentions = (output: string) => output.split('\n').filter((line) => line.includes('already in use'));

  it('before the database is opened or migrated', async () => {
    const port = await freePort();
    const holder = await occupy(port);
    const dataDir = mkdtempSync(join(tmpdir(), 'registrar-port-'));
    try {
      const server = runServer({ PORT: String(port), DATA_DIR: dataDir });
      expect(await server.exit).toBe(78);
      expect(mentions(server.output())).toEqual([inUse(port)]);
      expect(server.output()).not.toMatch(/database/);
      expect(existsSync(join(dataDir, 'pgdata'))).toBe(false);
    } finally {
      holder.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  // storage plays no part; the embedded database's first start is the slow step to race with
  it.runIf(storageKind === 'embedded')('when it is taken while the database is being created, releasing the database', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'registrar-port-'));
    let holder: Server | undefined;
    try {
      const server = runServer({ PORT: String(port), DATA_DIR: dataDir });
      // logged after the port check, before the seconds PGlite takes to create the database
      while (!server.output().includes('creating the embedded database')) {
        if (server.child.exitCode !== null) throw new Error(`server exited early:\n${server.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      holder = await occupy(port);
      expect(await server.exit).toBe(78);
      expect(server.output()).toContain('embedded database created');
      expect(mentions(server.output())).toEqual([inUse(port)]);
      expect(existsSync(join(dataDir, 'registrar.lock'))).toBe(false);
    } finally {
      holder?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
