import { generateKeyPair, SignJWT, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_CSP, SESSION_COOKIE } from '../../src/authorization/routes.js';
import { hashToken } from '../../src/crypto/token-hash.js';
import { ServerKeyRepository } from '../../src/storage/server-key-repository.js';
import { SessionRepository } from '../../src/storage/session-repository.js';
import { mintIdToken } from '../support/id-tokens.js';
import { createUser, Visitor, type PageResponse } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const PASSWORD = 'correct horse battery';
const RETURN = 'https://rp.example/signed-out';

/** The hidden fields of the confirmation form, as a browser would post them. */
function formFields(page: PageResponse): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[match[1]!] = match[2]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#96;/g, '`').replace(/&amp;/g, '&');
  }
  return fields;
}

const query = (params: Record<string, string>) => `/logout?${new URLSearchParams(params).toString()}`;

describe(`RP-initiated logout (${storageKind})`, () => {
  let server: TestServer;
  let other: TestServer;
  let aliceId: string;
  let clientId: string;
  let otherClientId: string;
  const visitor = () => new Visitor(server.url);

  /** A visitor signed in as alice, with the session's public id. */
  async function signedIn(): Promise<{ alice: Visitor; sid: string; cookie: string }> {
    const alice = visitor();
    await alice.signIn('alice', PASSWORD);
    const cookie = alice.cookies.get(SESSION_COOKIE)!;
    const stored = await new SessionRepository(server.db).find(hashToken(cookie));
    return { alice, sid: stored!.sid, cookie };
  }

  const stillSignedIn = async (cookie: string, on: TestServer = server) => {
    const v = new Visitor(on.url);
    v.cookies.set(SESSION_COOKIE, cookie);
    return (await v.get('/session')).status === 200;
  };

  beforeAll(async () => {
    server = await startTestServer();
    // a second instance over the same database, as another replica of the same issuer would be
    other = await startTestServer({ ISSUER: server.url }, undefined, server);
    aliceId = await createUser(server, 'alice', PASSWORD);
    const registered = await request(server, 'POST', '/register', {
      json: { redirect_uris: ['https://rp.example/cb'], post_logout_redirect_uris: [RETURN, 'https://rp.example/other?x=1'], client_name: 'Example RP' },
    });
    expect(registered.status, registered.text).toBe(201);
    clientId = registered.body.client_id as string;
    const second = await request(server, 'POST', '/register', { json: { redirect_uris: ['https://other.example/cb'], post_logout_redirect_uris: ['https://other.example/bye'] } });
    otherClientId = second.body.client_id as string;
  });
  afterAll(async () => {
    await other?.app.close();
    await server?.close();
  });

  it('discovery announces the end_session_endpoint', async () => {
    const { body } = await request(server, 'GET', '/.well-known/openid-configuration');
    expect(body.end_session_endpoint).toBe(`${server.config.issuer}/logout`);
  });

  it('sessions have a public id (the sid claim) unrelated to the cookie and its hash', async () => {
    const { sid, cookie } = await signedIn();
    expect(sid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(sid).not.toBe(cookie);
    expect(sid).not.toContain(hashToken(cookie).toString('base64url'));
    expect(sid).not.toContain(hashToken(cookie).toString('hex'));
  });

  it('a valid hint and a registered post_logout_redirect_uri: confirmation naming the client, then a redirect with state', async () => {
    const { alice, sid, cookie } = await signedIn();
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, sid });
    const page = await alice.get(query({ id_token_hint: hint, post_logout_redirect_uri: RETURN, state: 'st&1=2' }));
    expect(page.status).toBe(200);
    expect(page.text).toContain('<strong class="client-name">Example RP</strong> (<span class="client-host">rp.example</span>) asks to sign you out');
    expect(page.text).toContain('Do you want to sign out?');
    expect(page.text).not.toContain('different sign-in');
    // its form may lead to the client's origin, and nowhere else
    expect(page.headers.get('content-security-policy')).toBe(PAGE_CSP.replace("form-action 'self'", "form-action 'self' https://rp.example"));
    expect(await stillSignedIn(cookie)).toBe(true);

    const out = await alice.post('/logout', formFields(page));
    expect(out.status).toBe(303);
    expect(out.location).toBe(`${RETURN}?state=st%261%3D2`);
    expect(alice.cookies.has(SESSION_COOKIE)).toBe(false);
    expect(await stillSignedIn(cookie)).toBe(false);
  });

  it('keeps the query of a registered post_logout_redirect_uri and omits state when none is sent', async () => {
    const { alice, sid } = await signedIn();
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, sid });
    const page = await alice.get(query({ id_token_hint: hint, post_logout_redirect_uri: 'https://rp.example/other?x=1' }));
    const out = await alice.post('/logout', formFields(page));
    expect(out.location).toBe('https://rp.example/other?x=1');
  });

  it('an expired ID token is accepted as the hint (RP-Initiated Logout §2)', async () => {
    const { alice, sid } = await signedIn();
    const past = Math.floor(Date.now() / 1000) - 86_400;
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, sid, iat: past - 300, exp: past });
    const page = await alice.get(query({ id_token_hint: hint, post_logout_redirect_uri: RETURN, state: 's' }));
    expect(page.status).toBe(200);
    expect((await alice.post('/logout', formFields(page))).location).toBe(`${RETURN}?state=s`);
  });

  it.each([
    ['a foreign post_logout_redirect_uri', { post_logout_redirect_uri: 'https://evil.example/' }],
    ['another client\'s post_logout_redirect_uri', { post_logout_redirect_uri: 'https://other.example/bye' }],
    ['a registered one written differently', { post_logout_redirect_uri: 'https://RP.example/signed-out' }],
  ])('%s is refused: error page, no redirect, still signed in', async (_name, params) => {
    const { alice, sid, cookie } = await signedIn();
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, sid });
    const res = await alice.get(query({ id_token_hint: hint, state: 's', ...params }));
    expect(res.status).toBe(400);
    expect(res.location).toBeUndefined();
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('Invalid sign-out request');
    expect(res.text).not.toContain('evil.example');
    // nor through the confirmation, with the fields changed
    const page = await alice.get(query({ id_token_hint: hint, post_logout_redirect_uri: RETURN }));
    const forged = await alice.post('/logout', { ...formFields(page), ...params });
    expect([forged.status, forged.location]).toEqual([400, undefined]);
    expect(await stillSignedIn(cookie)).toBe(true);
  });

  it('a post_logout_redirect_uri without id_token_hint or client_id is refused', async () => {
    const { alice } = await signedIn();
    const res = await alice.get(query({ post_logout_redirect_uri: RETURN, state: 's' }));
    expect([res.status, res.location]).toEqual([400, undefined]);
    const anonymous = await visitor().get(query({ post_logout_redirect_uri: RETURN }));
    expect([anonymous.status, anonymous.location]).toEqual([400, undefined]);
  });

  it.each([
    ['a wrong signature', async () => {
      const forged = await generateKeyPair('RS256');
      const kid = (await new ServerKeyRepository(server.db).all()).find((k) => k.alg === 'RS256')!.kid;
      return new SignJWT({ iss: server.config.issuer, aud: clientId, sub: aliceId }).setProtectedHeader({ alg: 'RS256', kid }).setIssuedAt().setExpirationTime('5m').sign(forged.privateKey);
    }],
    ['an unknown key', async () => {
      const forged = await generateKeyPair('ES256');
      return new SignJWT({ iss: server.config.issuer, aud: clientId, sub: aliceId }).setProtectedHeader({ alg: 'ES256', kid: (await exportJWK(forged.publicKey)).x! }).sign(forged.privateKey);
    }],
    ['another issuer', () => mintIdToken(server, { aud: clientId, sub: aliceId, iss: 'https://elsewhere.example' })],
    ['the audience of another client than client_id', () => mintIdToken(server, { aud: otherClientId, sub: aliceId })],
    ['an audience that is no client', () => mintIdToken(server, { aud: 'nobody', sub: aliceId })],
    ['an access token (typ at+jwt)', () => mintIdToken(server, { aud: clientId, sub: aliceId }, 'RS256', { typ: 'at+jwt' })],
    ['no subject', () => mintIdToken(server, { aud: clientId, sub: '' })],
    ['not a JWT', async () => 'not.a.jwt'],
  ])('a hint with %s is refused: error page, no redirect', async (_name, make) => {
    const { alice, cookie } = await signedIn();
    const hint = await make();
    const res = await alice.get(query({ id_token_hint: hint, client_id: clientId, post_logout_redirect_uri: RETURN, state: 's' }));
    expect([res.status, res.location]).toEqual([400, undefined]);
    expect(res.text).toContain('You have not been signed out');
    expect(await stillSignedIn(cookie)).toBe(true);
  });

  it('client_id without a hint: the confirmation names the client, then the redirect', async () => {
    const { alice, cookie } = await signedIn();
    const page = await alice.get(query({ client_id: clientId, post_logout_redirect_uri: RETURN, state: 'abc' }));
    expect(page.status).toBe(200);
    expect(page.text).toContain('Example RP');
    const out = await alice.post('/logout', formFields(page));
    expect([out.status, out.location]).toEqual([303, `${RETURN}?state=abc`]);
    expect(await stillSignedIn(cookie)).toBe(false);
  });

  it('an unknown client_id with a post_logout_redirect_uri is refused', async () => {
    const { alice } = await signedIn();
    const res = await alice.get(query({ client_id: 'nobody', post_logout_redirect_uri: RETURN }));
    expect([res.status, res.location]).toEqual([400, undefined]);
  });

  it('without a session: the signed-out page, or straight to a validated post_logout_redirect_uri', async () => {
    const page = await visitor().get('/logout');
    expect(page.status).toBe(200);
    expect(page.text).toContain('You are not signed in');
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, sid: 'ended' });
    const back = await visitor().get(query({ id_token_hint: hint, post_logout_redirect_uri: RETURN, state: 'x' }));
    expect([back.status, back.location]).toEqual([303, `${RETURN}?state=x`]);
  });

  it('the confirmation without its CSRF token is refused with 403 and the session stays', async () => {
    const { alice, sid, cookie } = await signedIn();
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, sid });
    const page = await alice.get(query({ id_token_hint: hint, post_logout_redirect_uri: RETURN }));
    const { csrf_token: _token, ...fields } = formFields(page);
    const res = await alice.post('/logout', fields);
    expect([res.status, res.location]).toEqual([403, undefined]);
    expect(res.text).toContain('This form has expired');
    expect((await alice.post('/logout', { ...fields, csrf_token: 'A'.repeat(43) })).status).toBe(403);
    expect(await stillSignedIn(cookie)).toBe(true);
  });

  it('a hint for another sign-in (sid or sub): the user is asked, told, and confirming signs out this browser', async () => {
    const { alice, cookie } = await signedIn();
    for (const claims of [{ sid: 'another-session' }, { sub: 'another-user' }]) {
      const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, ...claims });
      const page = await alice.get(query({ id_token_hint: hint }));
      expect(page.status).toBe(200);
      expect(page.text).toContain('The request was made for a different sign-in than the one in this browser.');
      // no redirect to allow: the pages' own policy
      expect(page.headers.get('content-security-policy')).toBe(PAGE_CSP);
    }
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, sid: 'another-session' });
    const page = await alice.get(query({ id_token_hint: hint }));
    const out = await alice.post('/logout', formFields(page));
    expect(out.status).toBe(200);
    expect(out.text).toContain('You have signed out');
    expect(await stillSignedIn(cookie)).toBe(false);
  });

  it('a relying party may POST the request: without the (SameSite=Lax) cookie it goes on as a GET, with it the confirmation shows', async () => {
    const { alice } = await signedIn();
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId });
    const params = { id_token_hint: hint, post_logout_redirect_uri: RETURN, state: 'p' };
    const crossSite = await new Visitor(server.url).post('/logout', params);
    expect(crossSite.status).toBe(303);
    expect(crossSite.location).toBe(query(params));
    const page = await alice.post('/logout', params);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Do you want to sign out?');
  });

  it('ends the session on every instance: confirmed on one, gone on the other', async () => {
    const { alice, sid, cookie } = await signedIn();
    expect(await stillSignedIn(cookie, other)).toBe(true);
    const hint = await mintIdToken(server, { aud: clientId, sub: aliceId, sid });
    const page = await alice.get(query({ id_token_hint: hint, post_logout_redirect_uri: RETURN, state: 'two' }), other.url);
    expect(page.status).toBe(200);
    const out = await alice.post('/logout', formFields(page), other.url);
    expect(out.location).toBe(`${RETURN}?state=two`);
    expect(await stillSignedIn(cookie, other)).toBe(false);
    expect(await stillSignedIn(cookie, server)).toBe(false);
  });

  it('a repeated parameter is refused', async () => {
    const { alice } = await signedIn();
    const res = await alice.get(`/logout?client_id=${clientId}&client_id=${otherClientId}&post_logout_redirect_uri=${encodeURIComponent(RETURN)}`);
    expect([res.status, res.location]).toEqual([400, undefined]);
  });
});
