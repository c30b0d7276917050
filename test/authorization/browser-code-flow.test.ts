import { existsSync } from 'node:fs';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../support/sign-in.js';
import { startTestServer, storageKind, type TestServer } from '../support/test-server.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it when missing). */
const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'correct horse battery';
const insecure = { execute: [oidc.allowInsecureRequests] };
/** The MCP server the public client's tokens are for (RESOURCE_INDICATORS, RFC 8707). */
const MCP_SERVER = 'https://mcp.example.com';

/**
 * The code flow end to end, as relying parties run it: openid-client registers a client
 * dynamically, a real Chromium signs the user in through the login and consent pages (under their
 * CSP), and openid-client exchanges the code and validates the ID token. The redirect URI is
 * answered by the browser's request interception: what matters is the URL the server sent it to.
 */
describe.runIf(existsSync(CHROMIUM))(`the code flow in a real browser with openid-client (${storageKind})`, () => {
  let server: TestServer;
  let browser: Browser;
  let aliceId: string;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ RESOURCE_INDICATORS: MCP_SERVER });
    aliceId = await createUser(server, 'alice', PASSWORD);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A fresh browser profile whose requests to `redirectUri` are caught and answered here. */
  async function visitor(redirectUri: string): Promise<{ context: BrowserContext; page: Page; callback: () => Promise<URL>; posted: () => Promise<URLSearchParams> }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('console', (message) => void (message.type() === 'error' && problems.push(message.text())));
    page.on('pageerror', (error) => void problems.push(error.message));
    const arrivals: { url: URL; body: string | null }[] = [];
    const waiting: ((arrival: { url: URL; body: string | null }) => void)[] = [];
    // the client's whole origin, for as long as the context lives: the browser may ask it for a favicon too
    await context.route((url) => url.origin === new URL(redirectUri).origin, async (route) => {
      if (route.request().url().startsWith(redirectUri)) {
        const arrival = { url: new URL(route.request().url()), body: route.request().postData() };
        const waiter = waiting.shift();
        if (waiter) waiter(arrival);
        else arrivals.push(arrival);
      }
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the client' });
    });
    const next = () => new Promise<{ url: URL; body: string | null }>((resolve) => {
      const arrival = arrivals.shift();
      if (arrival) resolve(arrival);
      else waiting.push(resolve);
    });
    return { context, page, callback: async () => (await next()).url, posted: async () => new URLSearchParams((await next()).body ?? '') };
  }

  async function signIn(page: Page): Promise<void> {
    await page.waitForSelector('#username');
    await page.fill('#username', 'alice');
    await page.fill('#password', PASSWORD);
    await page.press('#password', 'Enter');
  }

  async function start(config: oidc.Configuration, redirectUri: string, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: 'openid profile', state, nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
    });
    return { url, checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true } };
  }

  it('a confidential client: registered by openid-client, the user signs in and consents, the ID token validates, the refresh token rotates', async () => {
    const redirectUri = 'https://rp.example/callback';
    const config = await oidc.dynamicClientRegistration(
      new URL(server.url),
      { redirect_uris: [redirectUri], client_name: 'Browser RP', scope: 'openid profile offline_access', grant_types: ['authorization_code', 'refresh_token'] },
      oidc.ClientSecretBasic(),
      insecure,
    );
    const { url, checks } = await start(config, redirectUri, { scope: 'openid profile offline_access' });
    const { context, page, callback } = await visitor(redirectUri);
    await page.goto(url.href);
    await signIn(page);
    await page.waitForSelector('button[value=allow]');
    expect(await page.textContent('h1')).toContain('Browser RP');
    expect(await page.textContent('.redirect-host')).toBe('rp.example');
    // the Allow button has the focus: Enter answers
    await page.keyboard.press('Enter');
    const back = await callback();
    expect(back.searchParams.get('iss')).toBe(server.config.issuer);
    const tokens = await oidc.authorizationCodeGrant(config, back, checks);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: server.config.issuer, sub: aliceId, aud: config.clientMetadata().client_id, amr: ['pwd'] });
    expect(tokens.scope).toBe('openid profile offline_access');
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, aliceId);
    expect(userinfo).toMatchObject({ sub: aliceId, preferred_username: 'alice' });
    await context.close();

    // offline_access was consented to: a refresh token, rotated by openid-client's refresh
    expect(tokens.refresh_token).toBeDefined();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ iss: server.config.issuer, sub: aliceId, sid: claims.sid, amr: ['pwd'] });
    expect(refreshed.refresh_token).toBeDefined();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    // another browser, consent remembered: the sign-in form leads straight back to the client
    // (its CSP lets the form's redirect chain reach the client)
    const again = await start(config, redirectUri);
    const second = await visitor(redirectUri);
    await second.page.goto(again.url.href);
    await signIn(second.page);
    const tokens2 = await oidc.authorizationCodeGrant(config, await second.callback(), again.checks);
    expect(tokens2.claims()!.sub).toBe(aliceId);
    await second.context.close();
    expect(problems).toEqual([]);
  });

  it('a public client on a loopback redirect with PKCE and resource (the MCP shape), and response_mode=form_post', async () => {
    const redirectUri = 'http://127.0.0.1:33418/callback';
    const config = await oidc.dynamicClientRegistration(
      new URL(server.url),
      { redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', application_type: 'native', client_name: 'MCP host', grant_types: ['authorization_code', 'refresh_token'] },
      oidc.None(),
      insecure,
    );
    const { url, checks } = await start(config, redirectUri, { scope: 'openid profile offline_access', resource: MCP_SERVER });
    const { context, page, callback, posted: visitorPosted } = await visitor(redirectUri);
    await page.goto(url.href);
    await signIn(page);
    await page.click('button[value=allow]');
    const tokens = await oidc.authorizationCodeGrant(config, await callback(), checks, { resource: MCP_SERVER });
    expect(tokens.claims()!.sub).toBe(aliceId);
    // the access token is for the MCP server (RFC 8707): its aud is that resource
    expect(decodeJwt(tokens.access_token).aud).toBe(MCP_SERVER);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: MCP_SERVER });
    expect(decodeJwt(refreshed.access_token).aud).toBe(MCP_SERVER);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

    // form_post: the self-submitting form runs under the CSP (its script allowed by hash)
    const formPost = await start(config, redirectUri, { response_mode: 'form_post' });
    // the page where the consent left off must have finished loading before the next navigation
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    const arrival = visitorPosted();
    // the form submits itself while the page loads: wait only for the navigation to start
    await page.goto(formPost.url.href, { waitUntil: 'commit' });
    const body = await arrival;
    expect(body.get('iss')).toBe(server.config.issuer);
    const request = new Request(redirectUri, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const tokens2 = await oidc.authorizationCodeGrant(config, request, formPost.checks);
    expect(tokens2.claims()!.sub).toBe(aliceId);
    await context.close();
    expect(problems).toEqual([]);
  });
});
