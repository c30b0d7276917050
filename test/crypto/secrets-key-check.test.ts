import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { SignJWT, importJWK } from 'jose';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { createSecretBox, keyId } from '../../src/crypto/secret-box.js';
import type { Database } from '../../src/storage/database.js';
import { ServerKeyRepository } from '../../src/storage/server-key-repository.js';
import { newServerKey } from '../../src/tokens/server-keys.js';
import { basic, postForm, registerMachineClient } from '../support/client-auth.js';
import { runServer, startServerProcess, temporaryDataDir } from '../support/server-process.js';
import { freshDatabase, request, storageKind, serveApp } from '../support/test-server.js';
import { advanceWallClock } from '../support/clock.js';

const keyA = randomBytes(32).toString('base64');
const keyB = randomBytes(32).toString('base64');
const idOf = (key: string) => keyId(Buffer.from(key, 'base64'));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function database(): Promise<Database> {
  const fresh = await freshDatabase();
  cleanups.push(async () => {
    await fresh.db.close();
    await fresh.drop();
  });
  return fresh.db;
}

/** The real app on `db` with the given environment, listening on a port of its own. */
async function serve(db: Database, env: Record<string, string>): Promise<{ url: string; app: FastifyInstance }> {
  const served = await serveApp(db, env);
  cleanups.push(() => served.app.close());
  return served;
}

describe(`a SECRETS_KEY that is not the one the data was sealed with (${storageKind})`, () => {
  it('stops start-up with one configuration error naming SECRETS_KEY and SECRETS_KEY_PREVIOUS', async () => {
    const db = await database();
    const first = await serve(db, { SECRETS_KEY: keyA });
    await registerMachineClient(first, {});
    await first.app.close();

    const started = buildApp(loadConfig({ PORT: '0', SECRETS_KEY: keyB }), { db, logger: pino({ level: 'silent' }) });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    const message = (await started.catch((error: Error) => error)) as Error;
    expect(message.message).toMatch(/^SECRETS_KEY: /);
    expect(message.message).toContain('SECRETS_KEY_PREVIOUS');
    // every server key is checked: one per algorithm of SIGNING_KEY_ALGS (ES256 and RS256)
    expect(message.message).toContain(`2 server signing keys and 1 client secret sealed under key id ${idOf(keyA)}`);
    expect(message.message).toContain(`SECRETS_KEY has key id ${idOf(keyB)}`);
    // never the keys themselves
    expect(message.message).not.toContain(keyA);
    expect(message.message).not.toContain(keyB);
  });

  it('starts when the old key is given as SECRETS_KEY_PREVIOUS, and its clients still authenticate', async () => {
    const db = await database();
    const first = await serve(db, { SECRETS_KEY: keyA });
    const client = await registerMachineClient(first, {});
    await first.app.close();

    const second = await serve(db, { SECRETS_KEY: keyB, SECRETS_KEY_PREVIOUS: keyA });
    const token = await postForm(second, '/token', { grant_type: 'client_credentials' }, { authorization: basic(client.client_id, client.client_secret) });
    expect(token.status).toBe(200);
    expect((await request(second, 'GET', '/readyz')).status).toBe(200);
  });

  it('a signing key another instance sealed under a key this one lacks: /readyz answers 503', async () => {
    const db = await database();
    const server = await serve(db, { SECRETS_KEY: keyA });
    expect((await request(server, 'GET', '/readyz')).status).toBe(200);

    // a replica started with another SECRETS_KEY rotated in a key that signs from now on
    const now = Math.floor(Date.now() / 1000);
    const foreign = await newServerKey('ES256', createSecretBox([Buffer.from(keyB, 'base64')]), now, now + 1);
    await new ServerKeyRepository(db).insert(foreign);
    // a token under the unknown kid makes this instance re-read its keys (at most every 5 s)
    advanceWallClock(5_100);
    const foreignPrivate = JSON.parse(createSecretBox([Buffer.from(keyB, 'base64')]).open(foreign.privateCiphertext, `server-key:${foreign.kid}`)) as Record<string, unknown>;
    const stranger = await new SignJWT({ client_id: 'x', jti: 'j' })
      .setProtectedHeader({ alg: 'ES256', kid: foreign.kid, typ: 'at+jwt' })
      .sign(await importJWK(foreignPrivate, 'ES256'));
    const client = await registerMachineClient(server, {});
    const introspected = await postForm(server, '/introspect', { token: stranger }, { authorization: basic(client.client_id, client.client_secret) });
    expect(introspected.body).toEqual({ active: false });

    const ready = await request(server, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringContaining('cannot sign tokens') });
  }, 20_000);
});

describe(`the operator's view (${storageKind})`, () => {
  it('a server restarted with a new SECRETS_KEY exits 78 with one message naming SECRETS_KEY', async () => {
    const dataDir = temporaryDataDir('registrar-key-', { seeded: true });
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    let env: Record<string, string> = { DATA_DIR: dataDir, SECRETS_KEY: keyA };
    if (storageKind === 'postgres') {
      const fresh = await freshDatabase();
      await fresh.db.close();
      cleanups.push(fresh.drop);
      env = { ...env, DATABASE_URL: fresh.url! };
    }
    const first = await startServerProcess(env);
    expect(await first.stop()).toBe(0);

    // `export SECRETS_KEY=$(openssl rand -base64 32)` pasted again in a new shell
    const second = runServer({ ...env, SECRETS_KEY: keyB, PORT: '0' });
    expect(await second.exit).toBe(78);
    const lines = second.output().trim().split('\n').filter((line) => !line.startsWith('{'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^oidc-registrar: configuration error: SECRETS_KEY: /);
    expect(lines[0]).toContain('SECRETS_KEY_PREVIOUS');
  }, 60_000);
});
