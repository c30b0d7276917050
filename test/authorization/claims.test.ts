import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_PASSWORD_PROTECTED_TRANSPORT } from '../../src/protocol/acr.js';
import { MAX_CLAIMS_PARAMETER_LENGTH } from '../../src/protocol/claims-request.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { basic, postForm } from '../support/client-auth.js';
import { advanceWallClock } from '../support/clock.js';
import { createUser, csrfTokenOf, Visitor, type PageResponse } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const PASSWORD = 'correct horse battery';
const REDIRECT = 'https://rp.example/cb';
const insecure = { execute: [oidc.allowInsecureRequests] };

/**
 * The claims request parameter (OpenID Connect Core §5.5), acr_values and the acr claim (§2,
 * §3.1.2.1, §5.5.1.1), and ui_locales (§3.1.2.1): each rule a case. Users sign in over real HTTP
 * (no browser); codes are exchanged and ID tokens validated by openid-client as a relying party
 * would.
 */
describe(`claims, acr and ui_locales at the authorization endpoint (${storageKind})`, () => {
  let server: TestServer;
  let admin: string;
  let carolId: string;
  let daveId: string;
  let client: { client_id: string; client_secret: string };
  let rp: oidc.Configuration;

  const register = async (metadata: Record<string, unknown>) => {
    const res = await request(server, 'POST', '/register', { json: metadata });
    if (res.status !== 201) throw new Error(res.text);
    return res.body as { client_id: string; client_secret: string };
  };
  const patchUser = async (id: string, change: Record<string, unknown>) => {
    const res = await request(server, 'PATCH', `/admin/users/${id}`, { token: admin, body: JSON.stringify(change), headers: { 'content-type': 'application/merge-patch+json' } });
    expect(res.status, res.text).toBe(200);
  };
  const relyingParty = (registered: { client_id: string; client_secret: string }) => oidc.discovery(new URL(server.url), registered.client_id, undefined, oidc.ClientSecretBasic(registered.client_secret), insecure);

  const authorizePath = (params: Record<string, string>) => `/authorize?${new URLSearchParams(params).toString()}`;
  const codeParams = (of: { client_id: string }, extra: Record<string, string> = {}) => ({
    response_type: 'code', client_id: of.client_id, redirect_uri: REDIRECT, scope: 'openid', state: 'st-1', nonce: 'n-1', ...extra,
  });
  const claimsParam = (claims: unknown) => ({ claims: JSON.stringify(claims) });

  /** Follows this server's own redirects; stops at a page, or at a redirect to the client. */
  async function follow(visitor: Visitor, first: PageResponse): Promise<PageResponse> {
    let res = first;
    for (let hops = 0; hops < 10 && res.location !== undefined && !res.location.startsWith('https://rp.example'); hops++) {
      res = await visitor.get(res.location.startsWith('http') ? res.location.slice(server.url.length) : res.location);
    }
    return res;
  }
  const authorize = async (visitor: Visitor, params: Record<string, string>) => follow(visitor, await visitor.get(authorizePath(params)));
  const isConsentPage = (res: PageResponse) => res.status === 200 && res.text.includes('name="decision"');
  const answerConsent = async (visitor: Visitor, page: PageResponse) => {
    const handle = /name="request" value="([^"]+)"/.exec(page.text)![1]!;
    return follow(visitor, await visitor.post('/consent', { csrf_token: csrfTokenOf(page.text), request: handle, decision: 'allow' }));
  };
  const signedIn = async (username: string) => {
    const visitor = new Visitor(server.url);
    expect((await visitor.signIn(username, PASSWORD)).status).toBe(303);
    return visitor;
  };
  /** The redirect to the client, as a URL (with code or error, state and iss). */
  const callbackOf = (res: PageResponse): URL => {
    expect(res.status, res.text).toBeGreaterThanOrEqual(302);
    expect(res.location, res.text).toMatch(/^https:\/\/rp\.example\/cb\?/);
    return new URL(res.location!);
  };
  const errorOf = (res: PageResponse) => Object.fromEntries(callbackOf(res).searchParams);
  /** An error answered at the redirect URI straight away, before anyone signs in. */
  const refused = async (params: Record<string, string>) => errorOf(await new Visitor(server.url).get(authorizePath(params)));

  /** Signed in (as `visitor`), consenting when asked: the callback with its code. */
  async function codeFor(visitor: Visitor, params: Record<string, string>): Promise<URL> {
    let res = await authorize(visitor, params);
    if (isConsentPage(res)) res = await answerConsent(visitor, res);
    const url = callbackOf(res);
    expect(url.searchParams.get('code'), url.href).toBeTruthy();
    return url;
  }

  /** The code exchanged by openid-client, which validates the ID token (signature, iss, aud, nonce, state, at_hash). */
  async function tokensFor(visitor: Visitor, extra: Record<string, string>, config = rp, registered = client) {
    const callback = await codeFor(visitor, codeParams(registered, extra));
    const tokens = await oidc.authorizationCodeGrant(config, callback, { expectedState: 'st-1', expectedNonce: 'n-1', idTokenExpected: true });
    return { tokens, idToken: tokens.claims()! };
  }

  beforeAll(async () => {
    server = await startTestServer();
    admin = await adminToken(server, await bootstrapAdmin(server));
    carolId = await createUser(server, 'carol', PASSWORD);
    daveId = await createUser(server, 'dave', PASSWORD);
    await patchUser(carolId, { email: 'carol@example.com', email_verified: true, name: 'Carol Example', phone_number: '+33123456789' });
    client = await register({ redirect_uris: [REDIRECT], client_name: 'Claims RP', scope: 'openid profile email phone' });
    rp = await relyingParty(client);
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('discovery', () => {
    it('announces the claims parameter, the acr values achieved and the page languages; no claims_locales', async () => {
      const { body } = await request(server, 'GET', '/.well-known/openid-configuration');
      expect(body.claims_parameter_supported).toBe(true);
      expect(body.acr_values_supported).toEqual([ACR_PASSWORD_PROTECTED_TRANSPORT]);
      expect(body.ui_locales_supported).toEqual(['en']);
      expect(body).not.toHaveProperty('claims_locales_supported');
      expect(body.claims_supported).toEqual(expect.arrayContaining(['acr', 'auth_time', 'email', 'phone_number']));
      expect(rp.serverMetadata().claims_parameter_supported).toBe(true);
    });
  });

  describe('claims.id_token (Core §5.5)', () => {
    it('a claim asked for in id_token lands in the ID token; the same claim by scope alone does not', async () => {
      const visitor = await signedIn('carol');
      const byScope = await tokensFor(visitor, { scope: 'openid email' });
      // Core §5.4: with an access token issued, scope claims are served at /userinfo
      expect(byScope.idToken).not.toHaveProperty('email');
      expect(await oidc.fetchUserInfo(rp, byScope.tokens.access_token, carolId)).toMatchObject({ email: 'carol@example.com' });

      const asked = await tokensFor(visitor, { scope: 'openid email', ...claimsParam({ id_token: { email: { essential: true }, email_verified: null } }) });
      expect(asked.idToken).toMatchObject({ sub: carolId, email: 'carol@example.com', email_verified: true });
      expect(asked.idToken).not.toHaveProperty('name');
    });

    it('a claim beyond the scope asks the user first, names it on the consent page, and is remembered', async () => {
      const other = await register({ redirect_uris: [REDIRECT], scope: 'openid profile email phone' });
      const config = await relyingParty(other);
      const visitor = await signedIn('carol');
      await codeFor(visitor, codeParams(other));
      const wantsEmail = codeParams(other, claimsParam({ id_token: { email: null } }));
      // consent to openid alone does not release the e-mail address
      expect(errorOf(await visitor.get(authorizePath({ ...wantsEmail, prompt: 'none' })))).toMatchObject({ error: 'consent_required', state: 'st-1' });
      const page = await authorize(visitor, wantsEmail);
      expect(isConsentPage(page)).toBe(true);
      expect(page.text).toContain('<li>See your e-mail address</li>');
      const callback = callbackOf(await answerConsent(visitor, page));
      const tokens = await oidc.authorizationCodeGrant(config, callback, { expectedState: 'st-1', expectedNonce: 'n-1', idTokenExpected: true });
      expect(tokens.claims()).toMatchObject({ email: 'carol@example.com' });
      // remembered: asked again, no page; another claim beyond the scope asks again
      expect(callbackOf(await visitor.get(authorizePath({ ...wantsEmail, prompt: 'none' }))).searchParams.get('code')).toBeTruthy();
      expect(errorOf(await visitor.get(authorizePath({ ...codeParams(other, claimsParam({ userinfo: { phone_number: null } })), prompt: 'none' })))).toMatchObject({ error: 'consent_required' });
      const listed = await request(server, 'GET', `/admin/users/${carolId}/consents`, { token: admin });
      expect(listed.body.consents).toContainEqual({ client_id: other.client_id, scope: 'openid', claims: 'email', granted_at: expect.any(Number) });
    });

    it('auth_time asked for in id_token is included', async () => {
      const visitor = await signedIn('carol');
      const { idToken } = await tokensFor(visitor, claimsParam({ id_token: { auth_time: { essential: true } } }));
      expect(idToken.auth_time).toEqual(expect.any(Number));
      const { idToken: plain } = await tokensFor(visitor, {});
      expect(plain).not.toHaveProperty('auth_time');
    });

    it('a claim the user does not have is left out, essential or not (Core §5.5.1)', async () => {
      const visitor = await signedIn('dave');
      const { idToken } = await tokensFor(visitor, claimsParam({ id_token: { email: { essential: true }, phone_number: null } }));
      expect(idToken.sub).toBe(daveId);
      expect(idToken).not.toHaveProperty('email');
      expect(idToken).not.toHaveProperty('phone_number');
    });
  });

  describe('claims.userinfo (Core §5.5)', () => {
    it.each(['jwt', 'reference'] as const)('adds claims the scope does not cover (%s access tokens); the token names them, never their values', async (format) => {
      const other = await register({ redirect_uris: [REDIRECT], scope: 'openid profile email phone' });
      if (format === 'reference') {
        const patched = await request(server, 'PATCH', `/admin/clients/${other.client_id}`, { body: JSON.stringify({ access_token_format: 'reference' }), headers: { 'content-type': 'application/merge-patch+json' }, token: admin });
        expect(patched.status).toBe(200);
      }
      const config = await relyingParty(other);
      const visitor = await signedIn('carol');
      const { tokens, idToken } = await tokensFor(visitor, claimsParam({ userinfo: { phone_number: { essential: true }, name: null, favourite_colour: null } }), config, other);
      expect(tokens.scope).toBe('openid');
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, carolId);
      expect(userinfo).toEqual({ sub: carolId, phone_number: '+33123456789', name: 'Carol Example' });
      // asked for at userinfo only: not in the ID token
      expect(idToken).not.toHaveProperty('phone_number');
      if (format === 'jwt') {
        const accessToken = decodeJwt(tokens.access_token);
        expect(accessToken.userinfo_claims).toEqual(['name', 'phone_number']);
        expect(JSON.stringify(accessToken)).not.toContain('+33123456789');
      } else {
        expect(tokens.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      }
      // without a claims request, the scope's claims only
      const plain = await tokensFor(visitor, {}, config, other);
      expect(await oidc.fetchUserInfo(config, plain.tokens.access_token, carolId)).toEqual({ sub: carolId });
    });
  });

  describe('a malformed claims parameter is invalid_request at the redirect URI', () => {
    it.each([
      ['not JSON', '{"id_token":', 'claims is not valid JSON'],
      ['a JSON array', '[]', 'claims must be a JSON object'],
      ['a JSON string', '"email"', 'claims must be a JSON object'],
      ['JSON null', 'null', 'claims must be a JSON object'],
      ['a member that is not an object', '{"userinfo":["email"]}', 'claims.userinfo must be a JSON object'],
      ['a member that is null', '{"id_token":null}', 'claims.id_token must be a JSON object'],
      ['a claim that is neither null nor an object', '{"id_token":{"email":true}}', 'claims.id_token.email must be null or a JSON object'],
      ['an essential that is not a boolean', '{"userinfo":{"email":{"essential":"yes"}}}', 'claims.userinfo.email.essential must be true or false'],
      ['values that are not an array', '{"id_token":{"acr":{"values":"x"}}}', 'claims.id_token.acr.values must be a JSON array'],
      ['a malformed entry of an unknown claim', '{"id_token":{"favourite_colour":1}}', 'claims.id_token.favourite_colour must be null or a JSON object'],
      ['a NUL character', '{"id_token":{"email":{"value":"a\\u0000b"}}}', 'NUL'],
      ['too long', JSON.stringify({ id_token: { email: { values: ['x'.repeat(MAX_CLAIMS_PARAMETER_LENGTH)] } } }), `longer than ${MAX_CLAIMS_PARAMETER_LENGTH}`],
    ])('%s', async (_name, claims, description) => {
      const answer = await refused(codeParams(client, { claims }));
      expect(answer).toMatchObject({ error: 'invalid_request', state: 'st-1', iss: server.config.issuer });
      expect(answer.error_description).toContain(description);
    });
  });

  it('unknown claims and members are ignored (Core §5.5)', async () => {
    const visitor = await signedIn('carol');
    const { idToken } = await tokensFor(visitor, claimsParam({ id_token: { favourite_colour: { essential: true }, email: null }, userinfo: { shoe_size: null }, verified_claims: {} }));
    expect(idToken).toMatchObject({ email: 'carol@example.com' });
    expect(idToken).not.toHaveProperty('favourite_colour');
    // a request naming only claims this server does not know is no claims request at all
    const { idToken: unknownOnly } = await tokensFor(visitor, claimsParam({ id_token: { favourite_colour: null } }));
    expect(Object.keys(unknownOnly).sort()).toEqual(['acr', 'amr', 'at_hash', 'aud', 'exp', 'iat', 'iss', 'nonce', 'sid', 'sub']);
  });

  describe('sub with a value (Core §3.1.2.2, §5.5.1)', () => {
    const forSubject = (subject: string, extra: Record<string, string> = {}) => codeParams(client, { ...claimsParam({ id_token: { sub: { value: subject } } }), ...extra });

    it('the signed-in user named by sub gets a code', async () => {
      const visitor = await signedIn('carol');
      const { idToken } = await tokensFor(visitor, claimsParam({ id_token: { sub: { value: carolId } } }));
      expect(idToken.sub).toBe(carolId);
    });

    it('another user signed in: prompt=none is login_required; otherwise a new sign-in, and only the named user gets a code', async () => {
      const visitor = await signedIn('carol');
      await codeFor(visitor, codeParams(client));
      expect(errorOf(await visitor.get(authorizePath(forSubject(daveId, { prompt: 'none' }))))).toMatchObject({ error: 'login_required', state: 'st-1', iss: server.config.issuer });

      // the login form again, even though carol is signed in (a sign-in in the second the request
      // arrives counts as made for it: the clock moves on first)
      advanceWallClock(2_000);
      const first = await visitor.get(authorizePath(forSubject(daveId)));
      const login = new URL(first.location!, server.url);
      expect(login.pathname).toBe('/login');
      expect(login.searchParams.get('prompt')).toBe('login');
      // carol signs in again: still not dave, and no code about her
      const page = await visitor.get(`${login.pathname}${login.search}`);
      const asCarol = await follow(visitor, await visitor.post('/login', { csrf_token: csrfTokenOf(page.text), username: 'carol', password: PASSWORD, return_to: login.searchParams.get('return_to')! }));
      const answer = errorOf(asCarol);
      expect(answer).toMatchObject({ error: 'login_required', state: 'st-1' });
      expect(answer).not.toHaveProperty('code');

      // dave signs in for the request: his code
      advanceWallClock(2_000);
      const again = await visitor.get(authorizePath(forSubject(daveId)));
      const loginAgain = new URL(again.location!, server.url);
      const form = await visitor.get(`${loginAgain.pathname}${loginAgain.search}`);
      let res = await follow(visitor, await visitor.post('/login', { csrf_token: csrfTokenOf(form.text), username: 'dave', password: PASSWORD, return_to: loginAgain.searchParams.get('return_to')! }));
      if (isConsentPage(res)) res = await answerConsent(visitor, res);
      const tokens = await oidc.authorizationCodeGrant(rp, callbackOf(res), { expectedState: 'st-1', expectedNonce: 'n-1', idTokenExpected: true });
      expect(tokens.claims()!.sub).toBe(daveId);
    });

    it('nobody signed in: the user named signs in; anyone else gets login_required', async () => {
      const visitor = new Visitor(server.url);
      const first = await visitor.get(authorizePath(forSubject(daveId)));
      const login = new URL(first.location!, server.url);
      const page = await visitor.get(`${login.pathname}${login.search}`);
      const res = await follow(visitor, await visitor.post('/login', { csrf_token: csrfTokenOf(page.text), username: 'carol', password: PASSWORD, return_to: login.searchParams.get('return_to')! }));
      expect(errorOf(res)).toMatchObject({ error: 'login_required' });
    });
  });

  describe('acr (Core §2) and acr_values (§3.1.2.1)', () => {
    it('every ID token carries the class achieved: password sign-in', async () => {
      const visitor = await signedIn('carol');
      const { idToken } = await tokensFor(visitor, {});
      expect(idToken).toMatchObject({ acr: ACR_PASSWORD_PROTECTED_TRANSPORT, amr: ['pwd'] });
    });

    it('acr_values naming a class achieved gives that acr, whatever else it prefers first', async () => {
      const visitor = await signedIn('carol');
      for (const acrValues of [ACR_PASSWORD_PROTECTED_TRANSPORT, `urn:example:mfa ${ACR_PASSWORD_PROTECTED_TRANSPORT}`]) {
        const { idToken } = await tokensFor(visitor, { acr_values: acrValues });
        expect(idToken.acr, acrValues).toBe(ACR_PASSWORD_PROTECTED_TRANSPORT);
      }
    });

    it('acr_values naming no class achieved is invalid_request at the redirect URI', async () => {
      const answer = await refused(codeParams(client, { acr_values: 'urn:example:mfa https://refeds.org/profile/mfa' }));
      expect(answer).toMatchObject({ error: 'invalid_request', state: 'st-1', iss: server.config.issuer });
      expect(answer.error_description).toContain('acr_values');
      expect(answer.error_description).toContain(ACR_PASSWORD_PROTECTED_TRANSPORT);
    });

    it('an essential acr claim with values this server cannot meet is access_denied; met, or voluntary, it goes through', async () => {
      const impossible = { id_token: { acr: { essential: true, values: ['urn:example:mfa', 'urn:example:hardware-key'] } } };
      expect(await refused(codeParams(client, claimsParam(impossible)))).toMatchObject({ error: 'access_denied', state: 'st-1', iss: server.config.issuer });
      expect(await refused(codeParams(client, claimsParam({ id_token: { acr: { essential: true, value: 'urn:example:mfa' } } })))).toMatchObject({ error: 'access_denied' });
      const visitor = await signedIn('carol');
      for (const acr of [{ essential: true, value: ACR_PASSWORD_PROTECTED_TRANSPORT }, { essential: true }, { values: ['urn:example:mfa'] }]) {
        const { idToken } = await tokensFor(visitor, claimsParam({ id_token: { acr } }));
        expect(idToken.acr, JSON.stringify(acr)).toBe(ACR_PASSWORD_PROTECTED_TRANSPORT);
      }
    });

    it('default_acr_values: only announced classes register, and it applies when the request has no acr_values', async () => {
      const refusedRegistration = await request(server, 'POST', '/register', { json: { redirect_uris: [REDIRECT], default_acr_values: ['urn:mace:incommon:iap:silver'] } });
      expect([refusedRegistration.status, refusedRegistration.body.error]).toEqual([400, 'invalid_client_metadata']);
      expect(refusedRegistration.body.error_description).toContain('default_acr_values');
      expect(refusedRegistration.body.error_description).toContain('urn:mace:incommon:iap:silver');
      const withDefault = await register({ redirect_uris: [REDIRECT], default_acr_values: [ACR_PASSWORD_PROTECTED_TRANSPORT] });
      expect((await request(server, 'GET', `/admin/clients/${withDefault.client_id}`, { token: admin })).body.default_acr_values).toEqual([ACR_PASSWORD_PROTECTED_TRANSPORT]);
      const visitor = await signedIn('carol');
      const { idToken } = await tokensFor(visitor, {}, await relyingParty(withDefault), withDefault);
      expect(idToken.acr).toBe(ACR_PASSWORD_PROTECTED_TRANSPORT);

      // a client stored before this rule, with a class never achieved: its default refuses, a request's own acr_values decide
      await server.db.query(`UPDATE clients SET metadata = jsonb_set(metadata, '{default_acr_values}', '["urn:example:legacy"]') WHERE client_id = $1`, [withDefault.client_id]);
      expect(await refused(codeParams(withDefault))).toMatchObject({ error: 'invalid_request' });
      expect(callbackOf(await visitor.get(authorizePath(codeParams(withDefault, { acr_values: ACR_PASSWORD_PROTECTED_TRANSPORT })))).searchParams.get('code')).toBeTruthy();
    });
  });

  describe('ui_locales (Core §3.1.2.1): a preference, never an error', () => {
    it.each([
      ['unsupported languages', 'fr-CA de'],
      ['English by a regional tag', 'EN-gb fr'],
      ['tags that are not well formed', 'fr_CA !! x'],
    ])('%s: the pages are in English, <html lang="en">', async (_name, uiLocales) => {
      const fresh = new Visitor(server.url);
      const first = await fresh.get(authorizePath(codeParams(client, { ui_locales: uiLocales })));
      const login = await fresh.get(first.location!);
      expect(login.status).toBe(200);
      expect(login.text).toMatch(/^<!doctype html>\n<html lang="en">/);
      const visitor = await signedIn('dave');
      const consent = await authorize(visitor, codeParams(client, { ui_locales: uiLocales, scope: 'openid profile', prompt: 'consent' }));
      expect(isConsentPage(consent)).toBe(true);
      expect(consent.text).toMatch(/^<!doctype html>\n<html lang="en">/);
      const formPost = await visitor.get(authorizePath(codeParams(client, { ui_locales: uiLocales, response_mode: 'form_post' })));
      expect(formPost.status).toBe(200);
      expect(formPost.text).toMatch(/^<!doctype html>\n<html lang="en">/);
      expect(formPost.text).toMatch(/name="code"/);
      const logout = await visitor.get(`/logout?${new URLSearchParams({ client_id: client.client_id, ui_locales: uiLocales }).toString()}`);
      expect(logout.status).toBe(200);
      expect(logout.text).toMatch(/^<!doctype html>\n<html lang="en">/);
    });
  });

  it('the token endpoint answers a code with a claims request like any other (client authentication, single use)', async () => {
    const visitor = await signedIn('carol');
    const callback = await codeFor(visitor, codeParams(client, claimsParam({ id_token: { email: null } })));
    const code = callback.searchParams.get('code')!;
    const exchange = () => postForm(server, '/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }, { authorization: basic(client.client_id, client.client_secret) });
    const first = await exchange();
    expect(first.status, first.text).toBe(200);
    expect(decodeJwt(first.body.id_token)).toMatchObject({ email: 'carol@example.com', acr: ACR_PASSWORD_PROTECTED_TRANSPORT });
    expect((await exchange()).body.error).toBe('invalid_grant');
  });
});
