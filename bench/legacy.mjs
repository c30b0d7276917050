// The scenario bench of oidc-registrar: `BENCH_SUITE=legacy npm run bench` (or any BENCH_SCENARIOS).
//
// Starts the built server against a throw-away PostgreSQL database, hammers its endpoints with
// autocannon over loopback for a fixed time each, checks every response had the expected status,
// prints a table and writes bench/results.json. Exits non-zero if any check fails.
//
// Scenarios: discovery, registration, registration reads, the admin client list (first page of 50
// with ADMIN_LIST_CLIENTS clients stored, bulk-loaded by SQL), and the token endpoint
// (client_credentials) with private_key_jwt (ES256) and with client_secret_jwt (HS256) client
// assertions, a fresh one per request (see token-load.mjs); client_secret_jwt runs twice, side by
// side: against the server as configured (last_used_at recorded) and against a second server on
// the same database with CLIENT_USAGE_TRACKING=false. The sign-in grants: the authorization code
// exchange (codes prepared through GET /authorize with one reused session, see
// authorization-load.mjs) and the refresh_token grant (every token sent once, the rotated one reused).
// Before the server starts, the
// single-core ES256 crypto ceiling (verify + sign pairs per second, crypto-ceiling.mjs) is
// measured; the private_key_jwt rate is reported as a share of it (target: at least 80 %,
// reported, not enforced).
//
// Environment:
//   BENCH_DURATION        seconds per scenario (default 10; at most 90 with a token scenario)
//   BENCH_CONNECTIONS     concurrent connections (default 50)
//   BENCH_DATABASE_URL    database to connect to for CREATE/DROP DATABASE
//                         (default postgres://postgres@127.0.0.1:5432/test)
//   BENCH_DATABASE_NAME   the throw-away database (default registrar_bench)
//   BENCH_SCENARIOS       comma-separated subset of: discovery, register, read, token-pkjwt,
//                         token-csjwt, token-csjwt-untracked, code-exchange, refresh, admin-list
//                         (default all)
//   BENCH_CODE_RATE       upper bound on code exchanges per second, to size the code pools
//                         prepared through GET /authorize before each run (default 800)
//   BENCH_ASSERTION_RATE  upper bound on token requests per second, to size the assertion pools:
//                         duration × this many are signed before each token scenario (default 6000)
//   BENCH_PROFILE=1       run the server under node --cpu-prof; the profile goes to
//                         bench/profiles/ and its top functions are printed after the run
//   BENCH_SERVER_ENV      extra server settings for experiments, "NAME=value NAME=value"
//                         (e.g. DATABASE_POOL_SIZE=20); recorded in results.json
//   BENCH_OBSERVED_ENV    settings of the observed server only, over its defaults ("METRICS=off" to
//                         cost the rate limits alone, "RATE_LIMIT_REGISTER=off ..." the metrics alone)
//   BENCH_SERVER_ENTRY    server script to run instead of dist/server.js (A/B of a modified build)
//
// Observability cost, side by side in the same run: every scenario but the untracked twin runs
// against two servers on the same database, a baseline with METRICS=off and every rate limit off,
// and an "observed" one with METRICS=on and the rate limits on, set too high to refuse anything
// (RATE_LIMIT_REGISTER, _GLOBAL and RATE_LIMIT_TOKEN at 100000000/minute), whose /metrics is
// scraped every second meanwhile. The runs alternate off, on, on, off (half of BENCH_DURATION
// each), so drift and noise on the machine fall on both sides; the second table prints req/s and
// p99 of each side and the change, against a budget of 10 % (reported, not enforced).

import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { bulkLoadClients, databaseSettings, databaseUrl, dropDatabase, recreateDatabase } from './database.mjs';
import { positiveInteger, serverEnvFromEnvironment } from './settings.mjs';
import { PROFILE_DIR, SECRETS_KEY, SERVER_ENTRY, freePort, serverMemory, startOurServer as startServer, stopServer, waitForReady } from './processes.mjs';
import { summariseProfileFile } from './cpuprofile-summary.mjs';
import { cpuSince, cpuSnapshot } from './cpu-usage.mjs';
import { measureCryptoCeiling } from './crypto-ceiling.mjs';
import { codeExchangeRequests, prepareCodes, prepareRefreshTokens, prepareSignIn, refreshRequests } from './authorization-load.mjs';
import {
  MAX_TOKEN_SCENARIO_SECONDS,
  es256KeyPair,
  registerClient,
  signAssertions,
  tokenRequests,
} from './token-load.mjs';

