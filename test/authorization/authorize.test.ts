import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenHash } from '../../src/tokens/id-token.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { basic, postForm } from '../support/client-auth.js';
import { advanceWallClock } from '../support/clock.js';
import { createUser, csrfTokenOf, Visitor, type PageResponse } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const PASSWORD = 'correct horse battery';
const REDIRECT = 'https://rp.example/cb';

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

describe(`authorization endpoint (${storageKind})`, () => {
  let server: TestServer;
  let aliceId: string;
  let admin: string;
  let confidential: { client_id: string; client_secret: string };
  let publicClient: { client_id: string };

  const register = async (metadata: Record<string, unknown>) => {
    const res = await request(server, 'POST', '/register', { json: metadata });
    if (res.status !== 201) throw new Error(res.text);
    return res.body as { client_id: string; client_secret: string };
  };

  const authorizePath = (params: Record<string, string>) => `/authorize?${new URLSearchParams(params).toString()}`;
  const codeParams = (client: { client_id: string }, extra: Record<string, string> = {}) => ({
    response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: 'openid profile', state: 'st-1', nonce: 'n-1', ...extra,
  });

  /** Follows this server's own redirects; stops at a page, or at a redirect to the client. */
  async function follow(visitor: Visitor, first: PageResponse): Promise<PageResponse> {
    let res = first;
    for (let hops = 0; hops < 10 && res.location !== undefined && !res.location.startsWith('https://rp.example') && !res.location.startsWith('http://127.0.0.1:9'); hops++) {
      res = await visitor.get(res.location.startsWith('http') ? res.location.slice(server.url.length) : res.location);
    }
    return res;
  }
  const authorize = async (visitor: Visitor, params: Record<string, string>) => follow(visitor, await visitor.get(authorizePath(params)));

  const signedIn = async () => {
    const visitor = new Visitor(server.url);
    expect((await visitor.signIn('alice', PASSWORD)).status).toBe(303);
    return visitor;
  };

  /** On the consent page: answers it. */
  const answerConsent = async (visitor: Visitor, page: PageResponse, decision: 'allow' | 'deny') => {
    const handle = /name="request" value="([^"]+)"/.exec(page.text)![1]!;
    return follow(visitor, await visitor.post('/consent', { csrf_token: csrfTokenOf(page.text), request: handle, decision }));
  };

  const responseOf = (res: PageResponse) => {
    expect(res.status, res.text).toBeGreaterThanOrEqual(302);
    expect(res.location).toBeDefined();
    return Object.fromEntries(new URL(res.location!).searchParams);
  };

  /** Signed in, consented, a code in hand. */
  async function codeFor(client: { client_id: string }, extra: Record<string, string> = {}, visitor?: Visitor) {
    const v = visitor ?? (await signedIn());
    let res = await authorize(v, codeParams(client, extra));
    if (res.status === 200 && res.text.includes('name="decision"')) res = await answerConsent(v, res, 'allow');
    const params = responseOf(res);
    expect(params.code, JSON.stringify(params)).toBeDefined();
    return { code: params.code!, params, visitor: v };
  }

  const exchange = (client: { client_id: string; client_secret: string }, form: Record<string, string>) =>
    postForm(server, '/token', { grant_type: 'authorization_code', redirect_uri: REDIRECT, ...form }, { authorization: basic(client.client_id, client.client_secret) });

  beforeAll(async () => {
    server = await startTestServer();
    aliceId = await createUser(server, 'alice', PASSWORD);
    admin = await adminToken(server, await bootstrapAdmin(server));
    confidential = await register({ redirect_uris: [REDIRECT, 'https://rp.example/other'], client_name: 'Example RP', logo_uri: 'https://rp.example/logo.png', policy_uri: 'https://rp.example/privacy', tos_uri: 'https://rp.example/tos', scope: 'openid profile email' });
    publicClient = await register({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Public App' });
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('client and redirect URI: an error page, never a redirect', () => {
    it.each([
      ['an unknown client_id', () => ({ ...codeParams({ client_id: 'x'.repeat(32) }) }), 'not registered'],
      ['no client_id', () => { const { client_id: _, ...rest } = codeParams(confidential); return rest; }, 'client_id is missing'],
      ['a redirect_uri not registered', () => codeParams(confidential, { redirect_uri: 'https://evil.example/cb' }), 'not one it registered'],
      ['a redirect_uri that only starts like a registered one', () => codeParams(confidential, { redirect_uri: `${REDIRECT}/../x` }), 'not one it registered'],
      ['a redirect_uri differing in case', () => codeParams(confidential, { redirect_uri: REDIRECT.toUpperCase() }), 'not one it registered'],
      ['no redirect_uri while several are registered', () => { const { redirect_uri: _, ...rest } = codeParams(confidential); return rest; }, 'redirect_uri is missing'],
    ])('%s', async (_name, params, message) => {
      const res = await new Visitor(server.url).get(authorizePath(params()));
      expect(res.status).toBe(400);
      expect(res.location).toBeUndefined();
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.text).toContain(message);
    });

    it('a parameter given twice', async () => {
      const res = await new Visitor(server.url).get(`${authorizePath(codeParams(confidential))}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb`);
      expect([res.status, res.location]).toEqual([400, undefined]);
    });

    it('a disabled client', async () => {
      const client = await register({ redirect_uris: [REDIRECT] });
      expect((await request(server, 'POST', `/admin/clients/${client.client_id}/disable`, { token: admin })).status).toBe(200);
      const res = await new Visitor(server.url).get(authorizePath(codeParams(client)));
      expect([res.status, res.location]).toEqual([400, undefined]);
      expect(res.text).toContain('cannot be used');
    });
  });

  describe('errors go back to the client with state and iss (RFC 6749 §4.1.2.1, RFC 9207)', () => {
    const refused = async (params: Record<string, string>) => responseOf(await new Visitor(server.url).get(authorizePath(params)));

    it.each([
      ['unsupported response_type', () => codeParams(confidential, { response_type: 'token' }), 'unsupported_response_type'],
      ['hybrid response_type', () => codeParams(confidential, { response_type: 'code id_token' }), 'unsupported_response_type'],
      ['no response_type', () => { const { response_type: _, ...rest } = codeParams(confidential); return rest; }, 'invalid_request'],
      ['request objects', () => codeParams(confidential, { request: 'eyJhbGciOiJub25lIn0.e30.' }), 'request_not_supported'],
      ['request_uri', () => codeParams(confidential, { request_uri: 'https://rp.example/request.jwt' }), 'request_uri_not_supported'],
      ['a scope the client did not register', () => codeParams(confidential, { scope: 'openid phone' }), 'invalid_scope'],
      ['an admin scope', () => codeParams(confidential, { scope: 'openid admin:write' }), 'invalid_scope'],
      ['an unknown response_mode', () => codeParams(confidential, { response_mode: 'fragment' }), 'invalid_request'],
      ['an unknown prompt', () => codeParams(confidential, { prompt: 'select_account' }), 'invalid_request'],
      ['prompt none with another value', () => codeParams(confidential, { prompt: 'none login' }), 'invalid_request'],
      ['a max_age that is not a number', () => codeParams(confidential, { max_age: '-1' }), 'invalid_request'],
      ['PKCE missing for a public client', () => codeParams(publicClient), 'invalid_request'],
      ['PKCE plain', () => codeParams(confidential, { code_challenge: pkce().verifier, code_challenge_method: 'plain' }), 'invalid_request'],
      ['PKCE without a method (plain)', () => codeParams(confidential, { code_challenge: pkce().challenge }), 'invalid_request'],
      ['PKCE challenge of the wrong shape', () => codeParams(confidential, { code_challenge: 'short', code_challenge_method: 'S256' }), 'invalid_request'],
    ])('%s', async (_name, params, error) => {
      const response = await refused(params());
      expect(response).toMatchObject({ error, state: 'st-1', iss: server.config.issuer });
      expect(response.error_description).toBeTruthy();
    });

    it('a client registered without the code flow gets unauthorized_client', async () => {
      const machine = await register({ grant_types: ['client_credentials'], redirect_uris: [REDIRECT] });
      expect(await refused(codeParams(machine))).toMatchObject({ error: 'unauthorized_client', state: 'st-1', iss: server.config.issuer });
    });

    it('an OpenID Connect request must name its redirect_uri; a plain OAuth one may leave out the only one', async () => {
      const single = await register({ redirect_uris: [REDIRECT], scope: 'openid profile' });
      const { redirect_uri: _, ...withoutRedirect } = codeParams(single);
      expect(await refused(withoutRedirect)).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('redirect_uri is required') });
      const visitor = await signedIn();
      const consent = await authorize(visitor, { ...withoutRedirect, scope: 'profile' });
      expect(consent.text).toContain('name="decision"');
      const { code } = responseOf(await answerConsent(visitor, consent, 'allow'));
      // the authorization request left it out: the token request may too (RFC 6749 §4.1.3)
      const tokens = await postForm(server, '/token', { grant_type: 'authorization_code', code: code! }, { authorization: basic(single.client_id, single.client_secret) });
      expect(tokens.status, tokens.text).toBe(200);
    });
  });

  describe('signing in and consent', () => {
    it('sends a visitor who is not signed in to the login page, the request waiting server-side', async () => {
      const visitor = new Visitor(server.url);
      const res = await visitor.get(authorizePath(codeParams(confidential, { login_hint: 'alice' })));
      expect(res.status).toBe(303);
      const login = new URL(res.location!, server.url);
      expect(login.pathname).toBe('/login');
      expect(login.searchParams.get('return_to')).toMatch(/^\/authorize\/resume\?request=[A-Za-z0-9_-]{43}$/);
      // nothing of the request travels in the URL
      expect(res.location).not.toContain('st-1');
      const page = await visitor.get(`${login.pathname}${login.search}`);
      expect(page.text).toMatch(/id="username"[^>]*value="alice"/);
      // the login page may send the browser on to the client: its form-action allows that origin
      expect(page.headers.get('content-security-policy')).toContain("form-action 'self' https://rp.example");
    });

    it('the consent page names the client, its host and the scopes; the code comes back with state and iss', async () => {
      const visitor = new Visitor(server.url);
      const login = await visitor.get(authorizePath(codeParams(confidential, { scope: 'openid email' })));
      const returnTo = new URL(login.location!, server.url).searchParams.get('return_to')!;
      const page = await follow(visitor, await visitor.post('/login', { csrf_token: csrfTokenOf((await visitor.get(login.location!)).text), username: 'alice', password: PASSWORD, return_to: returnTo }));
      expect(page.status).toBe(200);
      expect(page.text).toContain('Example RP');
      expect(page.text).toContain('<strong class="redirect-host">rp.example</strong>');
      expect(page.text).toContain('src="https://rp.example/logo.png"');
      expect(page.text).toContain('href="https://rp.example/privacy"');
      expect(page.text).toContain('href="https://rp.example/tos"');
      expect(page.text).toContain('See your e-mail address');
      expect(page.text).not.toMatch(/<script|\son[a-z]+=/i);
      expect(page.headers.get('content-security-policy')).toContain("form-action 'self' https://rp.example");
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      const response = responseOf(await answerConsent(visitor, page, 'allow'));
      expect(response).toMatchObject({ state: 'st-1', iss: server.config.issuer });
      expect(response.code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('consent is remembered per user, client and scope set; a wider scope asks again', async () => {
      const client = await register({ redirect_uris: [REDIRECT], scope: 'openid profile email' });
      const visitor = await signedIn();
      const first = await authorize(visitor, codeParams(client, { scope: 'openid profile' }));
      expect(first.text).toContain('name="decision"');
      await answerConsent(visitor, first, 'allow');
      expect(responseOf(await authorize(visitor, codeParams(client, { scope: 'openid' }))).code).toBeDefined();
      expect(responseOf(await authorize(visitor, codeParams(client, { scope: 'profile openid' }))).code).toBeDefined();
      expect((await authorize(visitor, codeParams(client, { scope: 'openid email' }))).text).toContain('name="decision"');
      // prompt=consent asks even so
      expect((await authorize(visitor, codeParams(client, { scope: 'openid', prompt: 'consent' }))).text).toContain('name="decision"');
    });

    it('an operator lists and revokes consent; the next request asks again', async () => {
      const client = await register({ redirect_uris: [REDIRECT] });
      const { visitor } = await codeFor(client);
      const listed = await request(server, 'GET', `/admin/users/${aliceId}/consents`, { token: admin });
      expect(listed.status).toBe(200);
      expect(listed.body.consents).toContainEqual({ client_id: client.client_id, scope: 'openid profile', granted_at: expect.any(Number) });
      expect(responseOf(await authorize(visitor, codeParams(client))).code).toBeDefined();
      expect((await request(server, 'DELETE', `/admin/users/${aliceId}/consents/${client.client_id}`, { token: admin })).status).toBe(204);
      expect((await request(server, 'DELETE', `/admin/users/${aliceId}/consents/${client.client_id}`, { token: admin })).status).toBe(404);
      expect((await authorize(visitor, codeParams(client))).text).toContain('name="decision"');
      const audit = await request(server, 'GET', '/admin/audit?action=user.revoke_consent', { token: admin });
      expect(audit.body.entries?.[0]?.details ?? audit.body).toMatchObject({ client_id: client.client_id });
    });

    it('denying sends access_denied to the client', async () => {
      const client = await register({ redirect_uris: [REDIRECT] });
      const visitor = await signedIn();
      const page = await authorize(visitor, codeParams(client));
      expect(responseOf(await answerConsent(visitor, page, 'deny'))).toMatchObject({ error: 'access_denied', state: 'st-1', iss: server.config.issuer });
    });

    it('a consent POST without its CSRF token changes nothing', async () => {
      const client = await register({ redirect_uris: [REDIRECT] });
      const visitor = await signedIn();
      const page = await authorize(visitor, codeParams(client));
      const handle = /name="request" value="([^"]+)"/.exec(page.text)![1]!;
      const res = await visitor.post('/consent', { request: handle, decision: 'allow' });
      expect([res.status, res.location]).toEqual([403, undefined]);
      const other = await visitor.post('/consent', { csrf_token: 'x'.repeat(43), request: handle, decision: 'allow' });
      expect(other.status).toBe(403);
      expect((await request(server, 'GET', `/admin/users/${aliceId}/consents`, { token: admin })).body.consents.map((c: { client_id: string }) => c.client_id)).not.toContain(client.client_id);
    });

    it('prompt=none: login_required without a session, consent_required without consent', async () => {
      const client = await register({ redirect_uris: [REDIRECT] });
      expect(responseOf(await new Visitor(server.url).get(authorizePath(codeParams(client, { prompt: 'none' }))))).toMatchObject({ error: 'login_required', state: 'st-1', iss: server.config.issuer });
      const visitor = await signedIn();
      expect(responseOf(await visitor.get(authorizePath(codeParams(client, { prompt: 'none' }))))).toMatchObject({ error: 'consent_required', state: 'st-1' });
      await codeFor(client, {}, visitor);
      expect(responseOf(await visitor.get(authorizePath(codeParams(client, { prompt: 'none' })))).code).toBeDefined();
    });

    it('prompt=login and max_age ask for a new sign-in; auth_time then is in the ID token', async () => {
      const { visitor } = await codeFor(confidential);
      for (const extra of [{ prompt: 'login' }, { max_age: '60' }]) {
        advanceWallClock(120_000);
        const res = await visitor.get(authorizePath(codeParams(confidential, extra)));
        const login = new URL(res.location!, server.url);
        expect(login.pathname, JSON.stringify(extra)).toBe('/login');
        expect(login.searchParams.get('prompt')).toBe('login');
        // the signed-in user sees the form (username filled in), not a redirect
        const page = await visitor.get(`${login.pathname}${login.search}`);
        expect(page.status).toBe(200);
        expect(page.text).toMatch(/id="username"[^>]*value="alice"/);
        const before = Math.floor(Date.now() / 1000);
        const done = await follow(visitor, await visitor.post('/login', { csrf_token: csrfTokenOf(page.text), username: 'alice', password: PASSWORD, return_to: login.searchParams.get('return_to')! }));
        const { code } = responseOf(done);
        const tokens = await exchange(confidential, { code: code! });
        expect(tokens.status, tokens.text).toBe(200);
        // OIDC Core §2: auth_time is required when max_age was sent
        if ('max_age' in extra) expect(decodeJwt(tokens.body.id_token).auth_time).toBeGreaterThanOrEqual(before);
      }
      // within max_age: no sign-in
      expect(responseOf(await visitor.get(authorizePath(codeParams(confidential, { max_age: '3600' })))).code).toBeDefined();
    });

    it('a disabled user is signed out and their codes give no tokens', async () => {
      const bob = await createUser(server, 'bob', PASSWORD);
      const visitor = new Visitor(server.url);
      await visitor.signIn('bob', PASSWORD);
      const { code } = await codeFor(confidential, {}, visitor);
      expect((await request(server, 'POST', `/admin/users/${bob}/disable`, { token: admin })).status).toBe(200);
      const tokens = await exchange(confidential, { code });
      expect([tokens.status, tokens.body.error]).toEqual([400, 'invalid_grant']);
      const res = await visitor.get(authorizePath(codeParams(confidential)));
      expect(new URL(res.location!, server.url).pathname).toBe('/login');
    });

    it('response_mode=form_post answers with a self-submitting form allowed by its script hash', async () => {
      const visitor = (await codeFor(confidential)).visitor;
      const res = await visitor.get(authorizePath(codeParams(confidential, { response_mode: 'form_post' })));
      expect(res.status).toBe(200);
      expect(res.text).toContain(`<form method="post" action="${REDIRECT}">`);
      expect(res.text).toMatch(/<input type="hidden" name="code" value="[A-Za-z0-9_-]{43}">/);
      expect(res.text).toContain('<input type="hidden" name="state" value="st-1">');
      expect(res.text).toContain(`<input type="hidden" name="iss" value="${server.config.issuer}">`);
      expect(res.text).toContain('<noscript>');
      const csp = res.headers.get('content-security-policy')!;
      const script = /<script>([^<]*)<\/script>/.exec(res.text)![1]!;
      expect(csp).toContain(`script-src 'sha256-${createHash('sha256').update(script).digest('base64')}'`);
      expect(csp).toContain("form-action 'self' https://rp.example");
      expect(csp).not.toContain('unsafe-inline');
      // errors too
      const error = await new Visitor(server.url).get(authorizePath(codeParams(confidential, { response_mode: 'form_post', prompt: 'none' })));
      expect(error.text).toContain('<input type="hidden" name="error" value="login_required">');
    });
  });

  describe('the token endpoint: grant_type=authorization_code', () => {
    it('gives an access token for the user and an ID token signed with the client\'s algorithm', async () => {
      const { code } = await codeFor(confidential);
      const res = await exchange(confidential, { code });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'openid profile', expires_in: expect.any(Number) });
      const jwks = createLocalJWKSet((await request(server, 'GET', '/jwks')).body as JSONWebKeySet);
      const { payload, protectedHeader } = await jwtVerify(res.body.id_token, jwks, { issuer: server.config.issuer, audience: confidential.client_id });
      expect(protectedHeader.alg).toBe('RS256');
      expect(payload).toMatchObject({ sub: aliceId, nonce: 'n-1', amr: ['pwd'], sid: expect.any(String), at_hash: accessTokenHash(res.body.access_token, 'RS256') });
      expect(payload).not.toHaveProperty('auth_time');
      const introspection = await postForm(server, '/introspect', { token: res.body.access_token }, { authorization: basic(confidential.client_id, confidential.client_secret) });
      expect(introspection.body).toMatchObject({ active: true, sub: aliceId, client_id: confidential.client_id, scope: 'openid profile' });
    });

    it('signs with id_token_signed_response_alg and includes auth_time for require_auth_time', async () => {
      const client = await register({ redirect_uris: [REDIRECT], id_token_signed_response_alg: 'ES256', require_auth_time: true });
      const { code } = await codeFor(client);
      const res = await exchange(client, { code });
      const jwks = createLocalJWKSet((await request(server, 'GET', '/jwks')).body as JSONWebKeySet);
      const { payload, protectedHeader } = await jwtVerify(res.body.id_token, jwks, { issuer: server.config.issuer, audience: client.client_id });
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload.auth_time).toEqual(expect.any(Number));
    });

    it('without openid: an access token and no ID token', async () => {
      const client = await register({ redirect_uris: [REDIRECT], scope: 'profile' });
      const { code } = await codeFor(client, { scope: 'profile' });
      const res = await exchange(client, { code });
      expect(res.status, res.text).toBe(200);
      expect(res.body).not.toHaveProperty('id_token');
    });

    it('a code used twice is refused, and the tokens of its first use are revoked', async () => {
      const { code } = await codeFor(confidential);
      const first = await exchange(confidential, { code });
      expect(first.status).toBe(200);
      const again = await exchange(confidential, { code });
      expect([again.status, again.body.error]).toEqual([400, 'invalid_grant']);
      const introspection = await postForm(server, '/introspect', { token: first.body.access_token }, { authorization: basic(confidential.client_id, confidential.client_secret) });
      expect(introspection.body).toEqual({ active: false });
    });

    it('a replayed code revokes reference access tokens too', async () => {
      const client = await register({ redirect_uris: [REDIRECT] });
      expect((await request(server, 'PATCH', `/admin/clients/${client.client_id}`, { body: JSON.stringify({ access_token_format: 'reference' }), headers: { 'content-type': 'application/merge-patch+json' }, token: admin })).status).toBe(200);
      const { code } = await codeFor(client);
      const first = await exchange(client, { code });
      expect(first.body.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      await exchange(client, { code });
      const introspection = await postForm(server, '/introspect', { token: first.body.access_token }, { authorization: basic(client.client_id, client.client_secret) });
      expect(introspection.body).toEqual({ active: false });
    });

    it.each([
      ['another redirect_uri', { redirect_uri: 'https://rp.example/other' }, 'invalid_grant'],
      ['no redirect_uri although the request named one', { redirect_uri: '' }, 'invalid_request'],
      ['an unknown code', { code: randomBytes(32).toString('base64url') }, 'invalid_grant'],
      ['a code_verifier without a challenge', { code_verifier: pkce().verifier }, 'invalid_grant'],
    ])('refuses %s', async (_name, form, error) => {
      const { code } = await codeFor(confidential);
      const res = await exchange(confidential, { code, ...form });
      expect([res.status, res.body.error]).toEqual([400, error]);
      // a refused request does not use the code up (except when it never named it)
      if (!('code' in form)) expect((await exchange(confidential, { code })).status).toBe(200);
    });

    it('refuses a code issued to another client, without using it up', async () => {
      const other = await register({ redirect_uris: [REDIRECT] });
      const { code } = await codeFor(confidential);
      const res = await exchange(other, { code });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_grant']);
      expect((await exchange(confidential, { code })).status).toBe(200);
    });

    it('refuses an expired code (60 s)', async () => {
      const { code } = await codeFor(confidential);
      advanceWallClock(61_000);
      const res = await exchange(confidential, { code });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_grant']);
    });

    it('PKCE: a public client with the right verifier gets tokens; a wrong or missing verifier is refused', async () => {
      const { verifier, challenge } = pkce();
      const { code } = await codeFor(publicClient, { code_challenge: challenge, code_challenge_method: 'S256' });
      const asPublic = (form: Record<string, string>) => postForm(server, '/token', { grant_type: 'authorization_code', redirect_uri: REDIRECT, client_id: publicClient.client_id, ...form });
      expect((await asPublic({ code })).body.error).toBe('invalid_grant');
      expect((await asPublic({ code, code_verifier: pkce().verifier })).body.error).toBe('invalid_grant');
      const ok = await asPublic({ code, code_verifier: verifier });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.id_token).toBeDefined();
    });

    it('PKCE is accepted from confidential clients too', async () => {
      const { verifier, challenge } = pkce();
      const { code } = await codeFor(confidential, { code_challenge: challenge, code_challenge_method: 'S256' });
      expect((await exchange(confidential, { code, code_verifier: verifier })).status).toBe(200);
    });

    it('POST /authorize takes the same parameters as a form', async () => {
      const visitor = (await codeFor(confidential)).visitor;
      const res = await visitor.post('/authorize', codeParams(confidential));
      expect(res.status).toBe(303);
      expect(responseOf(res).code).toBeDefined();
    });
  });

  describe('userinfo (OpenID Connect Core §5.3)', () => {
    const userinfo = (token: string | undefined, method = 'GET') =>
      request(server, method, '/userinfo', token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

    it('answers the claims of the token\'s scope, sub for openid alone', async () => {
      const carol = await createUser(server, 'carol', PASSWORD);
      await request(server, 'PATCH', `/admin/users/${carol}`, { token: admin, body: JSON.stringify({ email: 'carol@example.com', email_verified: true, name: 'Carol', phone_number: '+33123456789' }), headers: { 'content-type': 'application/merge-patch+json' } });
      const visitor = new Visitor(server.url);
      await visitor.signIn('carol', PASSWORD);
      const { code } = await codeFor(confidential, { scope: 'openid profile email' }, visitor);
      const tokens = await exchange(confidential, { code });
      for (const method of ['GET', 'POST']) {
        const res = await userinfo(tokens.body.access_token, method);
        expect(res.status, res.text).toBe(200);
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(res.body).toEqual({ sub: carol, name: 'Carol', preferred_username: 'carol', updated_at: expect.any(Number), email: 'carol@example.com', email_verified: true });
      }
      const { code: narrow } = await codeFor(confidential, { scope: 'openid' }, visitor);
      expect((await userinfo((await exchange(confidential, { code: narrow })).body.access_token)).body).toEqual({ sub: carol });
    });

    it('refuses a missing or unknown token (401), a token without openid (403), a client\'s own token (401)', async () => {
      const missing = await userinfo(undefined);
      expect([missing.status, missing.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
      expect((await userinfo('not-a-token')).status).toBe(401);
      const client = await register({ redirect_uris: [REDIRECT], scope: 'profile' });
      const { code } = await codeFor(client, { scope: 'profile' });
      const noOpenid = await userinfo((await exchange(client, { code })).body.access_token);
      expect([noOpenid.status, noOpenid.body.error]).toEqual([403, 'insufficient_scope']);
      const machine = await register({ grant_types: ['client_credentials'], scope: 'openid' });
      const own = await postForm(server, '/token', { grant_type: 'client_credentials', scope: 'openid' }, { authorization: basic(machine.client_id, machine.client_secret) });
      expect((await userinfo(own.body.access_token)).status).toBe(401);
      const inBody = await postForm(server, '/userinfo', { access_token: 'x' });
      expect([inBody.status, inBody.body.error]).toEqual([400, 'invalid_request']);
    });
  });
});
