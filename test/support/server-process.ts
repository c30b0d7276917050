import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject, onTestFinished, TestRunner } from 'vitest';
import { freshDatabase, RATE_LIMITS_OFF, storageKind, TEST_SECRETS_KEY } from './test-server.js';

/**
 * A server not ready within half its test's timeout (15 s of the default 30 s; outside a test,
 * 15 s) fails the test with its output, before the test itself times out saying nothing.
 */
function readyWithinMs(): number {
  return (TestRunner.getCurrentTest()?.timeout ?? 30_000) / 2;
}
/** Longer than the server's own 10 s shutdown grace period. */
const STOPPED_WITHIN_MS = 15_000;
/** How long a leftover process gets to exit on SIGTERM before SIGKILL. */
const CLEANUP_GRACE_MS = 3_000;
/** A CLI command still running after this long is killed, inside its test's timeout. */
const CLI_WITHIN_MS = 20_000;

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Sends SIGTERM and resolves with the exit code; SIGKILL and an error after STOPPED_WITHIN_MS. */
  stop(): Promise<number | null>;
}

/** Every process these helpers spawned that has not exited yet. */
const running = new Set<ChildProcess>();
// the last resort when a test run itself dies: no server outlives the test worker
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Resolves with the exit code, or with `timedOut` when the process is still running after `ms`. */
function exitedWithin<T>(child: ChildProcess, ms: number, timedOut: T): Promise<number | null | T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    exited(child),
    new Promise<T>((resolve) => (timer = setTimeout(() => resolve(timedOut), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** SIGTERM, then SIGKILL if the process is still there after a short grace period. */
async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const stillRunning = Symbol('still running');
  if ((await exitedWithin(child, CLEANUP_GRACE_MS, stillRunning)) === stillRunning) {
    child.kill('SIGKILL');
    await exited(child);
  }
}

/**
 * Runs `node dist/server.js` (what `npm start` runs after building) with only the given
 * environment. Called inside a test, the process is killed when the test ends, passed or failed;
 * elsewhere the caller stops it, and the worker's exit hook kills what is left.
 */
export function runServer(env: Record<string, string>): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['dist/server.js'], {
    // rate limits off unless the test sets them (see RATE_LIMITS_OFF)
    env: { PATH: process.env.PATH ?? '', ...RATE_LIMITS_OFF, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (TestRunner.getCurrentTest()) onTestFinished(() => killProcess(child));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, exit: exited(child) };
}

/** Runs `node dist/cli.js ...args` with only the given environment (killed after CLI_WITHIN_MS). */
export async function runCli(env: Record<string, string>, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(process.execPath, ['dist/cli.js', ...args], {
      env: { PATH: process.env.PATH ?? '', ...RATE_LIMITS_OFF, ...env },
      timeout: CLI_WITHIN_MS,
      killSignal: 'SIGKILL',
    });
  } catch (error) {
    const { killed, stdout, stderr } = error as { killed?: boolean; stdout?: string; stderr?: string };
    const outcome = killed ? `still running after ${CLI_WITHIN_MS} ms, killed` : 'failed';
    throw new Error(`cli ${args.join(' ')}: ${outcome}:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
}

/** Starts the server and waits until /readyz answers 200 (see readyWithinMs). */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = env.PORT ?? String(await freePort());
  const url = `http://127.0.0.1:${port}`;
  const { child, output, exit } = runServer({ ISSUER: url, LOG_LEVEL: 'info', ...env, PORT: port });
  const readyWithin = readyWithinMs();
  const deadline = Date.now() + readyWithin;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was ready:\n${output()}`);
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await killProcess(child);
      throw new Error(`server not ready within ${readyWithin} ms:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    child,
    output,
    stop: async () => {
      child.kill('SIGTERM');
      const stillRunning = Symbol('still running');
      const code = await exitedWithin(child, STOPPED_WITHIN_MS, stillRunning);
      if (code !== stillRunning) return code;
      child.kill('SIGKILL');
      await exit;
      throw new Error(`server still running ${STOPPED_WITHIN_MS} ms after SIGTERM, killed:\n${output()}`);
    },
  };
}

/**
 * A new temporary DATA_DIR; the caller removes it. `seeded`: holding a copy of the migrated
 * template of global-setup.ts (no secrets key), so the server skips initdb and its migrations
 * find nothing to do; otherwise empty, as on a real first run.
 */
export function temporaryDataDir(prefix: string, { seeded }: { seeded: boolean }): string {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const template = inject('embeddedTemplate');
  if (seeded && template !== null) cpSync(template.dataDir, dataDir, { recursive: true });
  return dataDir;
}

/**
 * What server processes need to start on the storage under test: a DATA_DIR seeded with the
 * template, and on PostgreSQL a fresh schema too. `remove` drops both.
 */
export async function serverProcessEnvironment(): Promise<{ env: Record<string, string>; dataDir: string; remove: () => Promise<void> }> {
  const dataDir = temporaryDataDir('registrar-', { seeded: true });
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  if (storageKind === 'embedded') return { env: { DATA_DIR: dataDir }, dataDir, remove: async () => removeDataDir() };
  const database = await freshDatabase();
  await database.db.close();
  return {
    env: { DATABASE_URL: database.url!, SECRETS_KEY: TEST_SECRETS_KEY, DATA_DIR: dataDir },
    dataDir,
    remove: async () => {
      removeDataDir();
      await database.drop();
    },
  };
}
