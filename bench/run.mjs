// Load benchmark for oidc-registrar: `npm run bench` (builds first, then runs this file).
//
// Starts the built server against a throw-away PostgreSQL database, hammers three endpoints with
// autocannon over loopback for a fixed time each, checks every response had the expected status,
// prints a table and writes bench/results.json. Exits non-zero if any check fails.
//
// Environment:
//   BENCH_DURATION      seconds per scenario (default 10)
//   BENCH_CONNECTIONS   concurrent connections (default 50)
//   BENCH_DATABASE_URL  database to connect to for CREATE/DROP DATABASE
//                       (default postgres://postgres@127.0.0.1:5432/test)

import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER_ENTRY = fileURLToPath(new URL('../dist/server.js', import.meta.url));
const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));

const BENCH_DATABASE = 'registrar_bench';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const SEED_CLIENTS = 100;
const REGISTER_BODY = JSON.stringify({
  redirect_uris: ['https://rp.example/cb'],
  client_name: 'bench',
  token_endpoint_auth_method: 'client_secret_basic',
});

// ---------------------------------------------------------------------------------------------
// Settings

function positiveInteger(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return Number(raw);
}

function readSettings() {
  const adminUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  // Same server and credentials as the admin connection, only the database name differs.
  const benchUrl = new URL(adminUrl);
  benchUrl.pathname = `/${BENCH_DATABASE}`;
  return {
    duration: positiveInteger('BENCH_DURATION', 10),
    connections: positiveInteger('BENCH_CONNECTIONS', 50),
    adminUrl,
    benchUrl: benchUrl.href,
  };
}

// ---------------------------------------------------------------------------------------------
// Database

async function withAdminClient(adminUrl, work) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database every run, so earlier runs' rows do not change the figures. */
async function recreateDatabase(adminUrl) {
  await withAdminClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE}`);
    await client.query(`CREATE DATABASE ${BENCH_DATABASE}`);
  });
}

async function dropDatabase(adminUrl) {
  await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE}`));
}

// ---------------------------------------------------------------------------------------------
// Server process

/** Asks the kernel for an unused loopback port; the server binds it a moment later. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node dist/server.js`. The environment is built from scratch rather than inherited so a
 * developer's shell (REGISTRATION_INITIAL_ACCESS_TOKEN, NODE_OPTIONS, ...) cannot skew the run.
 * Output is kept (last lines only) to explain a failure, and counted: at LOG_LEVEL=warn every
 * line is a warning or an error, which a clean run should not have.
 */
function startServer(port, databaseUrl) {
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: `http://127.0.0.1:${port}`,
      DATABASE_URL: databaseUrl,
      SECRETS_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = { child, logLines: 0, logTail: [], exited: false };
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      server.logLines += 1;
      server.logTail.push(line);
      if (server.logTail.length > 20) server.logTail.shift();
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('exit', () => {
    server.exited = true;
  });
  return server;
}

async function waitForReady(baseUrl, server) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exited) throw new Error(`server exited during start-up (code ${server.child.exitCode})`);
    try {
      const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet; try again.
    }
    await sleep(200);
  }
  throw new Error(`server not ready (GET /readyz != 200) within ${READY_TIMEOUT_MS / 1000} s`);
}

/** SIGTERM lets the server drain and close its pool, which DROP DATABASE needs. */
async function stopServer(server) {
  if (server.exited) return server.child.exitCode;
  const exit = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const [code, signal] = await exit;
  clearTimeout(timer);
  return code ?? signal;
}

/** Resident and peak resident memory of the server, in MiB. */
function serverMemory(pid) {
  const statusFile = `/proc/${pid}/status`;
  if (existsSync(statusFile)) {
    const status = readFileSync(statusFile, 'utf8');
    const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
  }
  // Not Linux: ps reports the current RSS only.
  const kib = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim());
  return { rssMiB: kib / 1024, peakRssMiB: null };
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
 * Each scenario: path, autocannon options, and the one status code every response must have.
 * autocannon takes the path from `url` only (a `path` option is silently ignored).
 */
