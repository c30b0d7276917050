import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/server-process.js';
import { freshDatabase, storageKind, TEST_SECRETS_KEY } from '../support/test-server.js';

/**
 * The README's start command, as a supervisor runs it: `npm start`, stopped by a signal to the npm
 * process alone (not its process group). Whatever npm starts must stop with it.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The `node dist/server.js` processes started with this DATA_DIR (Linux: read from /proc). */
function serverProcessesOf(dataDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes('dist/server.js')) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`DATA_DIR=${dataDir}`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or another user's process
    }
  }
  return pids;
}

function portIsOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null | 'timeout'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe.runIf(existsSync('/proc'))(`npm start (${storageKind})`, () => {
  let dataDir: string;
  let databaseEnv: Record<string, string> = {};
  let cleanup: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'registrar-npm-start-'));
    if (storageKind === 'postgres') {
      const database = await freshDatabase();
      await database.db.close();
      databaseEnv = { DATABASE_URL: database.url!, SECRETS_KEY: TEST_SECRETS_KEY };
      cleanup = database.drop;
    }
  });
  afterAll(async () => {
    await cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // The same DATA_DIR for both: the first start creates the embedded database, the second reuses it.
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s to the npm process stops the server: port closed, no server process left, DATA_DIR unlocked',
    async (signal) => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const npm = spawn('npm', ['start'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), PORT: String(port), DATA_DIR: dataDir, ISSUER: url, ...databaseEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      try {
        const deadline = Date.now() + 60_000;
        for (;;) {
          if (npm.exitCode !== null) throw new Error(`npm start exited with ${npm.exitCode}:\n${output}`);
          if (await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false)) break;
          if (Date.now() > deadline) throw new Error(`npm start did not become ready:\n${output}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(serverProcessesOf(dataDir)).toHaveLength(1);

        npm.kill(signal);
        expect(await exitOf(npm, 20_000)).toBe(0);
        expect(await portIsOpen(port)).toBe(false);
        expect(serverProcessesOf(dataDir)).toEqual([]);
        expect(existsSync(join(dataDir, 'registrar.lock'))).toBe(false);
        expect(output).toContain('"msg":"shut down"');
      } finally {
        npm.kill('SIGKILL');
        for (const pid of serverProcessesOf(dataDir)) process.kill(pid, 'SIGKILL');
      }
    },
    90_000,
  );
});