const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));
const { name: BENCH_DATABASE } = databaseSettings();
const SEED_CLIENTS = 100;
const REGISTER_BODY = JSON.stringify({
  redirect_uris: ['https://rp.example/cb'],
  client_name: 'bench',
  token_endpoint_auth_method: 'client_secret_basic',
});
const SCENARIO_KEYS = ['discovery', 'register', 'read', 'token-pkjwt', 'token-csjwt', 'token-csjwt-untracked', 'code-exchange', 'refresh', 'admin-list'];
const TOKEN_SCENARIOS = ['token-pkjwt', 'token-csjwt', 'token-csjwt-untracked'];
/** Scenarios that need the bench user signed in (authorization-load.mjs). */
const SIGN_IN_SCENARIOS = ['code-exchange', 'refresh'];
/** Codes live 60 s (AUTHORIZATION_CODE_SECONDS): a pool prepared before a run must outlast it. */
const MAX_CODE_RUN_SECONDS = 40;
/** Clients bulk-loaded by SQL before the admin list scenario. */
const ADMIN_LIST_CLIENTS = 100_000;
/** The scenario compared with the crypto ceiling, and the share of it the issue asks for. */
const CEILING_SCENARIO = 'token-pkjwt';
const CEILING_TARGET_PERCENT = 80;

