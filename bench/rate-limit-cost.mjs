// What each rate-limit check costs per request, measured one request at a time on an idle
// machine (npm run build first): the registration counters' upsert on PostgreSQL (one counter,
// and the per-address and global counters in one statement), next to a bare SELECT 1 round trip,
// and the token-endpoint counter's Redis round trip. BENCH_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test; a schema of its own, dropped after) and REDIS_URL
// (default redis://127.0.0.1:6379) say where.
//   node bench/rate-limit-cost.mjs

import pg from 'pg';
import { pino } from 'pino';
import { connectPostgres } from '../dist/storage/postgres.js';
import { migrate } from '../dist/storage/migrate.js';
import { RateLimitRepository } from '../dist/storage/rate-limit-repository.js';
import { connectRedis } from '../dist/rate-limit/token-store.js';

const base = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const ROUNDS = 3000;
const silent = pino({ level: 'silent' });

/** Runs `fn` 200 times to warm up, then ROUNDS times one after another; prints p50 and p99. */
async function time(label, fn) {
  for (let i = 0; i < 200; i++) await fn(i);
  const samples = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = process.hrtime.bigint();
    await fn(i);
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(samples.length * q))].toFixed(3);
  console.log(`${label.padEnd(44)} p50 ${at(0.5)} ms   p99 ${at(0.99)} ms`);
}

const schema = `rate_limit_cost_${process.pid}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
const url = new URL(base);
url.searchParams.set('options', `-c search_path=${schema}`);
const db = connectPostgres(url.toString(), 4, silent);
try {
  await migrate(db);
  const counters = new RateLimitRepository(db);
  await time('PostgreSQL SELECT 1 (a bare round trip)', () => db.query('SELECT 1'));
  await time('PostgreSQL upsert, one counter', (i) => counters.hit({ key: `register:10.0.${i % 250}.${i % 7}`, windowMs: 60_000 }, Date.now()));
  await time('PostgreSQL upsert, address + global counters', (i) =>
    counters.hitBoth({ key: `register:10.1.${i % 250}.${i % 7}`, windowMs: 60_000, max: 1e9 }, { key: 'register:*', windowMs: 3_600_000 }, Date.now()),
  );
  const redis = connectRedis(redisUrl, silent);
  try {
    await new Promise((resolve, reject) => {
      redis.once('ready', resolve);
      setTimeout(() => reject(new Error(`Redis at ${redisUrl} not ready`)), 3_000).unref();
    });
    await time('Redis count (one round trip)', (i) => redis.rateLimitCount(`rate-limit-cost:${process.pid}:${i % 100}`, 60_000));
  } finally {
    redis.disconnect();
  }
} finally {
  await db.close();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}
