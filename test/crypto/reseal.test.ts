import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { keyUsage, resealAll } from '../../src/crypto/reseal.js';
import { createSecretBox, keyId } from '../../src/crypto/secret-box.js';
import type { Database } from '../../src/storage/database.js';
import { SealedValuesRepository } from '../../src/storage/sealed-values-repository.js';
import { basic, postForm, registerMachineClient } from '../support/client-auth.js';
import { startServerProcess, temporaryDataDir } from '../support/server-process.js';
import { freshDatabase, request, storageKind, serveApp } from '../support/test-server.js';

const oldKey = randomBytes(32).toString('base64');
const newKey = randomBytes(32).toString('base64');
const idOf = (key: string) => keyId(Buffer.from(key, 'base64'));
const boxOf = (...keys: string[]) => createSecretBox(keys.map((k) => Buffer.from(k, 'base64')));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function database(): Promise<{ db: Database; url: string | undefined }> {
  const fresh = await freshDatabase();
  cleanups.push(async () => {
    await fresh.db.close();
    await fresh.drop();
  });
  return fresh;
}

async function serve(db: Database, env: Record<string, string>): Promise<{ url: string; app: FastifyInstance }> {
  const served = await serveApp(db, env);
  cleanups.push(() => served.app.close());
  return served;
}

/** A database whose signing key and `n` client secrets are sealed under the old key. */
async function sealedUnderOldKey(n: number) {
  const { db, url } = await database();
  const server = await serve(db, { SECRETS_KEY: oldKey });
  const clients = await Promise.all(Array.from({ length: n }, () => registerMachineClient(server, {})));
  // a public client has no secret: nothing to re-seal
  await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'none' } });
  await server.app.close();
  return { db, url, clients };
}

