import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../support/sign-in.js';
import { startTestServer, storageKind, type TestServer } from '../support/test-server.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it when missing). */
const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'correct horse battery';

describe.runIf(existsSync(CHROMIUM))(`sign-in pages in a real browser, keyboard only (${storageKind})`, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    await createUser(server, 'alice', PASSWORD);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    // a CSP violation would show here: the pages must need nothing the CSP forbids (the 400 of a
    // wrong password is logged as a failed load too, and is expected)
    page.on('console', (message) => void (message.type() === 'error' && !/status of 400/.test(message.text()) && problems.push(message.text())));
    page.on('pageerror', (error) => void problems.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  // expressions as strings: the test compiles without the DOM library
  const focused = () => page.evaluate<string>('document.activeElement?.id || document.activeElement?.tagName || ""');

  it('a wrong password shows the error summary, focused and announced', async () => {
    await page.goto(`${server.url}/login`);
    expect(await focused()).toBe('username');
    // the stylesheet loaded under the CSP
    expect(await page.evaluate<string>('getComputedStyle(document.querySelector("main")).maxWidth')).toBe('448px');
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('password');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#error-summary');
    expect(await focused()).toBe('error-summary');
    expect(await page.getAttribute('#error-summary', 'role')).toBe('alert');
    expect(await page.textContent('#error-summary')).toContain('The username or password is incorrect');
    expect(await page.inputValue('#username')).toBe('alice');
    expect(await page.inputValue('#password')).toBe('');
  });

  it('signs in with Tab and Enter only, then signs out', async () => {
    // from the summary: its link, the username (kept), the password
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('username');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${server.url}/session`);
    expect(await page.textContent('h1')).toBe('You are signed in');
    expect(await page.textContent('.username')).toBe('alice');

    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.textContent')).toBe('Sign out');
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=You have signed out');
    await page.goto(`${server.url}/session`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(problems).toEqual([]);
  });
});
