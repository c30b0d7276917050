// BENCH_SOAK_SECONDS=600: does our server's memory stay flat under a steady load (issue 10)?
//
// Ours only, on a fresh database, for that many seconds at a fixed overall rate (BENCH_SOAK_RATE
// requests/s, default 400) over BENCH_CONNECTIONS connections (default 32): each connection cycles
// through POST /token (private_key_jwt ES256, a fresh assertion each), POST /register, an RFC 7592
// read (100 clients in turn) and GET discovery, so each takes a quarter of the rate. Assertions live
// 120 s, so they cannot all be signed up front: they are signed in chunks of CHUNK_SECONDS' worth
// while the run goes on, and any request that finds none (or a stale one) is counted as a problem.
// The server's RSS is sampled every 10 s; reported: RSS at 60 s, at the end, and the growth between
// them against the bound (10 % of the 60 s figure, at most 32 MiB; reported, not enforced).

import { cpus, loadavg } from 'node:os';
import { databaseSettings, databaseUrl, dropDatabase, recreateDatabase } from './database.mjs';
import { interruption, printTable, round, runLoad, writeResults } from './load.mjs';
import { serverMemory } from './processes.mjs';
import { positiveInteger, serverEnvFromEnvironment } from './settings.mjs';
import { startOurs, stopTargets } from './targets.mjs';
import { ASSERTION_LIFETIME_SECONDS, JWT_BEARER_ASSERTION_TYPE, signAssertions } from './token-load.mjs';
import { DISCOVERY_PATH, READ_CLIENTS, registerReadClients, registerTokenClient } from './workloads.mjs';

const SAMPLE_SECONDS = 10;
const BASELINE_SECONDS = 60;
const GROWTH_BOUND_PERCENT = 10;
const GROWTH_BOUND_MIB = 32;
/** Each chunk of assertions covers this many seconds of token requests. */
const CHUNK_SECONDS = 20;
/** An assertion older than this is dropped, not sent: it must reach the server well before exp. */
const MAX_ASSERTION_AGE_SECONDS = ASSERTION_LIFETIME_SECONDS - 30;
const REGISTER_BODY = JSON.stringify({ redirect_uris: ['https://rp.example/cb'], client_name: 'soak', token_endpoint_auth_method: 'client_secret_basic' });

function readSettings() {
  const settings = {
    seconds: positiveInteger('BENCH_SOAK_SECONDS', 600),
    rate: positiveInteger('BENCH_SOAK_RATE', 400),
    connections: positiveInteger('BENCH_CONNECTIONS', 32),
    serverEnv: serverEnvFromEnvironment(),
    ...databaseSettings(),
  };
  if (settings.seconds < 2 * BASELINE_SECONDS) throw new Error(`BENCH_SOAK_SECONDS must be at least ${2 * BASELINE_SECONDS}: growth is measured after the ${BASELINE_SECONDS} s mark`);
  return settings;
}

/**
 * Assertions for the token requests, signed CHUNK_SECONDS' worth at a time whenever fewer than
 * one chunk is left, each handed out once.
 */
function assertionSupply(client, issuer, tokenRate) {
  const chunk = Math.ceil(tokenRate * CHUNK_SECONDS * 1.25);
  const queue = [];
  const state = { signed: 0, signingSeconds: 0, chunks: 0, starved: 0, stale: 0 };
  const refill = () => {
    while (queue.length < chunk) {
      const batch = signAssertions({ count: chunk, clientId: client.clientId, audience: issuer, alg: 'ES256', key: client.key, kid: client.kid });
      for (const assertion of batch.assertions) queue.push({ assertion, iat: batch.iat });
      state.signed += chunk;
      state.chunks += 1;
      state.signingSeconds += batch.signingSeconds;
    }
  };
  refill();
  refill();
  const timer = setInterval(refill, 1000);
  return {
    state,
    take() {
      const now = Math.floor(Date.now() / 1000);
      while (queue.length > 0 && now - queue[0].iat > MAX_ASSERTION_AGE_SECONDS) {
        queue.shift();
        state.stale += 1;
      }
      const next = queue.shift();
      if (next === undefined) state.starved += 1;
      return next?.assertion;
    },
    stop: () => clearInterval(timer),
  };
}

/** The four requests each connection cycles through, each counting its own answers. */
function mixedRequests(supply, readClients, counts) {
  let nextRead = 0;
  const counted = (kind, expected) => (status) => {
    const c = counts[kind];
    if (status === expected) c.ok += 1;
    else c.unexpected[status] = (c.unexpected[status] ?? 0) + 1;
  };
  const tokenPrefix = `grant_type=client_credentials&client_assertion_type=${encodeURIComponent(JWT_BEARER_ASSERTION_TYPE)}&client_assertion=`;
  return [
    {
      method: 'POST',
      path: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      setupRequest: (request) => {
        const assertion = supply.take();
        // none left: a request the server refuses (401), counted, rather than a reused assertion
        return { ...request, body: tokenPrefix + (assertion ?? 'none') };
      },
      onResponse: counted('token', 200),
    },
    { method: 'POST', path: '/register', headers: { 'content-type': 'application/json' }, body: REGISTER_BODY, onResponse: counted('register', 201) },
    {
      method: 'GET',
      path: '/register',
      setupRequest: (request) => {
        const client = readClients[nextRead++ % readClients.length];
        return { ...request, path: client.path, headers: { ...request.headers, authorization: client.authorization } };
      },
      onResponse: counted('read', 200),
    },
    { method: 'GET', path: DISCOVERY_PATH, onResponse: counted('discovery', 200) },
  ];
}

