import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { importJWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient, AdminCredentials } from '../../src/admin-client/types.js';
import { freePort, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { freshDatabase, storageKind, TEST_SECRETS_KEY } from '../support/test-server.js';

/**
 * `oidc-registrar tui` in a real terminal: tmux runs it against a live server, keys go in with
 * send-keys, the screen comes out with capture-pane, and the client added through the form is
 * then read back through the admin API. It needs the server's admin API and the CLI's HTTP client
 * (other branches of issue 7) and tmux (`.ci/run` installs it).
 */
const missing = [
  ...(existsSync('src/admin/routes.ts') ? [] : ['the admin API (src/admin/routes.ts)']),
  ...(existsSync('src/admin-client/http-admin-api.ts') ? [] : ['the HTTP admin client (src/admin-client/http-admin-api.ts)']),
  ...(spawnSync('tmux', ['-V']).status === 0 ? [] : ['tmux (apt-get install tmux)']),
];

const run = promisify(execFile);
const CLI = resolve('dist/cli.js');
/** A tmux server of this test's own (its socket in the test's directory): a developer's tmux is never touched. */
let socket = '';
const tmux = (...args: string[]) => run('tmux', ['-S', socket, ...args]);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

const screen = async (): Promise<string> => (await tmux('capture-pane', '-p', '-t', 'tui')).stdout;

/** Polls the pane until it shows `text`; fails with what it shows instead. */
async function waitForScreen(text: string | RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = await screen();
    if (typeof text === 'string' ? shown.includes(text) : text.test(shown)) return shown;
    if (Date.now() > deadline) expect.fail(`the terminal never showed ${String(text)}; it shows:\n${shown}`);
    await sleep(100);
  }
}

/** Sends keys one at a time (tmux key names, or text with literal: true), pausing as a person would. */
async function keys(...names: string[]): Promise<void> {
  for (const name of names) {
    await tmux('send-keys', '-t', 'tui', name);
    await sleep(150);
  }
}
async function typeText(text: string): Promise<void> {
  await tmux('send-keys', '-t', 'tui', '-l', text);
  await sleep(150);
}

/** An admin access token, made as the contract says: a private_key_jwt assertion from the credentials file. */
async function adminToken(credentialsFile: string): Promise<string> {
  const { issuer, client_id: clientId, private_jwk: jwk } = JSON.parse(readFileSync(credentialsFile, 'utf8')) as AdminCredentials;
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(issuer)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('50s')
    .sign(await importJWK(jwk, jwk.alg));
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'admin:read',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

describe.skipIf(missing.length > 0)(
  `oidc-registrar tui in a real terminal (${storageKind})${missing.length > 0 ? ` — skipped, missing: ${missing.join(', ')}` : ''}`,
  () => {
    let dir: string;
    let server: ServerProcess;
    let credentials: string;
    let drop = async (): Promise<void> => undefined;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'registrar-tui-e2e-'));
      socket = join(dir, 'tmux.sock');
      const port = String(await freePort());
      let env: Record<string, string> = { PORT: port, ISSUER: `http://127.0.0.1:${port}`, DATA_DIR: join(dir, 'data') };
      if (storageKind === 'postgres') {
        const database = await freshDatabase();
        await database.db.close();
        drop = database.drop;
        env = { ...env, DATABASE_URL: database.url!, SECRETS_KEY: TEST_SECRETS_KEY };
      }
      credentials = join(dir, 'admin.json');
      // on the database itself, before the server holds it (the embedded one allows one process)
      await run(process.execPath, [CLI, 'admin', 'bootstrap', '--out', credentials], { env: { PATH: process.env.PATH ?? '', ...env } });
      server = await startServerProcess(env);
    }, 90_000);

    afterEach(async () => {
      await tmux('kill-server').catch(() => undefined);
    });

    afterAll(async () => {
      await server?.stop();
      await drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('adds a client through the form; the client then exists, as the admin API shows', async () => {
      // Only what the TUI needs, nothing of the developer's shell: no OIDC_REGISTRAR_* of theirs,
      // and no CI variable (ink draws only the last frame in CI). The pane stays after the TUI quits.
      const environment = {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        LANG: 'C.UTF-8',
        OIDC_REGISTRAR_CREDENTIALS: credentials,
        XDG_CACHE_HOME: join(dir, 'cache'),
        DATA_DIR: join(dir, 'elsewhere'),
      };
      const assignments = Object.entries(environment).map(([name, value]) => `${name}='${value}'`);
      const command = `env -i TERM="$TERM" ${assignments.join(' ')} '${process.execPath}' '${CLI}' tui; echo "tui exited $?"; sleep 600`;
      await tmux('new-session', '-d', '-s', 'tui', '-x', '120', '-y', '40', command);

      await waitForScreen('oidc-registrar · clients');
      await waitForScreen('a add client');
      await keys('a');
      await waitForScreen('oidc-registrar · add client');
      await typeText('Added in tmux');
      await keys('Tab', 'Tab');
      await waitForScreen(/› redirect_uris/);
      await typeText('https://rp.example/callback');
      await keys('PageUp', 'BTab', 'BTab');
      await waitForScreen('[ Save ]');
      await keys('Enter');

      const created = await waitForScreen(/client \S+ created/);
      expect(created).toContain('Copy this now: it will not be shown again.');
      expect(created).toMatch(/client_secret \S{20,}/);
      expect(created).toMatch(/registration_access_token \S{20,}/);
      const clientId = /client (\S+) created/.exec(created)![1]!;

      const token = await adminToken(credentials);
      const listed = await fetch(`${server.url}/admin/clients?q=${encodeURIComponent('Added in tmux')}`, { headers: { authorization: `Bearer ${token}` } });
      expect(listed.status).toBe(200);
      const { clients } = (await listed.json()) as { clients: AdminClient[] };
      expect(clients).toHaveLength(1);
      expect(clients[0]).toMatchObject({
        client_id: clientId,
        client_name: 'Added in tmux',
        redirect_uris: ['https://rp.example/callback'],
        created_via: 'admin_api',
        has_client_secret: true,
      });

      // the secret is gone once seen; the list shows the new client
      await keys('Enter');
      expect(await waitForScreen('e edit')).not.toContain('Copy this now');
      await keys('Escape');
      expect(await waitForScreen('Added in tmux')).toContain(clientId);

      // the server's own validation error, beside the field it names
      await keys('a');
      await waitForScreen('oidc-registrar · add client');
      await keys('Tab', 'Tab');
      await typeText('http://rp.example/callback');
      await keys('PageUp', 'BTab', 'BTab', 'Enter');
      const refused = await waitForScreen('may use http only');
      expect(refused).toMatch(/› redirect_uris +http:\/\/rp\.example\/callback\n.*\n +✗ redirect_uris\[0\] may use http only/);

      await keys('Escape');
      await waitForScreen('oidc-registrar · clients');
      await keys('q');
      await waitForScreen('tui exited 0');
    }, 90_000);
  },
);
