// The issue-10 comparison, `npm run bench` by default.
//
// Per workload, ours against node-oidc-provider 9.13 (bench/peer/) durable on PostgreSQL and in its
// default in-memory mode, and for the static documents against bare Fastify and bare node:http
// serving our exact bytes (bench/ceiling-servers.mjs). Every server is a child process of its own.
// Each workload runs in BENCH_ROUNDS rounds (default 3); in each round every target of it runs
// once, the order rotated from round to round so drift on the machine falls on all of them; the
// median of the rounds is reported per target. Ours runs back to back with the target its ratio
// is closest to (PARTNER), and each ratio is the median of the rounds' own ratios: the machine's
// speed drifts over minutes. The issue's targets are reported, not enforced.
//
// Environment:
//   BENCH_DURATION        seconds per run (default 10; at most 90: assertions are signed before a run)
//   BENCH_CONNECTIONS     concurrent connections (default 32)
//   BENCH_ROUNDS          rounds per workload (default 3)
//   BENCH_WARMUP          seconds of unmeasured load on each target before a workload's rounds (default 2)
//   BENCH_WORKLOADS       comma-separated subset of discovery, jwks, register, read, token-pkjwt,
//                         token-csjwt (default all)
//   BENCH_ASSERTION_RATE  upper bound on token requests per second, to size each run's assertion
//                         pool: duration × this many are signed before each token run (default 30000)
//   BENCH_DATABASE_URL    connection for CREATE/DROP DATABASE (default postgres://postgres@127.0.0.1:5432/test)
//   BENCH_DATABASE_NAME   our fresh database (default registrar_bench); the durable peer's is <name>_peer
//   BENCH_PROFILE=1       our server under --cpu-prof; its summary is printed after the run
//   BENCH_SERVER_ENV      extra settings of our server, "NAME=value NAME=value"

import { existsSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { cpuSince, cpuSnapshot } from './cpu-usage.mjs';
import { summariseProfileFile } from './cpuprofile-summary.mjs';
import { databaseSettings, databaseUrl, dropDatabase, recreateDatabase, withClient } from './database.mjs';
import { interruption, loadProblems, median, printTable, round, runLoad, writeResults } from './load.mjs';
import { PROFILE_DIR, SERVER_ENTRY, serverMemory } from './processes.mjs';
import { positiveInteger, serverEnvFromEnvironment } from './settings.mjs';
import { startCeilings, startOurs, startPeer, stopTargets, TARGET_LABELS } from './targets.mjs';
import { JWT_BEARER_ASSERTION_TYPE, MAX_TOKEN_SCENARIO_SECONDS, signAssertions } from './token-load.mjs';
import { WORKLOADS, registerTokenClient } from './workloads.mjs';

const PEERS = ['peer-durable', 'peer-memory'];
const CEILINGS = ['bare-fastify', 'bare-http'];

/** The issue's targets: each a ratio of ours to another target, or of p99 to p50. */
const TARGETS = [
  { workloads: ['discovery', 'jwks'], against: 'bare-fastify', atLeast: 0.7 },
  { workloads: ['token-pkjwt', 'token-csjwt'], against: 'peer-memory', atLeast: 1.0 },
  { workloads: ['token-pkjwt', 'token-csjwt'], against: 'peer-durable', atLeast: 3.0 },
  { workloads: ['register'], against: 'peer-durable', atLeast: 2.5 },
  { workloads: ['read'], against: 'peer-memory', atLeast: 1.0 },
];
const P99_OVER_P50_AT_MOST = 2;

function readSettings() {
  const keys = WORKLOADS.map((w) => w.key);
  const only = (process.env.BENCH_WORKLOADS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = only.filter((key) => !keys.includes(key));
  if (unknown.length > 0) throw new Error(`BENCH_WORKLOADS: unknown ${unknown.join(', ')}; choose from ${keys.join(', ')}`);
  const settings = {
    duration: positiveInteger('BENCH_DURATION', 10),
    connections: positiveInteger('BENCH_CONNECTIONS', 32),
    rounds: positiveInteger('BENCH_ROUNDS', 3),
    warmUp: positiveInteger('BENCH_WARMUP', 2),
    assertionRate: positiveInteger('BENCH_ASSERTION_RATE', 30000),
    workloads: only.length > 0 ? only : keys,
    profile: process.env.BENCH_PROFILE === '1',
    serverEnv: serverEnvFromEnvironment(),
    ...databaseSettings(),
  };
  if (settings.duration > MAX_TOKEN_SCENARIO_SECONDS && settings.workloads.some((key) => key.startsWith('token-'))) {
    throw new Error(`BENCH_DURATION ${settings.duration} s is too long for the token workloads: their assertions must not expire during a run (at most ${MAX_TOKEN_SCENARIO_SECONDS} s)`);
  }
  return settings;
}

/** The targets a workload runs against: the peers for every workload, the ceilings for static documents. */
function targetsOf(workload, all) {
  const keys = ['ours', ...PEERS, ...(workload.static ? CEILINGS : [])];
  return keys.map((key) => all.find((t) => t.key === key));
}

/** Round r starts with the r-th item: each takes each place in the order over the rounds. */
function rotated(list, round) {
  const shift = round % list.length;
  return [...list.slice(shift), ...list.slice(0, shift)];
}

/**
 * The target each workload's closest target weighs ours against. The machine's speed drifts by
 * 20% over minutes (shared cores): ours and this target run back to back in every round, in
 * turn first, and the ratio is the median of the rounds' own ratios.
 */
const PARTNER = { discovery: 'bare-fastify', jwks: 'bare-fastify', register: 'peer-durable', read: 'peer-memory', 'token-pkjwt': 'peer-memory', 'token-csjwt': 'peer-memory' };

/** Round r's order: ours and its partner as one unit among the others, the units rotated. */
function roundOrder(workload, targets, round) {
  const ours = targets.find((t) => t.key === 'ours');
  const partner = targets.find((t) => t.key === PARTNER[workload.key]);
  if (partner === undefined) return rotated(targets, round);
  const pair = round % 2 === 0 ? [ours, partner] : [partner, ours];
  return rotated([pair, ...targets.filter((t) => t !== ours && t !== partner).map((t) => [t])], round).flat();
}

/** Ours over `against` in each round, and their median. */
function roundRatios(row, against) {
  const ours = row.runs.ours ?? [];
  const other = row.runs[against] ?? [];
  const each = ours.map((run, i) => (other[i] ? run.requestsPerSecond / other[i].requestsPerSecond : null)).filter((v) => v !== null);
  return { each, median: median(each) };
}

/** One timed run of `workload` against `target`. */
async function measure(workload, target, settings) {
  const prepared = await workload.prepare(target, settings);
  const pid = target.server.child.pid;
  const before = cpuSnapshot(pid);
  const result = await runLoad(`${target.url}${prepared.path}`, { duration: settings.duration, connections: settings.connections, ...prepared.options });
  const cpu = cpuSince(before, pid);
  if (interruption.requested) throw new Error('interrupted');
  const problems = [...loadProblems(result, workload.expectedStatus), ...(prepared.problems ? prepared.problems() : [])];
  if (target.server.exited) problems.push(`${target.label} exited during the run (code ${target.server.child.exitCode})`);
  return {
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latencyExact.p50,
    latencyP99Ms: result.latencyExact.p99,
    totalRequests: result.requests.total,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([s, { count }]) => [s, count])),
    // cores busy during the run: the target's main thread and other threads, PostgreSQL, the load
    // generator, and everything else on the machine (other people's work competes for the cores)
    cores: { server: cpu.serverMainCores, serverThreads: cpu.serverOtherThreadCores, postgres: cpu.postgresCores, bench: cpu.benchCores, other: cpu.otherCores },
    ...(prepared.details ? prepared.details() : {}),
    problems,
  };
}