describe(`re-sealing under a new SECRETS_KEY (${storageKind})`, () => {
  it('moves every secret and signing key onto SECRETS_KEY; then the old key can be dropped', async () => {
    const { db, clients } = await sealedUnderOldKey(7);
    const repository = new SealedValuesRepository(db);
    const secrets = boxOf(newKey, oldKey);

    const before = await keyUsage(repository, secrets);
    expect(before).toEqual([
      { keyId: idOf(newKey), configuredAs: 'SECRETS_KEY', rows: { server_keys: 0, clients: 0, previous_client_secrets: 0 } },
      { keyId: idOf(oldKey), configuredAs: 'SECRETS_KEY_PREVIOUS #1', rows: { server_keys: 2, clients: 7, previous_client_secrets: 0 } },
    ]);

    const report = await resealAll(repository, secrets, { batchSize: 3 });
    expect(report).toEqual({
      resealed: { server_keys: 2, clients: 7, previous_client_secrets: 0 },
      changedMeanwhile: { server_keys: 0, clients: 0, previous_client_secrets: 0 },
      unopenable: { server_keys: 0, clients: 0, previous_client_secrets: 0 },
    });
    expect((await keyUsage(repository, secrets)).map((u) => u.rows)).toEqual([
      { server_keys: 2, clients: 7, previous_client_secrets: 0 },
      { server_keys: 0, clients: 0, previous_client_secrets: 0 },
    ]);

    // without the old key: starts, and every client authenticates with the secret it was given
    const server = await serve(db, { SECRETS_KEY: newKey });
    for (const client of clients) {
      const token = await postForm(server, '/token', { grant_type: 'client_credentials' }, { authorization: basic(client.client_id, client.client_secret) });
      expect(token.status).toBe(200);
    }
  });

  it('moves the previous secret of a rotation in its grace period too; both still authenticate without the old key', async () => {
    const { db } = await database();
    const server = await serve(db, { SECRETS_KEY: oldKey });
    const { bootstrapAdmin, adminToken } = await import('../support/admin.js');
    const admin = await bootstrapAdmin({ db, config: loadConfig({ SECRETS_KEY: oldKey, ISSUER: server.url }) } as never);
    const token = await adminToken({ url: server.url, config: { issuer: server.url } } as never, admin);
    const created = (await request(server, 'POST', '/admin/clients', { token, json: { grant_types: ['client_credentials'] } })).body;
    const rotated = (await request(server, 'POST', `/admin/clients/${created.client_id}/rotate-secret`, { token, json: { grace_period: 3600 } })).body;
    await server.app.close();

    const repository = new SealedValuesRepository(db);
    const secrets = boxOf(newKey, oldKey);
    expect((await keyUsage(repository, secrets))[1]!.rows).toEqual({ server_keys: 2, clients: 1, previous_client_secrets: 1 });
    const report = await resealAll(repository, secrets, { batchSize: 10 });
    expect(report.resealed).toEqual({ server_keys: 2, clients: 1, previous_client_secrets: 1 });

    const after = await serve(db, { SECRETS_KEY: newKey });
    for (const secret of [created.client_secret, rotated.client_secret]) {
      const issued = await postForm(after, '/token', { grant_type: 'client_credentials' }, { authorization: basic(created.client_id, secret) });
      expect(issued.status).toBe(200);
    }
  });

  it('is resumable: a run stopped after its first batch is finished by running it again', async () => {
    const { db } = await sealedUnderOldKey(5);
    const repository = new SealedValuesRepository(db);
    const secrets = boxOf(newKey, oldKey);
    let batches = 0;
    const interrupted = resealAll(repository, secrets, {
      batchSize: 2,
      onBatch: (table) => {
        if (table === 'clients' && ++batches === 1) throw new Error('interrupted (test)');
      },
    });
    await expect(interrupted).rejects.toThrow('interrupted (test)');
    expect((await keyUsage(repository, secrets))[1]!.rows).toEqual({ server_keys: 0, clients: 3, previous_client_secrets: 0 });

    const rest = await resealAll(repository, secrets, { batchSize: 2 });
    expect(rest.resealed).toEqual({ server_keys: 0, clients: 3, previous_client_secrets: 0 });
    expect((await keyUsage(repository, secrets))[1]!.rows).toEqual({ server_keys: 0, clients: 0, previous_client_secrets: 0 });
  });

  it('leaves a row a running server changed meanwhile as the server wrote it', async () => {
    const { db } = await sealedUnderOldKey(2);
    const repository = new SealedValuesRepository(db);
    const secrets = boxOf(newKey, oldKey);
    const [changed] = await repository.notSealedUnder('clients', idOf(newKey), '', 1);
    // a server (already on the new key) updated this client between the read and the write
    const serverWrote = secrets.seal(secrets.open(changed!.sealed, changed!.id), changed!.id);
    await db.query('UPDATE clients SET secret_ciphertext = $1 WHERE client_id = $2', [serverWrote, changed!.id]);
    const replaced = await repository.replace('clients', [{ id: changed!.id, from: changed!.sealed, to: secrets.seal('something else', changed!.id) }]);
    expect(replaced).toBe(0);
    const [row] = await db.query<{ secret_ciphertext: string }>('SELECT secret_ciphertext FROM clients WHERE client_id = $1', [changed!.id]);
    expect(row!.secret_ciphertext).toBe(serverWrote);
  });

  it.runIf(storageKind === 'postgres')('runs beside a server that keeps updating clients, losing nothing', async () => {
    const { db, url, clients } = await sealedUnderOldKey(20);
    const server = await serve(db, { SECRETS_KEY: newKey, SECRETS_KEY_PREVIOUS: oldKey });
    // the re-seal runs over its own connections, as the CLI beside a server would
    const { connectPostgres } = await import('../../src/storage/postgres.js');
    const cliDb = connectPostgres(url!, 2, pino({ level: 'silent' }));
    cleanups.push(() => cliDb.close());
    const updates = Promise.all(
      clients.map((c) =>
        request(server, 'PUT', `/register/${c.client_id}`, { token: c.registration_access_token, json: { client_id: c.client_id, grant_types: ['client_credentials'], scope: 'openid' } }),
      ),
    );
    const report = await resealAll(new SealedValuesRepository(cliDb), boxOf(newKey, oldKey), { batchSize: 3 });
    expect((await updates).every((r) => r.status === 200)).toBe(true);
    // rows the server updated first were already on the new key when the re-seal came to them
    expect(report.resealed.clients + report.changedMeanwhile.clients).toBeLessThanOrEqual(20);
    expect((await keyUsage(new SealedValuesRepository(db), boxOf(newKey, oldKey)))[1]!.rows).toEqual({ server_keys: 0, clients: 0, previous_client_secrets: 0 });
    for (const client of clients) {
      const token = await postForm(server, '/token', { grant_type: 'client_credentials' }, { authorization: basic(client.client_id, client.client_secret) });
      expect(token.status).toBe(200);
    }
  });

  it('counts rows that no configured key opens, and leaves them alone', async () => {
    const { db } = await sealedUnderOldKey(3);
    const repository = new SealedValuesRepository(db);
    const withoutOldKey = boxOf(newKey);
    const report = await resealAll(repository, withoutOldKey, { batchSize: 2 });
    expect(report.unopenable).toEqual({ server_keys: 2, clients: 3, previous_client_secrets: 0 });
    expect(report.resealed).toEqual({ server_keys: 0, clients: 0, previous_client_secrets: 0 });
    expect(await keyUsage(repository, withoutOldKey)).toEqual([
      { keyId: idOf(newKey), configuredAs: 'SECRETS_KEY', rows: { server_keys: 0, clients: 0, previous_client_secrets: 0 } },
      { keyId: idOf(oldKey), configuredAs: undefined, rows: { server_keys: 2, clients: 3, previous_client_secrets: 0 } },
    ]);
  });
});