/** "NAME=value NAME=value" as an object. */
function parseEnv(text) {
  return Object.fromEntries(text.split(/\s+/).filter((pair) => pair.includes('=')).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

/** The baseline and observed servers of the side-by-side comparison (part B's variables included). */
const BASELINE_ENV = { METRICS: 'off', RATE_LIMIT_REGISTER: 'off', RATE_LIMIT_REGISTER_GLOBAL: 'off', RATE_LIMIT_TOKEN: 'off' };
const NEVER_REFUSED = '100000000/minute';
const OBSERVED_ENV = { METRICS: 'on', RATE_LIMIT_REGISTER: NEVER_REFUSED, RATE_LIMIT_REGISTER_GLOBAL: NEVER_REFUSED, RATE_LIMIT_TOKEN: NEVER_REFUSED };
/** Prometheus scrapes every 15 s or so; once a second overstates its cost on purpose. */
const SCRAPE_INTERVAL_MS = 1_000;
const OBSERVABILITY_BUDGET_PERCENT = 10;
/** Off, on, on, off: a linear drift over the four runs weighs on both sides alike. */
const SIDE_ORDER = ['off', 'on', 'on', 'off'];

// ---------------------------------------------------------------------------------------------
// Settings

function readSettings() {
  const { adminUrl } = databaseSettings();
  // Same server and credentials as the admin connection, only the database name differs.
  const benchUrl = new URL(databaseUrl(adminUrl, BENCH_DATABASE));
  const only = (process.env.BENCH_SCENARIOS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = only.filter((key) => !SCENARIO_KEYS.includes(key));
  if (unknown.length > 0) throw new Error(`BENCH_SCENARIOS: unknown ${unknown.join(', ')}; choose from ${SCENARIO_KEYS.join(', ')}`);
  const serverEnv = serverEnvFromEnvironment();
  const settings = {
    serverEnv,
    duration: positiveInteger('BENCH_DURATION', 10),
    connections: positiveInteger('BENCH_CONNECTIONS', 50),
    assertionRate: positiveInteger('BENCH_ASSERTION_RATE', 6000),
    codeRate: positiveInteger('BENCH_CODE_RATE', 800),
    scenarios: only.length > 0 ? only : SCENARIO_KEYS,
    profile: process.env.BENCH_PROFILE === '1',
    adminUrl,
    benchUrl: benchUrl.href,
  };
  if (settings.duration > MAX_TOKEN_SCENARIO_SECONDS && settings.scenarios.some((key) => TOKEN_SCENARIOS.includes(key))) {
    throw new Error(
      `BENCH_DURATION ${settings.duration} s is too long for the token scenarios: their assertions are signed before the run ` +
        `and must not expire during it (at most ${MAX_TOKEN_SCENARIO_SECONDS} s; or leave them out with BENCH_SCENARIOS)`,
    );
  }
  // the code scenario runs in halves (compareSides): each half's pool must not expire
  if (Math.round(settings.duration / 2) > MAX_CODE_RUN_SECONDS && settings.scenarios.includes('code-exchange')) {
    throw new Error(`BENCH_DURATION ${settings.duration} s is too long for code-exchange: codes live 60 s (at most ${2 * MAX_CODE_RUN_SECONDS} s; or leave it out with BENCH_SCENARIOS)`);
  }
  return settings;
}

// ---------------------------------------------------------------------------------------------
// Load

/** Registers the clients that the read scenario rotates through, before its clock starts. */
async function registerClients(baseUrl, count) {
  const clients = [];
  for (let i = 0; i < count; i += 1) {
    const response = await fetch(`${baseUrl}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: REGISTER_BODY,
    });
    const body = await response.json();
    if (response.status !== 201) throw new Error(`seeding: POST /register gave ${response.status}: ${JSON.stringify(body)}`);
    clients.push({
      path: new URL(body.registration_client_uri).pathname,
      authorization: `Bearer ${body.registration_access_token}`,
    });
  }
  return clients;
}

/**
 * The two clients the token scenarios authenticate as, and what their assertions need: the
 * issuer (the assertions' sole audience) and the token endpoint, both from discovery.
 */
async function registerTokenClients(baseUrl, keys) {
  const metadataResponse = await fetch(`${baseUrl}/.well-known/openid-configuration`);
  const metadata = await metadataResponse.json();
  if (metadataResponse.status !== 200) throw new Error(`discovery gave ${metadataResponse.status}`);
  const tokenPath = new URL(metadata.token_endpoint).pathname;
  const pkjwt = await registerClient(baseUrl, {
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [keys.publicJwk] },
  });
  const csjwt = await registerClient(baseUrl, {
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_jwt',
    token_endpoint_auth_signing_alg: 'HS256',
  });
  if (typeof csjwt.client_secret !== 'string') throw new Error('POST /register (client_secret_jwt) returned no client_secret');
  return {
    issuer: metadata.issuer,
    tokenPath,
    pkjwt: { clientId: pkjwt.client_id, alg: 'ES256', key: keys.privateKey, kid: keys.kid },
    csjwt: { clientId: csjwt.client_id, alg: 'HS256', key: Buffer.from(csjwt.client_secret, 'utf8') },
  };
}

/**
 * POST /token, client_credentials, one fresh assertion per request. prepare() signs the pool just
 * before the run (so the assertions are as fresh as they can be) and stops the run if it empties.
 */
function tokenScenario(key, name, tokenClients, client) {
  return {
    key,
    name,
    expectedStatus: 200,
    path: tokenClients.tokenPath,
    prepare(settings) {
      const count = settings.duration * settings.assertionRate;
      const pool = signAssertions({ count, clientId: client.clientId, audience: tokenClients.issuer, alg: client.alg, key: client.key, kid: client.kid });
      console.log(`  signed ${count} ${client.alg} assertions in ${pool.signingSeconds.toFixed(1)} s (pool for ${settings.assertionRate} req/s)`);
      const { requests, state } = tokenRequests(pool.assertions, () => {
        console.error(`  assertion pool of ${count} exhausted: stopping the run (raise BENCH_ASSERTION_RATE)`);
        running?.stop();
      });
      return {
        options: { method: 'POST', requests },
        problems: () =>
          state.exhaustedAfter === null
            ? []
            : [`assertion pool of ${state.poolSize} exhausted; run stopped early and later requests sent to a 404 path (raise BENCH_ASSERTION_RATE)`],
        details: () => ({ assertionPool: state.poolSize, assertionsUsed: state.handedOut, poolSigningSeconds: round(pool.signingSeconds, 2) }),
      };
    },
  };
}

/**
 * POST /token, authorization_code: one code per request from a pool prepared through GET /authorize
 * with the bench user's session just before the run. Scope openid: each answer holds an ID token
 * (RS256, the registration default) beside the access token, and a refresh token.
 */
function codeExchangeScenario(signIn) {
  return {
    key: 'code-exchange',
    name: 'POST /token authorization_code (+ ID token)',
    expectedStatus: 200,
    path: signIn.tokenPath,
    async prepare(settings) {
      const count = settings.duration * settings.codeRate;
      const { codes, seconds } = await prepareCodes(signIn, count);
      console.log(`  prepared ${count} codes through GET /authorize in ${seconds.toFixed(1)} s (${Math.round(count / seconds)}/s; pool for ${settings.codeRate} req/s)`);
      const { requests, state } = codeExchangeRequests(signIn, codes, () => {
        console.error(`  code pool of ${count} exhausted: stopping the run (raise BENCH_CODE_RATE)`);
        running?.stop();
      });
      return {
        options: { method: 'POST', requests },
        problems: () => (state.exhaustedAfter === null ? [] : [`code pool of ${state.poolSize} exhausted; run stopped early (raise BENCH_CODE_RATE)`]),
        details: () => ({ codePool: state.poolSize, codesUsed: state.handedOut, codePoolPrepareSeconds: round(seconds, 2) }),
      };
    },
  };
}

/** POST /token, refresh_token: tokens rotated by every answer, each sent once (authorization-load.mjs). */
function refreshScenario(signIn, baseUrl) {
  return {
    key: 'refresh',
    name: 'POST /token refresh_token (rotated, + ID token)',
    expectedStatus: 200,
    path: signIn.tokenPath,
    async prepare(settings) {
      const initial = await prepareRefreshTokens(baseUrl, signIn, 2 * settings.connections);
      const { requests, state } = refreshRequests(signIn, initial);
      return {
        options: { method: 'POST', requests },
        problems: () => [
          ...(state.lost === 0 ? [] : [`${state.lost} answers without a rotated refresh token (the first: ${state.firstRefusal})`]),
          ...(state.empty === 0 ? [] : [`${state.empty} requests found no unused refresh token in the pool`]),
        ],
      };
    },
  };
}

/**
 * Each scenario: path, autocannon options, and the one status code every response must have.
 * autocannon takes the path from `url` only (a `path` option is silently ignored).
 */
function scenarios(clients, tokenClients, signIn, baseUrl) {
  let next = 0;
  return [
    {
      key: 'discovery',
      name: 'GET discovery',
      expectedStatus: 200,
      path: '/.well-known/openid-configuration',
      options: { method: 'GET' },
    },
    {
      key: 'register',
      name: 'POST /register',
      expectedStatus: 201,
      path: '/register',
      options: { method: 'POST', headers: { 'content-type': 'application/json' }, body: REGISTER_BODY },
    },
    {
      key: 'read',
      name: 'GET /register/{id}',
      expectedStatus: 200,
      path: '/register', // replaced per request below
      options: {
        // setupRequest runs for every request, so the connections walk through all seeded clients
        // instead of reading one hot row.
        requests: [
          {
            method: 'GET',
            setupRequest: (request) => {
              const client = clients[next++ % clients.length];
              return { ...request, path: client.path, headers: { ...request.headers, authorization: client.authorization } };
            },
          },
        ],
      },
    },
    ...(tokenClients
      ? [
          tokenScenario('token-pkjwt', 'POST /token private_key_jwt ES256', tokenClients, tokenClients.pkjwt),
          tokenScenario('token-csjwt', 'POST /token client_secret_jwt HS256', tokenClients, tokenClients.csjwt),
          { ...tokenScenario('token-csjwt-untracked', 'POST /token client_secret_jwt HS256, no last_used_at', tokenClients, tokenClients.csjwt), server: 'untracked' },
        ]
      : []),
    ...(signIn ? [codeExchangeScenario(signIn), ...(signIn.refresh ? [refreshScenario(signIn, baseUrl)] : [])] : []),
    {
      key: 'admin-list',
      name: `GET /admin/clients (${ADMIN_LIST_CLIENTS / 1000}k clients)`,
      expectedStatus: 200,
      path: '/admin/clients?limit=50',
      prepare: () => ({ options: { method: 'GET', headers: { authorization: `Bearer ${adminAccess.token}` } } }),
    },
  ];
}

/** The admin token of the admin-list scenario, set before it runs. */
const adminAccess = { token: '' };

/**
 * Bulk-loads clients by SQL (the admin list must stay fast however many there are) and makes an
 * admin client the way `oidc-registrar admin bootstrap` does, then gets it a token.
 */
async function prepareAdminList(settings, baseUrl) {
  const started = Date.now();
  await bulkLoadClients(settings.benchUrl, ADMIN_LIST_CLIENTS);
  console.log(`  loaded ${ADMIN_LIST_CLIENTS} clients by SQL in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const { bootstrapAdminClient } = await import('../dist/admin/bootstrap.js');
  const { cliChangeContext } = await import('../dist/cli/local-database.js');
  const { loadConfig } = await import('../dist/config/config.js');
  const { connectPostgres } = await import('../dist/storage/postgres.js');
  const { pino } = await import('pino');
  const db = connectPostgres(settings.benchUrl, 2, pino({ level: 'silent' }));
  let credentials;
  try {
    credentials = await bootstrapAdminClient(db, loadConfig({ DATABASE_URL: settings.benchUrl, SECRETS_KEY, ISSUER: baseUrl }), cliChangeContext());
  } finally {
    await db.close();
  }
  const [assertion] = signAssertions({ count: 1, clientId: credentials.client_id, audience: baseUrl, alg: 'ES256', key: createPrivateKey({ key: credentials.private_jwk, format: 'jwk' }), kid: credentials.private_jwk.kid }).assertions;
  const response = await fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin:read', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`admin token: ${response.status} ${JSON.stringify(body)}`);
  adminAccess.token = body.access_token;
}

let running; // the autocannon run in progress, so Ctrl-C can stop it
let aborted = false; // set by Ctrl-C

async function runScenario(baseUrl, scenario, settings, options) {
  running = autocannon({
    url: `${baseUrl}${scenario.path}`,
    connections: settings.connections,
    duration: settings.duration,
    ...options,
  });
  try {
    return await running;
  } finally {
    running = undefined;
  }
}

/** Scrapes the observed server's /metrics while a run goes on, as Prometheus would. */
function startScraping(baseUrl) {
  const state = { scrapes: 0, failures: [] };
  const scrape = async () => {
    try {
      const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
      const text = await response.text();
      if (response.status !== 200 || !text.includes('oidc_registrar_http_requests_total')) state.failures.push(`GET /metrics gave ${response.status}`);
      else state.scrapes += 1;
    } catch (error) {
      state.failures.push(`GET /metrics failed: ${error.message}`);
    }
  };
  const timer = setInterval(scrape, SCRAPE_INTERVAL_MS);
  return {
    async stop() {
      clearInterval(timer);
      await scrape(); // at least one, whatever the run's length
      return state;
    },
  };
}

/** Several runs of one scenario as one: request rates averaged (the runs are equally long), counts summed. */
function combineResults(results) {
  const mean = (pick) => results.reduce((sum, r) => sum + pick(r), 0) / results.length;
  const statusCodeStats = {};
  for (const r of results) {
    for (const [status, { count }] of Object.entries(r.statusCodeStats)) statusCodeStats[status] = { count: (statusCodeStats[status]?.count ?? 0) + count };
  }
  return {
    requests: { average: mean((r) => r.requests.average), total: results.reduce((sum, r) => sum + r.requests.total, 0) },
    // percentiles cannot be merged exactly from summaries: the mean of the runs' own
    latency: { p50: round(mean((r) => r.latency.p50), 2), p99: round(mean((r) => r.latency.p99), 2) },
    statusCodeStats,
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    timeouts: results.reduce((sum, r) => sum + r.timeouts, 0),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
  };
}

/** Problems with a run; empty when every response had the expected status. */
function problems(scenario, result) {
  const found = [];
  if (result.requests.total === 0) found.push('no requests completed');
  if (result.errors > 0) found.push(`${result.errors} errors`);
  if (result.timeouts > 0) found.push(`${result.timeouts} timeouts`);
  if (result.non2xx > 0) found.push(`${result.non2xx} non-2xx responses`);
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) {
    if (Number(status) !== scenario.expectedStatus) found.push(`${count} × HTTP ${status} (expected ${scenario.expectedStatus})`);
  }
  return found;
}

function serverCpuPerRequest(cpu, requestsPerSecond) {
  if (cpu.serverMainCores === null || cpu.serverOtherThreadCores === null || !(requestsPerSecond > 0)) return null;
  const micros = (cores) => Math.round((cores * 1e6) / requestsPerSecond);
  return {
    total: micros(cpu.serverMainCores + cpu.serverOtherThreadCores),
    mainThread: micros(cpu.serverMainCores),
    otherThreads: micros(cpu.serverOtherThreadCores),
  };
}

function summarise(scenario, result, memory, cpu, prepared) {
  return {
    scenario: scenario.name,
    key: scenario.key,
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    totalRequests: result.requests.total,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([s, { count }]) => [s, count])),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    serverRssMiBAfter: round(memory.rssMiB),
    // cores busy during the run (1 = one core): server main thread, its other threads, PostgreSQL,
    // this load generator, the whole machine, and the rest of the machine (anything else running)
    cpuCores: cpu,
    // server CPU time per request (µs), whatever else the machine was doing: the server's own cost
    serverCpuMicrosPerRequest: serverCpuPerRequest(cpu, result.requests.average),
    ...(prepared.details ? prepared.details() : {}),
    problems: [...problems(scenario, result), ...(prepared.problems ? prepared.problems() : [])],
  };
}

// ---------------------------------------------------------------------------------------------
// Output

function round(value, digits = 1) {
  return value === null ? null : Number(value.toFixed(digits));
}

function printTable(rows) {
  const header = ['scenario', 'req/s (avg)', 'p50 ms', 'p99 ms', 'requests', 'RSS after MiB', 'cores srv/thr/pg/bench/other', 'status'];
  const cores = (value) => (value === null ? '-' : value.toFixed(2));
  const lines = rows.map((r) => [
    r.scenario,
    r.requestsPerSecond.toFixed(0),
    String(r.latencyP50Ms),
    String(r.latencyP99Ms),
    String(r.totalRequests),
    r.serverRssMiBAfter.toFixed(1),
    [r.cpuCores.serverMainCores, r.cpuCores.serverOtherThreadCores, r.cpuCores.postgresCores, r.cpuCores.benchCores, r.cpuCores.otherCores]
      .map(cores)
      .join('/'),
    r.problems.length === 0 ? 'ok' : 'FAILED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

function printComparison(rows) {
  const header = ['workload', 'req/s off', 'req/s on', 'change', 'p99 ms off/on', 'srv CPU µs/req off/on', 'scrapes', `within ${OBSERVABILITY_BUDGET_PERCENT}%`];
  const lines = rows.map((r) => [
    r.scenario,
    r.off.requestsPerSecond.toFixed(0),
    r.on.requestsPerSecond.toFixed(0),
    `${r.changePercent >= 0 ? '+' : ''}${r.changePercent.toFixed(1)}%`,
    `${r.off.latencyP99Ms}/${r.on.latencyP99Ms}`,
    `${r.off.serverCpuMicrosPerRequest ?? '-'}/${r.on.serverCpuMicrosPerRequest ?? '-'}`,
    String(r.scrapes),
    r.withinBudget ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

// ---------------------------------------------------------------------------------------------
// Main

async function bench(settings) {
  if (!existsSync(SERVER_ENTRY)) throw new Error(`${SERVER_ENTRY} is missing; run "npm run build" (or "npm run bench")`);
  const selected = (key) => settings.scenarios.includes(key);
  const loadAverageAtStart = loadavg().map((l) => round(l, 2));

  // Measured first, while nothing else runs here and the server is not up yet.
  let ceiling = null;
  if (selected(CEILING_SCENARIO)) {
    process.stdout.write('measuring the single-core ES256 verify + sign ceiling (the server\'s calls) ...\n');
    const before = cpuSnapshot(process.pid);
    ceiling = await measureCryptoCeiling();
    const cpu = cpuSince(before, process.pid);
    ceiling.otherCores = cpu.machineBusyCores === null ? null : Number(Math.max(0, cpu.machineBusyCores - cpu.benchCores).toFixed(2));
  }

  await recreateDatabase(settings.adminUrl, BENCH_DATABASE);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  let profileFile = null;
  if (settings.profile) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    profileFile = `${PROFILE_DIR}server-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`;
  }
  const server = startServer(port, settings.benchUrl, profileFile && profileFile.slice(PROFILE_DIR.length), { ...BASELINE_ENV, ...settings.serverEnv });
  // the same issuer: assertions and admin tokens are addressed to it
  const observedUrl = `http://127.0.0.1:${await freePort()}`;
  let observed = null;
  const report = { rows: [], comparison: [], server, memory: null, stopResult: null, ceiling, profileFile, loadAverageAtStart };
  try {
    await waitForReady(baseUrl, server);
    // once the baseline has migrated the fresh database
    observed = startServer(Number(new URL(observedUrl).port), settings.benchUrl, null, { ...OBSERVED_ENV, ...settings.serverEnv, ...parseEnv(process.env.BENCH_OBSERVED_ENV ?? ''), ISSUER: baseUrl });
    await waitForReady(observedUrl, observed);
    console.log(
      `oidc-registrar bench: node ${process.version}, ${cpus().length} CPUs, ` +
        `${settings.connections} connections, ${settings.duration} s per scenario, ${baseUrl}` +
        (settings.profile ? ' (server under --cpu-prof: figures are not comparable)' : ''),
    );
    const clients = selected('read') ? await registerClients(baseUrl, SEED_CLIENTS) : [];
    const tokenClients = settings.scenarios.some((key) => TOKEN_SCENARIOS.includes(key)) ? await registerTokenClients(baseUrl, es256KeyPair()) : null;
    const signIn = settings.scenarios.some((key) => SIGN_IN_SCENARIOS.includes(key)) ? await prepareSignIn(baseUrl, settings.benchUrl) : null;
    if (signIn && !signIn.refresh && selected('refresh')) console.log('  the server does not serve the refresh_token grant: refresh scenario skipped');
    for (const scenario of scenarios(clients, tokenClients, signIn, baseUrl).filter((s) => selected(s.key))) {
      if (aborted) throw new Error('interrupted');
      process.stdout.write(`running ${scenario.name} ...\n`);
      if (scenario.key === 'admin-list') await prepareAdminList(settings, baseUrl);
      // the side-by-side twin: a second server on the same data, differing in one setting only
      if (scenario.server !== 'untracked') {
        await compareSides(scenario, settings, report, { server, url: baseUrl }, { server: observed, url: observedUrl });
        continue;
      }
      let target = server;
      let targetUrl = baseUrl;
      if (scenario.server === 'untracked') {
        const twinPort = await freePort();
        targetUrl = `http://127.0.0.1:${twinPort}`;
        // the same issuer: the assertions are addressed to it
        target = startServer(twinPort, settings.benchUrl, null, { ...settings.serverEnv, ISSUER: baseUrl, CLIENT_USAGE_TRACKING: 'false' });
        await waitForReady(targetUrl, target);
      }
      try {
        const prepared = scenario.prepare ? await scenario.prepare(settings) : { options: scenario.options };
        const pid = target.child.pid;
        const cpuBefore = cpuSnapshot(pid);
        const result = await runScenario(targetUrl, scenario, settings, prepared.options);
        const cpu = cpuSince(cpuBefore, pid);
        if (aborted) throw new Error('interrupted');
        if (target.exited) throw new Error(`server exited during "${scenario.name}" (code ${target.child.exitCode})`);
        report.rows.push(summarise(scenario, result, serverMemory(pid), cpu, prepared));
      } finally {
        if (target !== server) await stopServer(target);
      }
    }
    report.memory = serverMemory(server.child.pid);
    return report;
  } catch (error) {
    if (server.logTail.length > 0) console.error(`last server output:\n${server.logTail.join('\n')}`);
    throw error;
  } finally {
    if (observed) await stopServer(observed);
    report.stopResult = await stopServer(server);
    // Reported, not thrown: an error here must not hide the one that got us here.
    await dropDatabase(settings.adminUrl, BENCH_DATABASE).catch((error) =>
      console.error(`could not drop database ${BENCH_DATABASE}: ${error.message}`),
    );
  }
}

/**
 * One scenario on the baseline and the observed server, alternating (SIDE_ORDER), each run half
 * of BENCH_DURATION: the baseline's figures go to the main table, both to the comparison.
 */
async function compareSides(scenario, settings, report, baseline, observed) {
  const half = { ...settings, duration: Math.max(1, Math.round(settings.duration / 2)) };
  const runs = { off: [], on: [] };
  let scrapes = 0;
  const scrapeProblems = [];
  for (const side of SIDE_ORDER) {
    const target = side === 'off' ? baseline : observed;
    const prepared = scenario.prepare ? await scenario.prepare(half) : { options: scenario.options };
    const scraping = side === 'on' ? startScraping(observed.url) : null;
    const pid = target.server.child.pid;
    const cpuBefore = cpuSnapshot(pid);
    const result = await runScenario(target.url, scenario, half, prepared.options);
    const cpu = cpuSince(cpuBefore, pid);
    const scraped = scraping ? await scraping.stop() : null;
    if (aborted) throw new Error('interrupted');
    if (target.server.exited) throw new Error(`server (METRICS ${side}) exited during "${scenario.name}" (code ${target.server.child.exitCode})`);
    if (scraped) {
      scrapes += scraped.scrapes;
      scrapeProblems.push(...scraped.failures);
    }
    runs[side].push({ result, cpu, prepared, memory: serverMemory(pid) });
  }
  const side = (name) => {
    const first = runs[name][0];
    const combined = combineResults(runs[name].map((r) => r.result));
    // server CPU per request is what the instrumentation costs, whatever else loads the machine
    const micros = runs[name].map((r) => serverCpuPerRequest(r.cpu, r.result.requests.average)?.total).filter((m) => m !== undefined);
    return {
      ...summarise(scenario, combined, runs[name].at(-1).memory, first.cpu, first.prepared),
      cpuMicrosPerRequest: micros.length === 0 ? null : Math.round(micros.reduce((a, b) => a + b, 0) / micros.length),
    };
  };
  const off = side('off');
  const on = side('on');
  const { cpuMicrosPerRequest: _offCpu, ...offRow } = off;
  report.rows.push(offRow);
  const changePercent = (100 * (on.requestsPerSecond - off.requestsPerSecond)) / off.requestsPerSecond;
  const problems = [...on.problems.map((p) => `METRICS=on: ${p}`), ...scrapeProblems.slice(0, 3)];
  if (scrapes === 0) problems.push('no successful scrape of /metrics');
  report.comparison.push({
    scenario: scenario.name,
    key: scenario.key,
    off: { requestsPerSecond: off.requestsPerSecond, latencyP50Ms: off.latencyP50Ms, latencyP99Ms: off.latencyP99Ms, totalRequests: off.totalRequests, serverCpuMicrosPerRequest: off.cpuMicrosPerRequest },
    on: { requestsPerSecond: on.requestsPerSecond, latencyP50Ms: on.latencyP50Ms, latencyP99Ms: on.latencyP99Ms, totalRequests: on.totalRequests, serverCpuMicrosPerRequest: on.cpuMicrosPerRequest },
    changePercent: round(changePercent),
    withinBudget: changePercent >= -OBSERVABILITY_BUDGET_PERCENT,
    scrapes,
    problems,
  });
}

process.once('SIGINT', () => {
  // Stop the load; bench() then stops the server and drops the database as usual.
  aborted = true;
  running?.stop();
});

/** The private_key_jwt token rate as a share of the crypto ceiling; null when either is missing. */
function ceilingComparison(report) {
  const row = report.rows.find((r) => r.key === CEILING_SCENARIO);
  if (!report.ceiling || !row) return null;
  const ratioPercent = (100 * row.requestsPerSecond) / report.ceiling.pairOpsPerSecond;
  const pairMicros = 1e6 / report.ceiling.pairOpsPerSecond;
  const serverMicros = row.serverCpuMicrosPerRequest?.total;
  return {
    scenario: row.scenario,
    requestsPerSecond: row.requestsPerSecond,
    ceilingPairsPerSecond: round(report.ceiling.pairOpsPerSecond),
    ratioPercent: round(ratioPercent),
    targetPercent: CEILING_TARGET_PERCENT,
    met: ratioPercent >= CEILING_TARGET_PERCENT,
    // Diagnostic, not the target: the share a server with a core to itself would reach, given the
    // CPU time it spent per request here (the crypto pair's time / the server's time per request).
    ceilingMicrosPerPair: Math.round(pairMicros),
    serverCpuMicrosPerRequest: serverMicros ?? null,
    cpuBoundRatioPercent: serverMicros ? round((100 * pairMicros) / serverMicros) : null,
  };
}

export async function main() {
  const settings = readSettings();
  const report = await bench(settings);
  const failed = [...report.rows, ...report.comparison].filter((r) => r.problems.length > 0);
  const comparison = ceilingComparison(report);
  const ceiling = report.ceiling && {
    pairOpsPerSecond: round(report.ceiling.pairOpsPerSecond),
    rawNodeCryptoPairOpsPerSecond: round(report.ceiling.rawPairOpsPerSecond),
    verifyOnlyOpsPerSecond: round(report.ceiling.verifyOnlyOpsPerSecond),
    signOnlyOpsPerSecond: round(report.ceiling.signOnlyOpsPerSecond),
    measuredSeconds: round(report.ceiling.measuredSeconds, 2),
    warmupSeconds: report.ceiling.warmupSeconds,
    processCpuSecondsPerSecond: round(report.ceiling.processCpuSecondsPerSecond, 2),
    // cores other processes used meanwhile; they compete for the cores this measures
    otherProcessesCores: report.ceiling.otherCores,
    library: 'jose compactVerify (ES256, imported public key) + SignJWT.sign (ES256)',
  };
  const results = {
    date: new Date().toISOString(),
    loadAverageAtStart: report.loadAverageAtStart,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    durationSeconds: settings.duration,
    connections: settings.connections,
    seededClients: SEED_CLIENTS,
    scenariosRun: settings.scenarios,
    serverProfiled: settings.profile,
    serverEnv: settings.serverEnv,
    serverEntry: SERVER_ENTRY,
    scenarios: report.rows,
    observabilityCost: {
      baselineEnv: BASELINE_ENV,
      observedEnv: OBSERVED_ENV,
      scrapeIntervalMs: SCRAPE_INTERVAL_MS,
      budgetPercent: OBSERVABILITY_BUDGET_PERCENT,
      order: SIDE_ORDER,
      runSeconds: Math.max(1, Math.round(settings.duration / 2)),
      scenarios: report.comparison,
    },
    cryptoCeiling: ceiling,
    tokenEndpointVsCeiling: comparison,
    server: {
      rssMiB: round(report.memory.rssMiB),
      peakRssMiB: round(report.memory.peakRssMiB),
      logLinesAtWarnOrAbove: report.server.logLines,
      exitOnSigterm: report.stopResult,
    },
    ok: failed.length === 0,
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);

  console.log('');
  printTable(report.rows);
  if (report.comparison.length > 0) {
    console.log('');
    console.log(
      `observability cost: METRICS=off and rate limits off vs METRICS=on, rate limits on (never reached) and /metrics scraped every ${SCRAPE_INTERVAL_MS / 1000} s; ` +
        `runs alternate ${SIDE_ORDER.join(', ')}, ${Math.max(1, Math.round(settings.duration / 2))} s each`,
    );
    printComparison(report.comparison);
    const over = report.comparison.filter((r) => !r.withinBudget);
    console.log(
      over.length === 0
        ? `every workload within ${OBSERVABILITY_BUDGET_PERCENT}% (reported, not enforced)`
        : `over the ${OBSERVABILITY_BUDGET_PERCENT}% budget: ${over.map((r) => r.scenario).join(', ')} (reported, not enforced; rerun with a longer BENCH_DURATION to tell noise from cost)`,
    );
  }
  console.log('');
  console.log(
    `server RSS after run: ${results.server.rssMiB} MiB (peak ${results.server.peakRssMiB ?? 'n/a'} MiB); ` +
      `node ${process.version}; server exit on SIGTERM: ${report.stopResult}`,
  );
  if (report.server.logLines > 0) {
    const last = report.server.logTail.slice(-5).map((line) => (line.length > 300 ? `${line.slice(0, 300)}...` : line));
    console.log(`note: the server logged ${report.server.logLines} warning/error lines; the last ${last.length}:\n  ${last.join('\n  ')}`);
  }
  const BUSY_MACHINE_CORES = 0.25;
  const contended = report.rows.filter((r) => r.cpuCores.otherCores !== null && r.cpuCores.otherCores > BUSY_MACHINE_CORES);
  if (contended.length > 0 || (ceiling?.otherProcessesCores ?? 0) > BUSY_MACHINE_CORES) {
    console.log(
      `warning: other processes were busy during the run (${[
        ...(ceiling && ceiling.otherProcessesCores > BUSY_MACHINE_CORES ? [`${ceiling.otherProcessesCores} cores during the ceiling`] : []),
        ...contended.map((r) => `${r.cpuCores.otherCores} cores during ${r.scenario}`),
      ].join(', ')}); these figures understate the server`,
    );
  }
  if (ceiling) {
    console.log(
      `single-core ceiling (the server's calls: jose ES256 verify + node:crypto ES256 sign, ${ceiling.measuredSeconds} s after ${ceiling.warmupSeconds} s warm-up): ` +
        `${ceiling.pairOpsPerSecond.toFixed(0)} pairs/s (verify only ${ceiling.verifyOnlyOpsPerSecond.toFixed(0)}/s, sign only ${ceiling.signOnlyOpsPerSecond.toFixed(0)}/s); ` +
        `all node:crypto: ${ceiling.rawNodeCryptoPairOpsPerSecond.toFixed(0)} pairs/s`,
    );
  }
  if (comparison) {
    console.log(
      `${comparison.scenario}: ${comparison.requestsPerSecond.toFixed(0)} req/s = ${comparison.ratioPercent.toFixed(1)}% of the ceiling; ` +
        `target >= ${comparison.targetPercent}%: ${comparison.met ? 'met' : 'NOT met'} (reported, not enforced); ` +
        `${((100 * comparison.requestsPerSecond) / ceiling.rawNodeCryptoPairOpsPerSecond).toFixed(1)}% of the all-node:crypto pair rate`,
    );
    if (comparison.cpuBoundRatioPercent !== null) {
      const split = report.rows.find((r) => r.key === CEILING_SCENARIO).serverCpuMicrosPerRequest;
      console.log(
        `  server CPU per request: ${split.total} µs (main thread ${split.mainThread}, other threads ${split.otherThreads}) ` +
          `vs ${comparison.ceilingMicrosPerPair} µs per crypto pair: even with a core to itself the server would reach ` +
          `~${comparison.cpuBoundRatioPercent.toFixed(0)}% of the ceiling`,
      );
    }
  }
  console.log(`results written to ${RESULTS_FILE}`);
  if (report.profileFile) {
    if (existsSync(report.profileFile)) {
      console.log(`\nserver CPU profile: ${report.profileFile}\n${summariseProfileFile(report.profileFile, 25)}`);
    } else {
      console.error(`no CPU profile was written to ${report.profileFile} (did the server exit cleanly?)`);
    }
  }

  for (const row of failed) console.error(`FAILED ${row.scenario}: ${row.problems.join('; ')}`);
  return failed.length === 0 ? 0 : 1;
}