/** What a client_credentials access token of `target` is: a JWT (its header) or opaque. */
async function describeAccessToken(target) {
  const client = await registerTokenClient(target.url, 'ES256');
  const [assertion] = signAssertions({ count: 1, clientId: client.clientId, audience: target.issuer, alg: 'ES256', key: client.key, kid: client.kid }).assertions;
  const response = await fetch(`${target.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: assertion }),
  });
  const body = await response.json();
  if (response.status !== 200 || typeof body.access_token !== 'string') throw new Error(`${target.label}: POST /token gave ${response.status} ${JSON.stringify(body)}`);
  const parts = body.access_token.split('.');
  if (parts.length !== 3) return 'opaque';
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  return `JWT ${header.alg} typ ${header.typ}, aud ${claims.aud === target.issuer ? 'the issuer' : JSON.stringify(claims.aud)}, ${claims.exp - claims.iat} s`;
}

/** What the durable peer stored, by model: the evidence of what each of its requests writes. */
async function peerRows(url) {
  return withClient(url, async (client) => {
    const { rows } = await client.query('SELECT model, count(*)::int AS rows FROM oidc_payloads GROUP BY model ORDER BY model');
    return Object.fromEntries(rows.map((r) => [r.model, r.rows]));
  });
}

function summarise(runs) {
  return {
    requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
    latencyP50Ms: round(median(runs.map((r) => r.latencyP50Ms)), 3),
    latencyP99Ms: round(median(runs.map((r) => r.latencyP99Ms)), 3),
    problems: runs.flatMap((r, i) => r.problems.map((p) => `round ${i + 1}: ${p}`)),
  };
}

function evaluateTargets(results) {
  const verdicts = [];
  for (const target of TARGETS) {
    for (const key of target.workloads) {
      const row = results[key];
      if (!row?.medians[target.against]) continue;
      const { each, median: value } = roundRatios(row, target.against);
      verdicts.push({
        workload: key,
        measure: `ours / ${TARGET_LABELS[target.against]} (median of the rounds' ratios)`,
        value: round(value, 2),
        target: `>= ${target.atLeast}`,
        met: value !== null && value >= target.atLeast,
        context: `rounds: ${each.map((v) => v.toFixed(2)).join(' ')}`,
      });
    }
  }
  for (const [key, row] of Object.entries(results)) {
    const { latencyP50Ms: p50, latencyP99Ms: p99 } = row.medians.ours;
    const value = p50 > 0 ? p99 / p50 : null;
    const others = Object.entries(row.medians)
      .filter(([target, m]) => target !== 'ours' && m.latencyP50Ms > 0)
      .map(([target, m]) => `${TARGET_LABELS[target]} ${(m.latencyP99Ms / m.latencyP50Ms).toFixed(1)}`);
    verdicts.push({ workload: key, measure: 'p99 / p50 (ours)', value: round(value, 2), target: `<= ${P99_OVER_P50_AT_MOST}`, met: value !== null && value <= P99_OVER_P50_AT_MOST, context: `same load: ${others.join(', ')}` });
  }
  return verdicts;
}

function printResults(results) {
  const rate = (m) => (m ? m.requestsPerSecond.toFixed(0) : '-');
  const times = (value) => (value === null ? '-' : `${value.toFixed(2)}x`);
  const lines = Object.entries(results).map(([key, row]) => {
    const m = row.medians;
    const ceilings = CEILINGS.filter((c) => m[c]).map((c) => `${c === 'bare-fastify' ? 'fastify' : 'http'} ${rate(m[c])}`).join(' / ');
    const ours = m.ours;
    return [
      row.name,
      rate(ours),
      rate(m['peer-durable']),
      rate(m['peer-memory']),
      ceilings || '-',
      times(roundRatios(row, 'peer-durable').median),
      times(roundRatios(row, 'peer-memory').median),
      times(roundRatios(row, 'bare-fastify').median),
      `${ours.latencyP50Ms}/${ours.latencyP99Ms}`,
      ours.latencyP50Ms > 0 ? (ours.latencyP99Ms / ours.latencyP50Ms).toFixed(1) : '-',
      row.problems.length === 0 ? 'ok' : 'FAILED',
    ];
  });
  printTable(
    ['workload (req/s, median)', 'ours', 'peer durable', 'peer in-memory', 'ceiling(s)', 'ours/peer-durable', 'ours/peer-memory', 'ours/bare-fastify', 'p50/p99 ours ms', 'p99/p50', 'checks'],
    lines,
  );
}

