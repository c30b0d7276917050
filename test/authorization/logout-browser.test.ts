import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/crypto/token-hash.js';
import { SessionRepository } from '../../src/storage/session-repository.js';
import { mintIdToken } from '../support/id-tokens.js';
import { createUser } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it when missing). */
const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'correct horse battery';
/** Each browser step gets this long, so that a stuck one fails by name well within the test's time. */
const STEP_MS = 15_000;

describe.runIf(existsSync(CHROMIUM))(`RP-initiated logout in a real browser, keyboard only (${storageKind})`, () => {
  let server: TestServer;
  let rp: Server;
  let rpUrl: string;
  let browser: Browser;
  let page: Page;
  let aliceId: string;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    aliceId = await createUser(server, 'alice', PASSWORD);
    // the relying party: a local HTTP server on another origin (another port)
    rp = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>RP</title><h1>Signed out at the RP</h1><p id="query">${new URL(req.url ?? '/', 'http://rp').search.replace(/[<>&"]/g, '')}</p>`);
    });
    await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
    rpUrl = `http://127.0.0.1:${(rp.address() as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    // a CSP violation (form-action blocking the redirect) would show here
    page.on('console', (message) => void (message.type() === 'error' && problems.push(message.text())));
    page.on('pageerror', (error) => void problems.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => rp?.close(resolve));
    await server?.close();
  });

  const focused = () => page.evaluate<string>('document.activeElement?.textContent || document.activeElement?.id || ""');

  it('signs in, confirms the sign-out with the keyboard and lands on the post_logout_redirect_uri with the state', async () => {
    const registered = await request(server, 'POST', '/register', {
      json: { redirect_uris: [`${rpUrl}/cb`], post_logout_redirect_uris: [`${rpUrl}/signed-out`], client_name: 'Browser RP' },
    });
    expect(registered.status, registered.text).toBe(201);
    const clientId = registered.body.client_id as string;

    await page.goto(`${server.url}/login`);
    // keys typed before the autofocus lands would be lost (seen under load in CI)
    await page.waitForFunction("document.activeElement?.id === 'username'", undefined, { timeout: STEP_MS });
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${server.url}/session`, { timeout: STEP_MS });

    const cookie = (await page.context().cookies(server.url)).find((c) => c.name === 'oidcr_session')!.value;
    const sid = (await new SessionRepository(server.db).find(hashToken(cookie)))!.sid;
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, sid });
    const params = new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: `${rpUrl}/signed-out`, state: 'browser-state' });
    await page.goto(`${server.url}/logout?${params.toString()}`);
    expect(await page.textContent('h1')).toBe('Sign out');
    expect(await page.textContent('.client-name')).toBe('Browser RP');
    expect(await page.textContent('.client-host')).toBe(new URL(rpUrl).host);
    // the button has the focus: Enter confirms
    await page.waitForFunction("document.activeElement?.textContent === 'Sign out'", undefined, { timeout: STEP_MS });
    expect(await focused()).toBe('Sign out');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${rpUrl}/signed-out?state=browser-state`, { timeout: STEP_MS });
    expect(await page.textContent('h1')).toBe('Signed out at the RP');

    await page.goto(`${server.url}/session`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(problems).toEqual([]);
  }, 60_000);
});