function scenarios(clients) {
  let next = 0;
  return [
    {
      name: 'GET discovery',
      expectedStatus: 200,
      path: '/.well-known/openid-configuration',
      options: { method: 'GET' },
    },
    {
      name: 'POST /register',
      expectedStatus: 201,
      path: '/register',
      options: { method: 'POST', headers: { 'content-type': 'application/json' }, body: REGISTER_BODY },
    },
    {
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
  ];
}

let running; // the autocannon run in progress, so Ctrl-C can stop it
let aborted = false; // set by Ctrl-C

async function runScenario(baseUrl, scenario, settings) {
  running = autocannon({
    url: `${baseUrl}${scenario.path}`,
    connections: settings.connections,
    duration: settings.duration,
    ...scenario.options,
  });
  try {
    return await running;
  } finally {
    running = undefined;
  }
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

function summarise(scenario, result, memory) {
  return {
    scenario: scenario.name,
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    totalRequests: result.requests.total,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([s, { count }]) => [s, count])),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    serverRssMiBAfter: round(memory.rssMiB),
    problems: problems(scenario, result),
  };
}

// ---------------------------------------------------------------------------------------------
// Output

function round(value, digits = 1) {
  return value === null ? null : Number(value.toFixed(digits));
}

function printTable(rows) {
  const header = ['scenario', 'req/s (avg)', 'p50 ms', 'p99 ms', 'requests', 'RSS after MiB', 'status'];
  const lines = rows.map((r) => [
    r.scenario,
    r.requestsPerSecond.toFixed(0),
    String(r.latencyP50Ms),
    String(r.latencyP99Ms),
    String(r.totalRequests),
    r.serverRssMiBAfter.toFixed(1),
    r.problems.length === 0 ? 'ok' : 'FAILED',
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
  await recreateDatabase(settings.adminUrl);

  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = startServer(port, settings.benchUrl);
  const report = { rows: [], server, memory: null, stopResult: null };
  try {
    await waitForReady(baseUrl, server);
    console.log(
      `oidc-registrar bench: node ${process.version}, ${cpus().length} CPUs, ` +
        `${settings.connections} connections, ${settings.duration} s per scenario, ${baseUrl}`,
    );
    const clients = await registerClients(baseUrl, SEED_CLIENTS);
    for (const scenario of scenarios(clients)) {
      if (aborted) throw new Error('interrupted');
      process.stdout.write(`running ${scenario.name} ...\n`);
      const result = await runScenario(baseUrl, scenario, settings);
      if (aborted) throw new Error('interrupted');
      if (server.exited) throw new Error(`server exited during "${scenario.name}" (code ${server.child.exitCode})`);
      report.rows.push(summarise(scenario, result, serverMemory(server.child.pid)));
    }
    report.memory = serverMemory(server.child.pid);
    return report;
  } catch (error) {
    if (server.logTail.length > 0) console.error(`last server output:\n${server.logTail.join('\n')}`);
    throw error;
  } finally {
    report.stopResult = await stopServer(server);
    // Reported, not thrown: an error here must not hide the one that got us here.
    await dropDatabase(settings.adminUrl).catch((error) =>
      console.error(`could not drop database ${BENCH_DATABASE}: ${error.message}`),
    );
  }
}

process.once('SIGINT', () => {
  // Stop the load; bench() then stops the server and drops the database as usual.
  aborted = true;
  running?.stop();
});

async function main() {
  const settings = readSettings();
  const report = await bench(settings);
  const failed = report.rows.filter((r) => r.problems.length > 0);
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    durationSeconds: settings.duration,
    connections: settings.connections,
    seededClients: SEED_CLIENTS,
    scenarios: report.rows,
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
  console.log('');
  console.log(
    `server RSS after run: ${results.server.rssMiB} MiB (peak ${results.server.peakRssMiB ?? 'n/a'} MiB); ` +
      `node ${process.version}; server exit on SIGTERM: ${report.stopResult}`,
  );
  if (report.server.logLines > 0) console.log(`note: the server logged ${report.server.logLines} warning/error lines`);
  console.log(`results written to ${RESULTS_FILE}`);

  for (const row of failed) console.error(`FAILED ${row.scenario}: ${row.problems.join('; ')}`);
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
