import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_CSP, SESSION_COOKIE } from '../../src/authorization/routes.js';
import { hashToken } from '../../src/crypto/token-hash.js';
import { SessionRepository } from '../../src/storage/session-repository.js';
import { UserRepository } from '../../src/storage/user-repository.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { advanceWallClock } from '../support/clock.js';
import { createUser, csrfTokenOf, Visitor } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const PASSWORD = 'correct horse battery';
const MINUTE = 60_000;

describe(`sign-in pages (${storageKind})`, () => {
  let server: TestServer;
  let other: TestServer;
  let aliceId: string;
  const visitor = () => new Visitor(server.url);

  beforeAll(async () => {
    server = await startTestServer({ SESSION_IDLE_TIMEOUT: '5m', SESSION_MAX_AGE: '12m', LOGIN_RATE_LIMIT_ACCOUNT: '3/15m', LOGIN_RATE_LIMIT_ADDRESS: '8/15m' });
    // a second instance over the same database, as another replica would be
    other = await startTestServer({ SESSION_IDLE_TIMEOUT: '5m', SESSION_MAX_AGE: '12m', LOGIN_RATE_LIMIT_ACCOUNT: '3/15m', LOGIN_RATE_LIMIT_ADDRESS: '8/15m' }, undefined, server);
    aliceId = await createUser(server, 'alice', PASSWORD);
  });
  afterAll(async () => {
    await other?.app.close();
    await server?.close();
  });

  describe('headers and markup', () => {
    it('pages carry a strict CSP, DENY framing, no-store and no-referrer', async () => {
      const page = await visitor().get('/login');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toBe(PAGE_CSP);
      expect(PAGE_CSP).toContain("default-src 'none'");
      expect(PAGE_CSP).toContain("frame-ancestors 'none'");
      expect(PAGE_CSP).toContain("form-action 'self'");
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    });

    it('the JSON API keeps its own headers', async () => {
      const res = await fetch(`${server.url}/.well-known/openid-configuration`);
      expect(res.headers.get('content-security-policy')).not.toBe(PAGE_CSP);
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    });

    it('the sign-in page is accessible markup with no inline script or style, and its stylesheet is served', async () => {
      const { text } = await visitor().get('/login');
      expect(text).toMatch(/<html lang="en">/);
      expect(text).toContain('<label for="username">Username</label>');
      expect(text).toContain('<label for="password">Password</label>');
      expect(text).toMatch(/id="username"[^>]*autocomplete="username"/);
      expect(text).toMatch(/id="password"[^>]*type="password" autocomplete="current-password"/);
      expect(text).not.toMatch(/<script|<style|\sstyle=|\son[a-z]+=/i);
      const css = await fetch(`${server.url}/assets/pages.css`);
      expect(css.status).toBe(200);
      expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
      expect(await css.text()).toContain(':focus-visible');
    });
  });

  describe('signing in and out', () => {
    it('a right password starts a session: a 256-bit cookie, HttpOnly, SameSite=Lax, stored only as a hash', async () => {
      const alice = visitor();
      const signedIn = await alice.signIn('alice', PASSWORD);
      expect(signedIn.status).toBe(303);
      expect(signedIn.location).toBe('/session');
      const cookie = signedIn.setCookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
      expect(cookie).toMatch(/; Path=\/; HttpOnly; SameSite=Lax$/);
      const value = alice.cookies.get(SESSION_COOKIE)!;
      expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const stored = await new SessionRepository(server.db).find(hashToken(value));
      expect(stored).toMatchObject({ userId: aliceId, amr: ['pwd'] });
      const rows = await server.db.query<{ id_hash: Uint8Array }>('SELECT id_hash FROM sessions');
      expect(rows.some((row) => Buffer.from(row.id_hash).toString('utf8').includes(value))).toBe(false);

      const status = await alice.get('/session');
      expect(status.status).toBe(200);
      expect(status.text).toContain('Signed in as <strong class="username">alice</strong>');
      expect(status.text).toContain('Sign out</button>');
    });

    it('a wrong password shows the error summary, announced and focused, and keeps the username escaped', async () => {
      const page = await visitor().signIn('"><script>alert(1)</script>', 'wrong password');
      expect(page.status).toBe(400);
      expect(page.text).toMatch(/<div class="error-summary" id="error-summary" role="alert" tabindex="-1" autofocus/);
      expect(page.text).toContain('The username or password is incorrect');
      expect(page.text).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
      expect(page.text).not.toContain('<script>');
      expect(page.text).not.toContain('wrong password');
    });

    it('an empty field is named in the summary and linked to its input', async () => {
      const page = await visitor().submit('/login', { username: 'alice' });
      expect(page.status).toBe(400);
      expect(page.text).toContain('<a href="#password">Enter your password</a>');
      expect(page.text).toMatch(/id="password"[^>]*aria-invalid="true" aria-describedby="password-error"/);
    });

    it('signing out takes a confirmation; the POST ends the session on every instance', async () => {
      const alice = visitor();
      await alice.signIn('alice', PASSWORD);
      const cookie = alice.cookies.get(SESSION_COOKIE)!;
      expect((await alice.get('/session', other.url)).status).toBe(200);
      const confirm = await alice.get('/logout', other.url);
      expect(confirm.text).toContain('Do you want to sign out?');
      const out = await alice.post('/logout', { csrf_token: csrfTokenOf(confirm.text) }, other.url);
      expect(out.status).toBe(200);
      expect(out.text).toContain('You have signed out');
      expect(out.setCookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`))).toMatch(/Max-Age=0/);
      expect(alice.cookies.has(SESSION_COOKIE)).toBe(false);
      alice.cookies.set(SESSION_COOKIE, cookie);
      expect((await alice.get('/session')).location).toBe('/login');
    });

    it('signing in again replaces the session: the cookie from before stops working', async () => {
      const alice = visitor();
      await alice.signIn('alice', PASSWORD);
      const before = alice.cookies.get(SESSION_COOKIE)!;
      // a form from before (another tab), posted while the session is alive
      alice.cookies.delete(SESSION_COOKIE);
      const form = await alice.get('/login');
      alice.cookies.set(SESSION_COOKIE, before);
      expect((await alice.post('/login', { csrf_token: csrfTokenOf(form.text), username: 'alice', password: PASSWORD })).status).toBe(303);
      expect(alice.cookies.get(SESSION_COOKIE)).not.toBe(before);
      const old = visitor();
      old.cookies.set(SESSION_COOKIE, before);
      expect((await old.get('/session')).location).toBe('/login');
    });
  });

  describe('CSRF', () => {
    it.each([
      ['no token', {}],
      ['a wrong token', { csrf_token: 'A'.repeat(43) }],
    ])('a sign-in POST with %s gets the error page with 403 and no session', async (_name, extra) => {
      const page = await visitor().get('/login');
      expect(page.status).toBe(200);
      const v = visitor();
      await v.get('/login');
      const res = await v.post('/login', { username: 'alice', password: PASSWORD, ...extra });
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.text).toContain('This form has expired');
      expect(v.cookies.has(SESSION_COOKIE)).toBe(false);
    });

    it('a token without its cookie (another visitor\'s) is refused', async () => {
      const token = csrfTokenOf((await visitor().get('/login')).text);
      const res = await visitor().post('/login', { username: 'alice', password: PASSWORD, csrf_token: token });
      expect(res.status).toBe(403);
    });

    it('a POST from another origin is refused even with a token', async () => {
      const v = visitor();
      const token = csrfTokenOf((await v.get('/login')).text);
      const res = await v.send('POST', '/login', { username: 'alice', password: PASSWORD, csrf_token: token }, { origin: 'https://evil.example' });
      expect(res.status).toBe(403);
    });

    it('a POST a browser marks cross-site is refused even with a token; Origin: null (no-referrer pages) is not', async () => {
      const v = visitor();
      const token = csrfTokenOf((await v.get('/login')).text);
      expect((await v.send('POST', '/login', { username: 'alice', password: PASSWORD, csrf_token: token }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      expect((await v.send('POST', '/login', { username: 'alice', password: PASSWORD, csrf_token: token }, { origin: 'null', 'sec-fetch-site': 'same-origin' })).status).toBe(303);
    });

    it('a sign-out POST without the token leaves the session alive', async () => {
      const alice = visitor();
      await alice.signIn('alice', PASSWORD);
      // the form's own fields but the token (a POST with none of them is a relying party's logout request)
      expect((await alice.post('/logout', { confirm: 'yes' })).status).toBe(403);
      expect((await alice.get('/session')).status).toBe(200);
    });
  });

  describe('return_to', () => {
    it('a path on this server is where sign-in continues', async () => {
      const v = visitor();
      const page = await v.get('/login?return_to=%2Fsession%3Fx%3D1');
      expect(page.text).toContain('name="return_to" value="/session?x=1"');
      const res = await v.post('/login', { csrf_token: csrfTokenOf(page.text), username: 'alice', password: PASSWORD, return_to: '/session?x=1' });
      expect(res.status).toBe(303);
      expect(res.location).toBe('/session?x=1');
    });

    it.each(['https://evil.example/', '//evil.example/', '/\\evil.example', 'javascript:alert(1)', '/../etc', 'session'])('%s is refused with the error page, never followed', async (target) => {
      const page = await visitor().get(`/login?return_to=${encodeURIComponent(target)}`);
      expect(page.status).toBe(400);
      expect(page.location).toBeUndefined();
      expect(page.text).toContain('not on this server');
    });
  });

  describe('lifetimes and accounts', () => {
    it('a session unused for SESSION_IDLE_TIMEOUT ends; use keeps it alive', async () => {
      const alice = visitor();
      await alice.signIn('alice', PASSWORD);
      advanceWallClock(4 * MINUTE);
      expect((await alice.get('/session')).status).toBe(200);
      advanceWallClock(4 * MINUTE);
      expect((await alice.get('/session')).status).toBe(200);
      advanceWallClock(5 * MINUTE + 1000);
      expect((await alice.get('/session')).location).toBe('/login');
    });

    it('a session ends SESSION_MAX_AGE after sign-in however much it is used', async () => {
      const alice = visitor();
      await alice.signIn('alice', PASSWORD);
      for (let i = 0; i < 2; i++) {
        advanceWallClock(4 * MINUTE);
        expect((await alice.get('/session')).status).toBe(200);
      }
      advanceWallClock(4 * MINUTE + 1000);
      expect((await alice.get('/session')).location).toBe('/login');
    });

    it('expired sessions are purged', async () => {
      const sessions = new SessionRepository(server.db);
      const now = Math.floor(Date.now() / 1000);
      await sessions.insert({ idHash: hashToken('old'), sid: 'old', userId: aliceId, createdAt: now - 100, lastSeenAt: now - 100, authTime: now - 100, amr: ['pwd'], expiresAt: now - 1 });
      await sessions.insert({ idHash: hashToken('idle'), sid: 'idle', userId: aliceId, createdAt: now - 400, lastSeenAt: now - 301, authTime: now - 400, amr: ['pwd'], expiresAt: now + 1000 });
      expect(await sessions.purgeExpired(now, 300)).toBeGreaterThanOrEqual(2);
      expect(await sessions.find(hashToken('old'))).toBeUndefined();
      expect(await sessions.find(hashToken('idle'))).toBeUndefined();
    });

    it('disabling a user ends their sessions at their next use, and they cannot sign in', async () => {
      const bobId = await createUser(server, 'bob', PASSWORD);
      const bob = visitor();
      await bob.signIn('bob', PASSWORD);
      expect((await bob.get('/session')).status).toBe(200);
      await new UserRepository(server.db).change(bobId, { disabled: true }, Math.floor(Date.now() / 1000));
      expect((await bob.get('/session')).location).toBe('/login');
      const again = await bob.signIn('bob', PASSWORD);
      expect(again.status).toBe(400);
      expect(again.text).toContain('The username or password is incorrect');
    });

    it('an operator setting a new password or disabling the user signs them out everywhere at once', async () => {
      const token = await adminToken(server, await bootstrapAdmin(server));
      const heidiId = await createUser(server, 'heidi', PASSWORD);
      const sessions = async () => (await server.db.query('SELECT 1 FROM sessions WHERE user_id = $1', [heidiId])).length;
      await visitor().signIn('heidi', PASSWORD);
      await visitor().signIn('heidi', PASSWORD);
      expect(await sessions()).toBe(2);
      const set = await request(server, 'POST', `/admin/users/${heidiId}/set-password`, { token, json: { password: 'a new password' } });
      expect(set.status, set.text).toBe(200);
      expect(await sessions()).toBe(0);
      await visitor().signIn('heidi', 'a new password');
      expect((await request(server, 'POST', `/admin/users/${heidiId}/disable`, { token })).status).toBe(200);
      expect(await sessions()).toBe(0);
    });

    it('deleting a user ends their sessions', async () => {
      const carolId = await createUser(server, 'carol', PASSWORD);
      const carol = visitor();
      await carol.signIn('carol', PASSWORD);
      await new UserRepository(server.db).delete(carolId);
      expect((await carol.get('/session')).location).toBe('/login');
    });
  });

  describe('throttling', () => {
    it('after LOGIN_RATE_LIMIT_ACCOUNT failures the account is refused, even with the right password, on every instance', async () => {
      await createUser(server, 'dave', PASSWORD);
      for (let i = 0; i < 3; i++) expect((await visitor().signIn('dave', 'wrong password')).status).toBe(400);
      for (const base of [server.url, other.url]) {
        const refused = await visitor().signIn('DAVE', PASSWORD, base);
        expect(refused.status).toBe(429);
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(800);
        expect(refused.text).toMatch(/Too many failed sign-in attempts\. Try again in 1[45] minutes\./);
        expect(refused.setCookies.some((c) => c.startsWith(SESSION_COOKIE))).toBe(false);
      }
    });

    it('successful sign-ins do not count', async () => {
      await createUser(server, 'erin', PASSWORD);
      for (let i = 0; i < 5; i++) expect((await visitor().signIn('erin', PASSWORD)).status).toBe(303);
    });

    it('after LOGIN_RATE_LIMIT_ADDRESS failures from one address every account is refused from it', async () => {
      const fresh = await startTestServer({ LOGIN_RATE_LIMIT_ADDRESS: '2/15m' });
      try {
        await createUser(fresh, 'frank', PASSWORD);
        const v = () => new Visitor(fresh.url);
        await v().signIn('nobody-1', 'wrong password');
        await v().signIn('nobody-2', 'wrong password');
        expect((await v().signIn('frank', PASSWORD)).status).toBe(429);
      } finally {
        await fresh.close();
      }
    });
  });

  it('an https issuer with a path: cookies are Secure and limited to that path, pages live under it', async () => {
    const https = await startTestServer({ ISSUER: 'https://id.example/tenant' });
    try {
      await createUser(https, 'grace', PASSWORD);
      const v = new Visitor(`${https.url}/tenant`);
      const login = await v.get('/login');
      expect(login.text).toContain('action="/tenant/login"');
      expect(login.text).toContain('href="/tenant/assets/pages.css"');
      expect(login.setCookies[0]).toMatch(/; Path=\/tenant; HttpOnly; SameSite=Lax; Secure$/);
      const signedIn = await v.post('/login', { csrf_token: csrfTokenOf(login.text), username: 'grace', password: PASSWORD });
      expect(signedIn.location).toBe('/tenant/session');
      expect(signedIn.setCookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`))).toMatch(/; Path=\/tenant; HttpOnly; SameSite=Lax; Secure$/);
    } finally {
      await https.close();
    }
  });
});
