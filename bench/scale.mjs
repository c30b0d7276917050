// BENCH_SCALE=1: does the cost of our hot paths stay flat as clients pile up (issue 10)?
//
// Ours on a fresh database: 1,000 clients registered over HTTP (their registration tokens are what
// the read workload uses, so reads spread over many rows, not one hot one), then read, token
// private_key_jwt and register measured (BENCH_ROUNDS rounds each, median; register last since it
// adds clients); then clients bulk-loaded by SQL up to BENCH_SCALE_CLIENTS (default 10^6) in the
// same INSERT ... SELECT generate_series form as the admin-list scenario, and the same three
// measured again, reading the same 1,000 clients. Reported: the change per workload (target
// within 10 %, reported, not enforced), and bytes per stored client (the clients table with its
// indexes and TOAST over its row count; the whole database's growth too).
//
// Environment: BENCH_DURATION (default 10), BENCH_CONNECTIONS (default 32), BENCH_ROUNDS
// (default 3), BENCH_WARMUP (default 2 s, unmeasured, per workload and size), BENCH_SCALE_CLIENTS (default 1000000), BENCH_ASSERTION_RATE, BENCH_DATABASE_URL,
// BENCH_DATABASE_NAME, BENCH_SERVER_ENV.

import { cpus, loadavg } from 'node:os';
import { cpuSince, cpuSnapshot } from './cpu-usage.mjs';
import { bulkLoadClients, databaseSettings, databaseUrl, dropDatabase, recreateDatabase, withClient } from './database.mjs';
import { interruption, loadProblems, median, printTable, round, runLoad, writeResults } from './load.mjs';
import { positiveInteger, serverEnvFromEnvironment } from './settings.mjs';
import { startOurs, stopTargets } from './targets.mjs';
import { MAX_TOKEN_SCENARIO_SECONDS } from './token-load.mjs';
import { registerReadClients, workload } from './workloads.mjs';

const READ_CLIENTS = 1000;
/** register last: it adds the clients it registers. */
const SCALE_WORKLOADS = ['read', 'token-pkjwt', 'register'];
const CHANGE_TARGET_PERCENT = 10;

function readSettings() {
  const settings = {
    duration: positiveInteger('BENCH_DURATION', 10),
    connections: positiveInteger('BENCH_CONNECTIONS', 32),
    rounds: positiveInteger('BENCH_ROUNDS', 3),
    warmUp: positiveInteger('BENCH_WARMUP', 2),
    assertionRate: positiveInteger('BENCH_ASSERTION_RATE', 30000),
    largeSize: positiveInteger('BENCH_SCALE_CLIENTS', 1_000_000),
    serverEnv: serverEnvFromEnvironment(),
    ...databaseSettings(),
  };
  if (settings.duration > MAX_TOKEN_SCENARIO_SECONDS) throw new Error(`BENCH_DURATION ${settings.duration} s is too long for the token workload (at most ${MAX_TOKEN_SCENARIO_SECONDS} s)`);
  return settings;
}