async function soak(settings) {
  const url = databaseUrl(settings.adminUrl, settings.name);
  await recreateDatabase(settings.adminUrl, settings.name);
  const started = [];
  try {
    const ours = await startOurs(started, url, { serverEnv: settings.serverEnv });
    console.log(
      `oidc-registrar soak: node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
        `${settings.seconds} s at ${settings.rate} req/s over ${settings.connections} connections (token, register, read, discovery in turn)`,
    );
    const readClients = await registerReadClients(ours.url, READ_CLIENTS);
    const tokenClient = await registerTokenClient(ours.url, 'ES256');
    const supply = assertionSupply(tokenClient, ours.issuer, settings.rate / 4);
    const counts = Object.fromEntries(['token', 'register', 'read', 'discovery'].map((k) => [k, { ok: 0, unexpected: {} }]));
    const pid = ours.server.child.pid;
    const startedAt = Date.now();
    const samples = [{ seconds: 0, ...serverMemory(pid) }];
    const sampler = setInterval(() => {
      samples.push({ seconds: Math.round((Date.now() - startedAt) / 1000), ...serverMemory(pid) });
      const last = samples.at(-1);
      console.log(`  ${last.seconds} s: RSS ${last.rssMiB.toFixed(1)} MiB`);
    }, SAMPLE_SECONDS * 1000);
    let result;
    try {
      result = await runLoad(ours.url, { duration: settings.seconds, connections: settings.connections, overallRate: settings.rate, requests: mixedRequests(supply, readClients, counts) });
    } finally {
      clearInterval(sampler);
      supply.stop();
    }
    if (interruption.requested) throw new Error('interrupted');
    samples.push({ seconds: Math.round((Date.now() - startedAt) / 1000), ...serverMemory(pid) });
    return { result, samples, counts, supply: supply.state, exited: ours.server.exited };
  } finally {
    await stopTargets(started);
    await dropDatabase(settings.adminUrl, settings.name).catch((error) => console.error(`could not drop database ${settings.name}: ${error.message}`));
  }
}

export async function main() {
  const settings = readSettings();
  const report = await soak(settings);
  const { samples, counts, result } = report;
  const baseline = samples.find((s) => s.seconds >= BASELINE_SECONDS) ?? samples.at(-1);
  const end = samples.at(-1);
  const growthMiB = end.rssMiB - baseline.rssMiB;
  const boundMiB = Math.min(GROWTH_BOUND_MIB, (baseline.rssMiB * GROWTH_BOUND_PERCENT) / 100);
  const problems = [];
  for (const [kind, c] of Object.entries(counts)) {
    for (const [status, n] of Object.entries(c.unexpected)) problems.push(`${kind}: ${n} × HTTP ${status}`);
  }
  if (result.errors > 0) problems.push(`${result.errors} errors`);
  if (result.timeouts > 0) problems.push(`${result.timeouts} timeouts`);
  if (report.supply.starved > 0) problems.push(`${report.supply.starved} token requests found no assertion (the signing fell behind)`);
  if (report.exited) problems.push('the server exited during the run');

  console.log('');
  printTable(
    ['requests', 'answered as expected', 'other'],
    Object.entries(counts).map(([kind, c]) => [kind, String(c.ok), Object.entries(c.unexpected).map(([s, n]) => `${n}×${s}`).join(' ') || '-']),
  );
  console.log(`overall: ${result.requests.average.toFixed(0)} req/s (asked ${settings.rate}), p50 ${result.latencyExact.p50} ms, p99 ${result.latencyExact.p99} ms`);
  console.log(`assertions: ${report.supply.signed} signed in ${report.supply.chunks} chunks (${report.supply.signingSeconds.toFixed(1)} s of signing), ${report.supply.stale} dropped as stale, ${report.supply.starved} requests found none`);
  console.log(
    `our server's RSS: ${baseline.rssMiB.toFixed(1)} MiB at ${baseline.seconds} s, ${end.rssMiB.toFixed(1)} MiB at ${end.seconds} s (peak ${end.peakRssMiB?.toFixed(1) ?? 'n/a'} MiB): ` +
      `growth ${growthMiB >= 0 ? '+' : ''}${growthMiB.toFixed(1)} MiB; bound ${boundMiB.toFixed(1)} MiB (${GROWTH_BOUND_PERCENT}% of the ${BASELINE_SECONDS} s figure, at most ${GROWTH_BOUND_MIB} MiB): ` +
      `${growthMiB <= boundMiB ? 'met' : 'NOT met'} (reported, not enforced)`,
  );
  writeResults('soak', {
    seconds: settings.seconds,
    rate: settings.rate,
    connections: settings.connections,
    serverEnv: settings.serverEnv,
    requestsPerSecond: round(result.requests.average),
    latencyP50Ms: result.latencyExact.p50,
    latencyP99Ms: result.latencyExact.p99,
    counts,
    assertions: report.supply,
    rss: { samples: samples.map((s) => ({ seconds: s.seconds, rssMiB: round(s.rssMiB) })), atBaselineMiB: round(baseline.rssMiB), atEndMiB: round(end.rssMiB), growthMiB: round(growthMiB), boundMiB: round(boundMiB), met: growthMiB <= boundMiB },
    problems,
    ok: problems.length === 0,
  });
  for (const p of problems) console.error(`FAILED: ${p}`);
  return problems.length === 0 ? 0 : 1;
}
