// Heap growth of the per-instance key caches: `npm run build && node --expose-gc bench/key-cache-memory.mjs`.
//
// Registers clients with 20-key `jwks` sets on an in-process server (embedded database, in
// memory) and sends one junk private_key_jwt assertion for each, so that every client's set is
// parsed and cached; prints the heap after a full GC every BENCH_STEP clients. With the caches
// bounded by CLIENT_CACHE_SIZE the heap should stop growing once that many clients are cached.
//
// Environment: BENCH_CLIENTS (default 4000), BENCH_STEP (default 500), CLIENT_CACHE_SIZE (default 1000).
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { buildApp } from '../dist/app.js';
import { loadConfig } from '../dist/config/config.js';
import { openEmbedded } from '../dist/storage/embedded.js';
import { migrate } from '../dist/storage/migrate.js';

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const clients = Number(process.env.BENCH_CLIENTS ?? 4000);
const step = Number(process.env.BENCH_STEP ?? 500);
const cacheSize = process.env.CLIENT_CACHE_SIZE ?? '1000';

const db = await openEmbedded(undefined);
await migrate(db);
const port = 18_000 + Math.floor(Math.random() * 1000);
const issuer = `http://127.0.0.1:${port}`;
const app = await buildApp(loadConfig({ PORT: String(port), ISSUER: issuer, SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'), CLIENT_CACHE_SIZE: cacheSize }), { db, logger: pino({ level: 'silent' }) });
await app.listen({ port, host: '127.0.0.1' });

const keys = await Promise.all(Array.from({ length: 20 }, async (_, i) => ({ ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: `k${i}`, alg: 'ES256' })));
const junkKey = (await generateKeyPair('ES256')).privateKey;
const heapMiB = () => {
  globalThis.gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

const start = heapMiB();
console.log(`CLIENT_CACHE_SIZE=${cacheSize}; heap after GC, MiB`);
console.log(`clients\theap\tper client since start (KiB)`);
for (let n = 1; n <= clients; n++) {
  const res = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys } }),
  });
  const client = await res.json();
  const junk = await new SignJWT({ jti: `j${n}` }).setProtectedHeader({ alg: 'ES256', kid: 'k3' }).setIssuer(client.client_id).setSubject(client.client_id).setAudience(issuer).setExpirationTime('1m').sign(junkKey);
  const token = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: junk }),
  });
  if (token.status !== 401) throw new Error(`junk assertion answered ${token.status}`);
  if (n % step === 0) {
    const heap = heapMiB();
    console.log(`${n}\t${heap.toFixed(1)}\t${(((heap - start) * 1024) / n).toFixed(2)}`);
  }
}
await app.close();
await db.close();