/** Rows, the clients table's size (indexes and TOAST included) and the database's. */
async function storage(url) {
  return withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT (SELECT count(*) FROM clients)::bigint AS rows,
              pg_total_relation_size('clients')::bigint AS table_bytes,
              pg_database_size(current_database())::bigint AS database_bytes`,
    );
    return { rows: Number(rows[0].rows), tableBytes: Number(rows[0].table_bytes), databaseBytes: Number(rows[0].database_bytes) };
  });
}

async function measurePhase(label, ours, settings) {
  const phase = {};
  for (const key of SCALE_WORKLOADS) {
    const w = workload(key);
    const runs = [];
    // unmeasured (BENCH_WARMUP): JIT compilation and cold caches would fall on round 1 of the small phase only
    const warm = await w.prepare(ours, { ...settings, duration: settings.warmUp });
    await runLoad(`${ours.url}${warm.path}`, { duration: settings.warmUp, connections: settings.connections, ...warm.options });
    for (let r = 0; r < settings.rounds; r += 1) {
      const prepared = await w.prepare(ours, settings);
      const before = cpuSnapshot(ours.server.child.pid);
      const result = await runLoad(`${ours.url}${prepared.path}`, { duration: settings.duration, connections: settings.connections, ...prepared.options });
      const cpu = cpuSince(before, ours.server.child.pid);
      if (interruption.requested) throw new Error('interrupted');
      const problems = [...loadProblems(result, w.expectedStatus), ...(prepared.problems ? prepared.problems() : [])];
      runs.push({ requestsPerSecond: result.requests.average, latencyP50Ms: result.latencyExact.p50, latencyP99Ms: result.latencyExact.p99, totalRequests: result.requests.total, otherCores: cpu.otherCores, problems });
      console.log(`${label}, ${w.name}, round ${r + 1}/${settings.rounds}: ${result.requests.average.toFixed(0)} req/s, p50 ${result.latencyExact.p50} ms, p99 ${result.latencyExact.p99} ms${problems.length > 0 ? ` FAILED: ${problems.join('; ')}` : ''}`);
    }
    phase[key] = {
      name: w.name,
      requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
      latencyP50Ms: round(median(runs.map((r) => r.latencyP50Ms)), 3),
      latencyP99Ms: round(median(runs.map((r) => r.latencyP99Ms)), 3),
      runs,
    };
  }
  return phase;
}

async function scale(settings) {
  const url = databaseUrl(settings.adminUrl, settings.name);
  await recreateDatabase(settings.adminUrl, settings.name);
  const started = [];
  try {
    const ours = await startOurs(started, url, { serverEnv: settings.serverEnv });
    console.log(`oidc-registrar scale: node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${settings.connections} connections, ${settings.duration} s per run, ${settings.rounds} rounds`);
    let at = Date.now();
    ours.readClients = await registerReadClients(ours.url, READ_CLIENTS);
    console.log(`registered ${READ_CLIENTS} clients over HTTP in ${((Date.now() - at) / 1000).toFixed(1)} s`);
    const small = { before: await storage(url) };
    small.results = await measurePhase(`${small.before.rows} clients`, ours, settings);

    const beforeLoad = await storage(url);
    const count = settings.largeSize - beforeLoad.rows;
    at = Date.now();
    if (count > 0) await bulkLoadClients(url, count);
    // settle the load as a live table would be: vacuumed (visibility map and hint bits set, so the
    // first reads do not write every page) and checkpointed (its WAL not flushed during the runs)
    await withClient(url, async (client) => {
      await client.query('VACUUM (ANALYZE) clients');
      await client.query('CHECKPOINT');
    });
    const loadSeconds = (Date.now() - at) / 1000;
    const afterLoad = await storage(url);
    console.log(`bulk-loaded ${count} clients by SQL in ${loadSeconds.toFixed(1)} s: ${afterLoad.rows} stored`);
    const large = { before: afterLoad };
    large.results = await measurePhase(`${afterLoad.rows} clients`, ours, settings);
    return { small, large, beforeLoad, afterLoad, loadedRows: count, loadSeconds };
  } finally {
    await stopTargets(started);
    await dropDatabase(settings.adminUrl, settings.name).catch((error) => console.error(`could not drop database ${settings.name}: ${error.message}`));
  }
}

export async function main() {
  const settings = readSettings();
  const report = await scale(settings);
  const changes = SCALE_WORKLOADS.map((key) => {
    const s = report.small.results[key];
    const l = report.large.results[key];
    const changePercent = (100 * (l.requestsPerSecond - s.requestsPerSecond)) / s.requestsPerSecond;
    const problems = [...s.runs, ...l.runs].flatMap((r) => r.problems);
    return { key, name: s.name, small: s, large: l, changePercent: round(changePercent), withinTarget: Math.abs(changePercent) <= CHANGE_TARGET_PERCENT, problems };
  });
  const perRow = (s) => s.tableBytes / s.rows;
  const bytes = {
    tableBytesPerClientAtSmall: Math.round(perRow(report.beforeLoad)),
    tableBytesPerClientAtLarge: Math.round(perRow(report.afterLoad)),
    tableBytesPerLoadedClient: Math.round((report.afterLoad.tableBytes - report.beforeLoad.tableBytes) / report.loadedRows),
    databaseGrowthBytes: report.afterLoad.databaseBytes - report.beforeLoad.databaseBytes,
    databaseBytesPerLoadedClient: Math.round((report.afterLoad.databaseBytes - report.beforeLoad.databaseBytes) / report.loadedRows),
  };

  console.log('');
  printTable(
    ['workload (req/s, median)', `${report.small.before.rows} clients`, `${report.large.before.rows} clients`, 'change', `within ${CHANGE_TARGET_PERCENT}%`, 'p50/p99 ms small', 'p50/p99 ms large', 'checks'],
    changes.map((c) => [
      c.name,
      c.small.requestsPerSecond.toFixed(0),
      c.large.requestsPerSecond.toFixed(0),
      `${c.changePercent >= 0 ? '+' : ''}${c.changePercent.toFixed(1)}%`,
      c.withinTarget ? 'yes' : 'NO',
      `${c.small.latencyP50Ms}/${c.small.latencyP99Ms}`,
      `${c.large.latencyP50Ms}/${c.large.latencyP99Ms}`,
      c.problems.length === 0 ? 'ok' : 'FAILED',
    ]),
  );
  console.log('');
  console.log(
    `bytes per stored client (clients table incl. indexes and TOAST / rows): ${bytes.tableBytesPerClientAtLarge} at ${report.afterLoad.rows} rows ` +
      `(${bytes.tableBytesPerClientAtSmall} at ${report.beforeLoad.rows}; ${bytes.tableBytesPerLoadedClient} per bulk-loaded client); ` +
      `database grew by ${(bytes.databaseGrowthBytes / 2 ** 20).toFixed(1)} MiB for ${report.loadedRows} clients (${bytes.databaseBytesPerLoadedClient} bytes each)`,
  );
  console.log(`(the register workload runs last at each size and adds the clients it registers: the sizes above are those at the start of each phase)`);
  writeResults('scale', {
    durationSeconds: settings.duration,
    connections: settings.connections,
    rounds: settings.rounds,
    serverEnv: settings.serverEnv,
    readClients: READ_CLIENTS,
    storage: { beforeLoad: report.beforeLoad, afterLoad: report.afterLoad, bulkLoadSeconds: round(report.loadSeconds), ...bytes },
    changeTargetPercent: CHANGE_TARGET_PERCENT,
    workloads: changes,
    ok: changes.every((c) => c.problems.length === 0),
  });
  const failed = changes.filter((c) => c.problems.length > 0);
  for (const c of failed) console.error(`FAILED ${c.name}: ${c.problems.join('; ')}`);
  return failed.length === 0 ? 0 : 1;
}