describe(`npm run cli -- secrets reseal (${storageKind})`, () => {
  it('re-seals, reports what still depends on each key, and says when the previous key can go', async () => {
    const dataDir = temporaryDataDir('registrar-reseal-', { seeded: true });
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    let env: Record<string, string> = { DATA_DIR: dataDir, SECRETS_KEY: oldKey };
    if (storageKind === 'postgres') {
      const fresh = await database();
      env = { ...env, DATABASE_URL: fresh.url! };
    }
    const server = await startServerProcess(env);
    for (let i = 0; i < 3; i++) await registerMachineClient(server, {});
    expect(await server.stop()).toBe(0);

    const cli = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['dist/cli.js', ...args], { env: { PATH: process.env.PATH, ...env, SECRETS_KEY: newKey, SECRETS_KEY_PREVIOUS: oldKey } });
    const status = await cli('secrets', 'status');
    expect(status.stdout).toMatch(new RegExp(`${idOf(oldKey)}  SECRETS_KEY_PREVIOUS #1 +server signing keys 2, client secrets 3, previous client secrets \\(grace periods\\) 0\\n`));

    const reseal = await cli('secrets', 'reseal', '--batch-size', '2');
    expect(reseal.stdout).toContain('server signing keys: 2 re-sealed');
    expect(reseal.stdout).toContain('client secrets: 3 re-sealed');
    expect(reseal.stdout).toMatch(new RegExp(`${idOf(newKey)}  SECRETS_KEY +server signing keys 2, client secrets 3, previous client secrets \\(grace periods\\) 0\\n`));
    expect(reseal.stdout).toMatch(new RegExp(`${idOf(oldKey)}  SECRETS_KEY_PREVIOUS #1 +server signing keys 0, client secrets 0, previous client secrets \\(grace periods\\) 0  nothing depends on it`));
    for (const secret of [oldKey, newKey]) expect(reseal.stdout + reseal.stderr).not.toContain(secret);

    const usage = await cli('secrets', 'reseal', '--batch-size', 'x').catch((error: { code: number; stderr: string }) => error);
    expect((usage as { code: number }).code).toBe(2); // a usage error
  }, 60_000);
});
