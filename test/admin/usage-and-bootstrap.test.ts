import { statSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientUsage, USAGE_RESOLUTION_SECONDS } from '../../src/client-auth/client-usage.js';
import { ClientRepository } from '../../src/storage/client-repository.js';
import type { AdminCredentials } from '../../src/admin-client/types.js';
import { adminToken } from '../support/admin.js';
import { registerMachineClient } from '../support/client-auth.js';
import { startServerProcess, temporaryDataDir } from '../support/server-process.js';
import { freshDatabase, request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

describe(`last_used_at (${storageKind})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.close());

  it('is queued in memory per request and written once per minute per client, in one statement', async () => {
    const a = await registerMachineClient(server, {});
    const b = await registerMachineClient(server, {});
    let now = 1_900_000_000;
    const usage = new ClientUsage(() => now, 100);
    const repository = new ClientRepository(server.db);
    const writes: string[][] = [];
    const write = async (ids: string[], at: number) => {
      writes.push(ids);
      await repository.markUsed(ids, at, USAGE_RESOLUTION_SECONDS);
    };
    for (let i = 0; i < 1000; i++) usage.record(i % 2 ? a.client_id : b.client_id);
    expect(await usage.flush(write)).toBe(2);
    expect(writes).toEqual([[b.client_id, a.client_id]]);
    expect((await repository.findById(a.client_id))!.lastUsedAt).toBe(1_900_000_000);

    now += 30; // within the minute: nothing queued, nothing written
    usage.record(a.client_id);
    expect(await usage.flush(write)).toBe(0);
    now += 31;
    usage.record(a.client_id);
    expect(await usage.flush(write)).toBe(1);
    expect((await repository.findById(a.client_id))!.lastUsedAt).toBe(1_900_000_061);
  });

  it('a failed write is queued again', async () => {
    const usage = new ClientUsage(() => 1, 10);
    usage.record('client-a-000000000000');
    await expect(usage.flush(async () => Promise.reject(new Error('database down')))).rejects.toThrow('database down');
    const written: string[][] = [];
    expect(await usage.flush(async (ids) => void written.push(ids))).toBe(1);
    expect(written).toEqual([['client-a-000000000000']]);
  });
});

describe('the first admin in embedded mode', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = () => {
    const dir = temporaryDataDir('registrar-admin-', { seeded: true });
    dirs.push(dir);
    return dir;
  };

  it.runIf(storageKind === 'embedded')('the first start writes DATA_DIR/admin-credentials.json (0600) that gets admin tokens; later starts keep it', async () => {
    const dir = dataDir();
    const first = await startServerProcess({ DATA_DIR: dir });
    const file = join(dir, 'admin-credentials.json');
    try {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const credentials = JSON.parse(readFileSync(file, 'utf8')) as AdminCredentials;
      expect(credentials.issuer).toBe(first.url);
      expect(credentials.private_jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
      expect(first.output()).toContain(file);
      expect(first.output()).not.toContain(credentials.private_jwk.d as string);
      const token = await adminToken({ url: first.url, config: { issuer: first.url } } as TestServer, credentials);
      const list = await request(first, 'GET', '/admin/clients', { token });
      expect(list.status).toBe(200);
      expect(list.body.clients.map((c: { created_via: string }) => c.created_via)).toEqual(['bootstrap']);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const before = readFileSync(file, 'utf8');
    const second = await startServerProcess({ DATA_DIR: dir, PORT: new URL(first.url).port });
    expect(await second.stop()).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(before);
  }, 60_000);

  it.runIf(storageKind === 'embedded')('ADMIN_BOOTSTRAP=false writes nothing', async () => {
    const dir = dataDir();
    const server = await startServerProcess({ DATA_DIR: dir, ADMIN_BOOTSTRAP: 'false' });
    expect(await server.stop()).toBe(0);
    expect(existsSync(join(dir, 'admin-credentials.json'))).toBe(false);
  }, 60_000);

  it.runIf(storageKind === 'postgres')('with PostgreSQL the server writes no credentials file (the CLI bootstraps)', async () => {
    const dir = dataDir();
    const database = await freshDatabase();
    await database.db.close();
    try {
      const server = await startServerProcess({ DATA_DIR: dir, DATABASE_URL: database.url!, SECRETS_KEY: Buffer.alloc(32, 3).toString('base64') });
      expect(await server.stop()).toBe(0);
      expect(existsSync(join(dir, 'admin-credentials.json'))).toBe(false);
    } finally {
      await database.drop();
    }
  }, 60_000);
});