function printLatencies(results) {
  const lines = [];
  for (const row of Object.values(results)) {
    for (const [key, m] of Object.entries(row.medians)) {
      const runs = row.runs[key];
      lines.push([
        `${row.name}: ${TARGET_LABELS[key]}`,
        m.requestsPerSecond.toFixed(0),
        runs.map((r) => r.requestsPerSecond.toFixed(0)).join(' '),
        String(m.latencyP50Ms),
        String(m.latencyP99Ms),
        m.latencyP50Ms > 0 ? (m.latencyP99Ms / m.latencyP50Ms).toFixed(1) : '-',
        runs.map((r) => (r.cores.other === null ? '-' : r.cores.other.toFixed(2))).join(' '),
      ]);
    }
  }
  // the ceilings' and the peers' own p99 / p50 under the same load say what the machine allows
  printTable(['workload: target', 'req/s median', 'req/s per round', 'p50 ms', 'p99 ms', 'p99/p50', 'other cores per round'], lines);
}

async function compare(settings) {
  if (!existsSync(SERVER_ENTRY)) throw new Error(`${SERVER_ENTRY} is missing; run "npm run build" (or "npm run bench")`);
  const ourUrl = databaseUrl(settings.adminUrl, settings.name);
  const peerUrl = databaseUrl(settings.adminUrl, settings.peerName);
  const workloads = WORKLOADS.filter((w) => settings.workloads.includes(w.key));
  const runCount = workloads.reduce((n, w) => n + (w.static ? 5 : 3) * settings.rounds, 0);
  console.log(
    `oidc-registrar comparison: node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
      `${settings.connections} connections, ${settings.duration} s per run, ${settings.rounds} rounds: ${runCount} runs, about ${Math.ceil((runCount * (settings.duration + 2)) / 60)} min` +
      (settings.profile ? ' (ours under --cpu-prof: figures are not comparable)' : ''),
  );

  await recreateDatabase(settings.adminUrl, settings.name);
  await recreateDatabase(settings.adminUrl, settings.peerName);
  let profileFile = null;
  if (settings.profile) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    profileFile = `${PROFILE_DIR}server-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`;
  }
  const started = [];
  const report = { results: {}, accessTokens: {}, oursMemory: null, peerRows: null, exits: null, profileFile, logs: {} };
  try {
    const ours = await startOurs(started, ourUrl, { profileName: profileFile && profileFile.slice(PROFILE_DIR.length), serverEnv: settings.serverEnv });
    await startPeer(started, 'postgres', peerUrl);
    await startPeer(started, 'memory');
    if (workloads.some((w) => w.static)) await startCeilings(started, ours);
    if (workloads.some((w) => w.key.startsWith('token-'))) {
      for (const target of started.filter((t) => t.key === 'ours' || PEERS.includes(t.key))) report.accessTokens[target.key] = await describeAccessToken(target);
    }

    for (const workload of workloads) {
      const targets = targetsOf(workload, started);
      const runs = Object.fromEntries(targets.map((t) => [t.key, []]));
      // unmeasured: the first seconds of a workload pay for JIT compilation and cold caches,
      // which would land on whichever target happens to run first in round 1
      for (const target of targets) {
        const warmUp = await measure(workload, target, { ...settings, duration: settings.warmUp });
        if (warmUp.problems.length > 0) throw new Error(`${workload.name}: ${target.label} failed its warm-up: ${warmUp.problems.join('; ')}`);
      }
      for (let r = 0; r < settings.rounds; r += 1) {
        for (const target of roundOrder(workload, targets, r)) {
          process.stdout.write(`${workload.name}, round ${r + 1}/${settings.rounds}: ${target.label} ... `);
          const run = await measure(workload, target, settings);
          runs[target.key].push(run);
          console.log(`${run.requestsPerSecond.toFixed(0)} req/s, p50 ${run.latencyP50Ms} ms, p99 ${run.latencyP99Ms} ms${run.problems.length > 0 ? ` FAILED: ${run.problems.join('; ')}` : ''}`);
        }
      }
      const medians = Object.fromEntries(Object.entries(runs).map(([key, list]) => [key, summarise(list)]));
      report.results[workload.key] = { name: workload.name, medians, runs, problems: Object.entries(medians).flatMap(([key, m]) => m.problems.map((p) => `${TARGET_LABELS[key]}: ${p}`)) };
    }
    report.oursMemory = serverMemory(started[0].server.child.pid);
    report.peerRows = await peerRows(peerUrl);
    return report;
  } finally {
    for (const t of started) if (t.server.logLines > 0) report.logs[t.key] = { lines: t.server.logLines, last: t.server.logTail.slice(-3) };
    report.exits = await stopTargets(started);
    // Reported, not thrown: an error here must not hide the one that got us here.
    for (const name of [settings.name, settings.peerName]) {
      await dropDatabase(settings.adminUrl, name).catch((error) => console.error(`could not drop database ${name}: ${error.message}`));
    }
  }
}

export async function main() {
  const settings = readSettings();
  const report = await compare(settings);
  const verdicts = evaluateTargets(report.results);
  const failed = Object.entries(report.results).filter(([, row]) => row.problems.length > 0);

  console.log('');
  printResults(report.results);
  console.log('');
  printLatencies(report.results);
  console.log('');
  console.log("targets of issue 10 (reported, not enforced):");
  for (const v of verdicts) console.log(`  ${v.workload}: ${v.measure} = ${v.value ?? '-'} (target ${v.target}): ${v.met ? 'met' : 'NOT met'}${v.context ? ` (${v.context})` : ''}`);
  console.log('');
  for (const [key, description] of Object.entries(report.accessTokens)) console.log(`client_credentials access token, ${TARGET_LABELS[key]}: ${description}`);
  if (report.peerRows) console.log(`rows the durable peer stored, by model: ${Object.entries(report.peerRows).map(([m, n]) => `${m} ${n}`).join(', ') || 'none'}`);
  console.log(
    `our server's RSS after the comparison: ${report.oursMemory.rssMiB.toFixed(1)} MiB (peak ${report.oursMemory.peakRssMiB?.toFixed(1) ?? 'n/a'} MiB); exits on SIGTERM: ${Object.entries(report.exits).map(([k, c]) => `${k} ${c}`).join(', ')}`,
  );
  for (const [key, log] of Object.entries(report.logs)) console.log(`note: ${TARGET_LABELS[key]} printed ${log.lines} lines; the last: ${log.last.map((l) => l.slice(0, 200)).join(' | ')}`);

  writeResults('compare', {
    durationSeconds: settings.duration,
    connections: settings.connections,
    rounds: settings.rounds,
    serverProfiled: settings.profile,
    serverEnv: settings.serverEnv,
    serverEntry: SERVER_ENTRY,
    peer: 'oidc-provider 9.13.3 (bench/peer/oidc-provider-server.mjs)',
    accessTokens: report.accessTokens,
    peerDurableRows: report.peerRows,
    workloads: report.results,
    targets: verdicts,
    ours: { rssMiB: round(report.oursMemory.rssMiB), peakRssMiB: round(report.oursMemory.peakRssMiB) },
    exits: report.exits,
    ok: failed.length === 0,
  });
  if (report.profileFile) {
    if (existsSync(report.profileFile)) console.log(`\nour server's CPU profile: ${report.profileFile}\n${summariseProfileFile(report.profileFile, 25)}`);
    else console.error(`no CPU profile was written to ${report.profileFile} (did the server exit cleanly?)`);
  }
  for (const [key, row] of failed) console.error(`FAILED ${key}: ${row.problems.join('; ')}`);
  return failed.length === 0 ? 0 : 1;
}
