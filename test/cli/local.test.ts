import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/server-process.js';
import { schemaUrl, storageKind, TEST_DATABASE_URL, TEST_SECRETS_KEY } from '../support/test-server.js';
import { CLI, runCli } from './support/run-cli.js';

/** The commands that work on the database itself, not through the admin API: migrate, serve, admin bootstrap. */

const MIGRATIONS = readdirSync('migrations').filter((f) => f.endsWith('.sql')).sort();

let dir: string;
/** The server's environment: a new DATA_DIR, or a new, empty schema on PostgreSQL. */
let env: Record<string, string>;
let dropSchema = async () => undefined as void;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'registrar-cli-local-'));
  env = { DATA_DIR: join(dir, 'data'), XDG_CACHE_HOME: join(dir, 'cache') };
  if (storageKind === 'postgres') {
    const schema = `t_cli_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    env = { ...env, DATABASE_URL: schemaUrl(schema), SECRETS_KEY: TEST_SECRETS_KEY };
    dropSchema = async () => {
      const cleanup = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await cleanup.connect();
      await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
      await cleanup.end();
    };
  }
});
afterAll(async () => {
  await dropSchema();
  rmSync(dir, { recursive: true, force: true });
});

describe(`migrate and serve (${storageKind})`, () => {
  it('migrate applies what the database lacks and says so; then it is up to date', async () => {
    const first = await runCli(['migrate'], { env });
    expect(first.stderr).toBe('');
    expect(first).toMatchObject({ code: 0, stdout: MIGRATIONS.map((f) => `applied ${f}\n`).join('') });
    expect(await runCli(['migrate'], { env })).toMatchObject({ code: 0, stdout: 'the database is up to date\n' });
    expect(JSON.parse((await runCli(['migrate', '--json'], { env })).stdout)).toEqual({ applied: [] });
  }, 60_000);

  it('serve runs the server as node dist/server.js does, and stops on SIGTERM with exit 0', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [CLI, 'serve'], { env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), ISSUER: url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 30_000;
      while ((await fetch(`${url}/readyz`).then((r) => r.status, () => 0)) !== 200) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not become ready:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const discovery = (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(discovery.issuer).toBe(url);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exit).toBe(0);
    expect(output).toContain('oidc-registrar listening');
    expect(output).toContain('shut down');
  }, 60_000);

  it('serve with a bad configuration exits 78 and names the variable, as the server does', async () => {
    const result = await runCli(['serve'], { env: { ...env, PORT: 'eighty' } });
    expect(result.code).toBe(78);
    expect(result.stderr).toBe('oidc-registrar: configuration error: PORT: must be a whole number, got "eighty"\n');
  });
});

describe('admin bootstrap --out', () => {
  it('never overwrites a file: exit 1, the file as it was, before the database is touched', async () => {
    const out = join(dir, 'taken.json');
    writeFileSync(out, 'an earlier admin key\n');
    const result = await runCli(['admin', 'bootstrap', '--out', out], { env: { DATA_DIR: join(dir, 'never-created') } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`oidc-registrar: ${out} already exists: not overwriting it (it may hold the only copy of an admin key); choose another --out\n`);
    expect(readFileSync(out, 'utf8')).toBe('an earlier admin key\n');
    expect(existsSync(join(dir, 'never-created'))).toBe(false);
  });

  it('leaves no file behind when it fails', async () => {
    const out = join(dir, 'failed.json');
    const result = await runCli(['admin', 'bootstrap', '--out', out], { env: { DATABASE_URL: 'mysql://db.example/registrar' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('oidc-registrar: configuration error: DATABASE_URL: must be a postgres:// or postgresql:// connection string\n');
    expect(existsSync(out)).toBe(false);
  });
});
