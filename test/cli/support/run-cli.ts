import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { RATE_LIMITS_OFF } from '../../support/test-server.js';

export const CLI = resolve('dist/cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/cli.js ...args` with only the given environment (and PATH), so that no
 * OIDC_REGISTRAR_* variable of the developer's shell leaks in. Standard input is `input`, or empty.
 */
export function runCli(args: readonly string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    // rate limits off for `serve` unless the test sets them (see RATE_LIMITS_OFF)
    env: { PATH: process.env.PATH ?? '', ...RATE_LIMITS_OFF, ...options.env },
    cwd: options.cwd ?? process.cwd(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.input ?? '');
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
