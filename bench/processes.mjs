// The processes a bench starts: our server, the peer and the ceilings, each a child process of its
// own so the load generator's CPU stays apart from theirs. Ports, readiness, stopping, memory.

import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SERVER_ENTRY = process.env.BENCH_SERVER_ENTRY || fileURLToPath(new URL('../dist/server.js', import.meta.url));
export const PROFILE_DIR = fileURLToPath(new URL('./profiles/', import.meta.url));
/** Runs SERVER_ENTRY under a command line of its own (see our-server.mjs). */
const OUR_SERVER_LAUNCHER = fileURLToPath(new URL('./our-server.mjs', import.meta.url));

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** One key for every server of a run: a second server and the admin bootstrap open the same data. */
export const SECRETS_KEY = randomBytes(32).toString('base64');

/** Asks the kernel for an unused loopback port; the server binds it a moment later. */
export function freePort() {
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
 * Starts `node <args>` with exactly `env` (plus PATH). Output is kept (last lines only) to explain
 * a failure, and counted.
 */
export function startProcess(args, env, name) {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = { name, child, logLines: 0, logTail: [], exited: false };
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

/**
 * Starts `node dist/server.js` (through our-server.mjs). The environment is built from scratch rather than inherited so a
 * developer's shell (REGISTRATION_INITIAL_ACCESS_TOKEN, NODE_OPTIONS, ...) cannot skew the run.
 * At LOG_LEVEL=warn every output line is a warning or an error, which a clean run should not have.
 * With `profileName` the server runs under --cpu-prof, writing the profile when it exits on SIGTERM.
 */
export function startOurServer(port, databaseUrl, profileName, extraEnv) {
  const profileArgs = profileName ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${profileName}`] : [];
  return startProcess(
    [...profileArgs, OUR_SERVER_LAUNCHER],
    {
      BENCH_OUR_SERVER_ENTRY: SERVER_ENTRY,
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: `http://127.0.0.1:${port}`,
      DATABASE_URL: databaseUrl,
      SECRETS_KEY,
      LOG_LEVEL: 'warn',
      // the workloads send thousands of requests from one address: limits off unless
      // BENCH_SERVER_ENV turns them on (to measure what they cost)
      RATE_LIMIT_REGISTER: 'off',
      RATE_LIMIT_REGISTER_GLOBAL: 'off',
      RATE_LIMIT_TOKEN: 'off',
      ...extraEnv,
    },
    'ours',
  );
}

/** Waits until GET `path` answers 200. */
export async function waitForReady(baseUrl, server, path = '/readyz') {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exited) throw new Error(`${server.name ?? 'server'} exited during start-up (code ${server.child.exitCode}): ${server.logTail.slice(-5).join(' | ')}`);
    try {
      const response = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet; try again.
    }
    await sleep(200);
  }
  throw new Error(`${server.name ?? 'server'} not ready (GET ${path} != 200) within ${READY_TIMEOUT_MS / 1000} s`);
}

/** SIGTERM lets a server drain and close its pool, which DROP DATABASE needs. */
export async function stopServer(server) {
  if (server.exited) return server.child.exitCode;
  const exit = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const [code, signal] = await exit;
  clearTimeout(timer);
  return code ?? signal;
}

/** Resident and peak resident memory of a process, in MiB. */
export function serverMemory(pid) {
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
