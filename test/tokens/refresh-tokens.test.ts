import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/crypto/token-hash.js';
import { RefreshTokenRepository } from '../../src/storage/refresh-token-repository.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { ASSERTION_TYPE, assertion, keyPair } from '../support/client-auth.js';
import { advanceWallClock } from '../support/clock.js';
import { CodeFlow, pkce, REDIRECT, type RegisteredClient } from '../support/code-flow.js';
import { createUser } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const PASSWORD = 'correct horse battery';
const REFRESHING = { grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email offline_access' };

describe(`refresh tokens (${storageKind})`, () => {
  let server: TestServer;
  let flow: CodeFlow;
  let admin: string;
  let aliceId: string;
  let client: RegisteredClient;
  const logLines: string[] = [];

  beforeAll(async () => {
    // every log line the server writes, to check that no refresh token is ever among them
    const sink = new Writable({ write: (chunk, _encoding, done) => void (logLines.push(String(chunk)), done()) });
    server = await startTestServer({}, pino({ level: 'debug' }, sink));
    flow = new CodeFlow(server);
    aliceId = await createUser(server, 'alice', PASSWORD);
    admin = await adminToken(server, await bootstrapAdmin(server));
    client = await flow.register(REFRESHING);
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Signed in as alice (or `username`), a code exchanged: the token response. */
  async function tokensFor(c: RegisteredClient, extra: readonly (readonly [string, string])[] = [], username = 'alice') {
    const visitor = await flow.signedIn(username, PASSWORD);
    const res = await flow.exchange(c, await flow.codeFor(visitor, c, extra));
    expect(res.status, res.text).toBe(200);
    return res.body as { access_token: string; refresh_token?: string; id_token?: string; scope: string };
  }

  const refreshed = async (c: RegisteredClient, refreshToken: string, extra: Record<string, string> = {}) => {
    const res = await flow.refresh(c, refreshToken, extra);
    expect(res.status, res.text).toBe(200);
    return res.body as { access_token: string; refresh_token: string; id_token?: string; scope: string; token_type: string; expires_in: number };
  };

  const refused = async (c: RegisteredClient, refreshToken: string, extra: Record<string, string> = {}) => {
    const res = await flow.refresh(c, refreshToken, extra);
    return [res.status, res.body?.error] as const;
  };

  const active = async (c: RegisteredClient, token: string) => (await flow.introspect(c, token)).body.active as boolean;

  describe('when a refresh token is issued (OIDC Core §11)', () => {
    it('with offline_access, consented on the consent page, to a client registered for the refresh_token grant', async () => {
      const fresh = await flow.register(REFRESHING);
      const visitor = await flow.signedIn('alice', PASSWORD);
      const page = await flow.authorize(visitor, [['response_type', 'code'], ['client_id', fresh.client_id], ['redirect_uri', REDIRECT], ['scope', 'openid offline_access'], ['state', 's']]);
      expect(CodeFlow.isConsentPage(page)).toBe(true);
      expect(page.text).toContain('Keep access while you are not using it');
      const { code } = CodeFlow.responseOf(await flow.answerConsent(visitor, page));
      const res = await flow.exchange(fresh, code!);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'openid offline_access', refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), id_token: expect.any(String) });
    });

    it('not for an OpenID Connect request without offline_access', async () => {
      const tokens = await tokensFor(client, [['scope', 'openid profile']]);
      expect(tokens).not.toHaveProperty('refresh_token');
    });

    it('for a plain OAuth request (no openid) without offline_access: how MCP clients ask', async () => {
      const tokens = await tokensFor(client, [['scope', 'profile']]);
      expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(tokens).not.toHaveProperty('id_token');
    });

    it('not to a client that did not register the refresh_token grant, offline_access or not', async () => {
      const codeOnly = await flow.register({ scope: 'openid profile offline_access' });
      expect(await tokensFor(codeOnly, [['scope', 'openid offline_access']])).not.toHaveProperty('refresh_token');
      expect(await tokensFor(codeOnly, [['scope', 'profile']])).not.toHaveProperty('refresh_token');
      expect((await flow.refresh(codeOnly, 'x'.repeat(43))).body.error).toBe('unauthorized_client');
    });

    it('remembered consent covers offline_access only if it was granted: otherwise the consent page asks, and prompt=none gets consent_required', async () => {
      const fresh = await flow.register(REFRESHING);
      const visitor = await flow.signedIn('alice', PASSWORD);
      await flow.codeFor(visitor, fresh, [['scope', 'openid profile']]);
      const base = [['response_type', 'code'], ['client_id', fresh.client_id], ['redirect_uri', REDIRECT], ['state', 's']] as const;
      expect(CodeFlow.isConsentPage(await flow.authorize(visitor, [...base, ['scope', 'openid profile']]))).toBe(false);
      expect(CodeFlow.responseOf(await flow.authorize(visitor, [...base, ['scope', 'openid offline_access'], ['prompt', 'none']]))).toMatchObject({ error: 'consent_required' });
      const asked = await flow.authorize(visitor, [...base, ['scope', 'openid offline_access']]);
      expect(CodeFlow.isConsentPage(asked)).toBe(true);
      expect(asked.text).toContain('Keep access while you are not using it');
      // consented once, remembered: a later request with offline_access asks nothing and gets one
      await flow.answerConsent(visitor, asked);
      const remembered = CodeFlow.responseOf(await flow.authorize(visitor, [...base, ['scope', 'openid offline_access'], ['prompt', 'none']]));
      expect((await flow.exchange(fresh, remembered.code!)).body.refresh_token).toBeDefined();
    });
  });

  describe('grant_type=refresh_token (RFC 6749 §6, RFC 9700 §4.14.2)', () => {
    it('rotation: each answer holds a new refresh token and the old one stops working', async () => {
      const first = (await tokensFor(client)).refresh_token!;
      const second = await refreshed(client, first);
      expect(second).toMatchObject({ token_type: 'Bearer', scope: 'openid offline_access', expires_in: 300 });
      expect(second.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(second.refresh_token).not.toBe(first);
      expect(decodeJwt(second.access_token)).toMatchObject({ sub: aliceId, client_id: client.client_id, aud: server.config.issuer, scope: 'openid offline_access' });
      const third = await refreshed(client, second.refresh_token);
      expect(third.refresh_token).not.toBe(second.refresh_token);
      expect(await active(client, first)).toBe(false);
      expect(await active(client, third.refresh_token)).toBe(true);
    });

    it.each(['jwt', 'reference'] as const)('reuse of a rotated token revokes the family: the newest refresh token and the %s access tokens it issued stop working', async (format) => {
      const c = await flow.register(REFRESHING);
      if (format === 'reference') {
        const patched = await request(server, 'PATCH', `/admin/clients/${c.client_id}`, { body: JSON.stringify({ access_token_format: 'reference' }), headers: { 'content-type': 'application/merge-patch+json' }, token: admin });
        expect(patched.status).toBe(200);
      }
      const original = await tokensFor(c);
      const second = await refreshed(c, original.refresh_token!);
      const third = await refreshed(c, second.refresh_token);
      expect(await active(c, third.access_token)).toBe(true);
      expect(await refused(c, original.refresh_token!)).toEqual([400, 'invalid_grant']);
      expect(await refused(c, third.refresh_token)).toEqual([400, 'invalid_grant']);
      for (const token of [original.access_token, second.access_token, third.access_token, third.refresh_token]) expect(await active(c, token)).toBe(false);
    });

    it('two concurrent uses of one token: exactly one succeeds, and the other counts as a reuse', async () => {
      const token = (await tokensFor(client)).refresh_token!;
      const answers = await Promise.all(Array.from({ length: 5 }, () => flow.refresh(client, token)));
      const winners = answers.filter((res) => res.status === 200);
      expect(winners).toHaveLength(1);
      for (const res of answers.filter((r) => r.status !== 200)) expect([res.status, res.body.error]).toEqual([400, 'invalid_grant']);
      // nobody can tell the legitimate client from a thief: the family is gone, the winner's tokens with it
      expect(await refused(client, winners[0]!.body.refresh_token)).toEqual([400, 'invalid_grant']);
      expect(await active(client, winners[0]!.body.access_token)).toBe(false);
    });

    it('rotation is one conditional statement: of concurrent rotations of one token in storage, exactly one wins', async () => {
      const token = (await tokensFor(client)).refresh_token!;
      const repository = new RefreshTokenRepository(server.db);
      const found = (await repository.find(hashToken(token)))!;
      const now = Math.floor(Date.now() / 1000);
      const wins = await Promise.all(Array.from({ length: 5 }, (_, i) =>
        repository.rotate(found.tokenHash, found.family.id, { tokenHash: hashToken(`next-${i}-${token}`), createdAt: now, expiresAt: now + 60, accessTokenJti: `jti-${i}-${token}`, accessTokenExpiresAt: now + 60 }, now)));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });

    it('scope: a subset of the original narrows the access token; the next refresh may widen back to the original, never beyond (invalid_scope)', async () => {
      const original = await tokensFor(client, [['scope', 'openid profile offline_access']]);
      const narrow = await refreshed(client, original.refresh_token!, { scope: 'profile' });
      expect(narrow.scope).toBe('profile');
      expect(narrow).not.toHaveProperty('id_token');
      expect(decodeJwt(narrow.access_token).scope).toBe('profile');
      expect(await refused(client, narrow.refresh_token, { scope: 'openid email' })).toEqual([400, 'invalid_scope']);
      expect(await refused(client, narrow.refresh_token, { scope: ' ' })).toEqual([400, 'invalid_scope']);
      // a refused request does not use the token up; the refresh token kept the original scope
      const back = await refreshed(client, narrow.refresh_token);
      expect(back.scope).toBe('openid profile offline_access');
    });

    it('bound to its client: another client gets invalid_grant, and the token is not used up', async () => {
      const other = await flow.register(REFRESHING);
      const token = (await tokensFor(client)).refresh_token!;
      expect(await refused(other, token)).toEqual([400, 'invalid_grant']);
      expect((await flow.introspect(other, token)).body).toEqual({ active: false });
      expect((await flow.refresh(client, token)).status).toBe(200);
    });

    it('refuses a missing, malformed or unknown refresh token', async () => {
      expect(await refused(client, '')).toEqual([400, 'invalid_request']);
      expect(await refused(client, 'not a token')).toEqual([400, 'invalid_grant']);
      expect(await refused(client, 'A'.repeat(43))).toEqual([400, 'invalid_grant']);
    });

    it('a disabled user: invalid_grant, and again once enabled it works; a deleted user: invalid_grant', async () => {
      const bob = await createUser(server, 'bob', PASSWORD);
      const token = (await tokensFor(client, [], 'bob')).refresh_token!;
      expect((await request(server, 'POST', `/admin/users/${bob}/disable`, { token: admin })).status).toBe(200);
      expect(await refused(client, token)).toEqual([400, 'invalid_grant']);
      expect(await active(client, token)).toBe(false);
      expect((await request(server, 'POST', `/admin/users/${bob}/enable`, { token: admin })).status).toBe(200);
      const next = await refreshed(client, token);
      expect((await request(server, 'DELETE', `/admin/users/${bob}`, { token: admin })).status).toBe(204);
      expect(await refused(client, next.refresh_token)).toEqual([400, 'invalid_grant']);
    });

    it('the operator revoking the user\'s consent for the client revokes the family, with its access tokens', async () => {
      const c = await flow.register(REFRESHING);
      const tokens = await tokensFor(c);
      const next = await refreshed(c, tokens.refresh_token!);
      const other = await tokensFor(client);
      expect((await request(server, 'DELETE', `/admin/users/${aliceId}/consents/${c.client_id}`, { token: admin })).status).toBe(204);
      expect(await refused(c, next.refresh_token)).toEqual([400, 'invalid_grant']);
      expect(await active(c, next.access_token)).toBe(false);
      // another client's family is not touched
      expect((await flow.refresh(client, other.refresh_token!)).status).toBe(200);
      const audit = await request(server, 'GET', '/admin/audit?action=user.revoke_consent', { token: admin });
      expect(audit.body.entries[0].details).toMatchObject({ client_id: c.client_id, refresh_token_families: 1 });
    });

    it('a replayed authorization code revokes the refresh token family it started', async () => {
      const visitor = await flow.signedIn('alice', PASSWORD);
      const code = await flow.codeFor(visitor, client);
      const first = await flow.exchange(client, code);
      expect(first.body.refresh_token).toBeDefined();
      expect((await flow.exchange(client, code)).body.error).toBe('invalid_grant');
      expect(await refused(client, first.body.refresh_token)).toEqual([400, 'invalid_grant']);
    });

    it('a public client (none) refreshes with its client_id alone; its tokens rotate too', async () => {
      // registered without a secret: CodeFlow sends client_id alone
      const asPublic = await flow.register({ ...REFRESHING, token_endpoint_auth_method: 'none', application_type: 'native' });
      expect(asPublic).not.toHaveProperty('client_secret');
      const { verifier, challenge } = pkce();
      const visitor = await flow.signedIn('alice', PASSWORD);
      const code = await flow.codeFor(visitor, asPublic, [['scope', 'profile'], ['code_challenge', challenge], ['code_challenge_method', 'S256']]);
      const tokens = await flow.exchange(asPublic, code, { code_verifier: verifier });
      expect(tokens.status, tokens.text).toBe(200);
      const next = await flow.refresh(asPublic, tokens.body.refresh_token);
      expect(next.status, next.text).toBe(200);
      expect((await flow.refresh(asPublic, tokens.body.refresh_token)).body.error).toBe('invalid_grant');
      // the reuse revoked the family
      expect((await flow.refresh(asPublic, next.body.refresh_token)).body.error).toBe('invalid_grant');
    });

    it.each(['client_secret_post', 'client_secret_jwt', 'private_key_jwt'] as const)('a confidential client refreshes with %s', async (method) => {
      const key = method === 'private_key_jwt' ? await keyPair('ES256') : undefined;
      const c = await flow.register({ ...REFRESHING, token_endpoint_auth_method: method, ...(key ? { jwks: { keys: [key.publicJwk] } } : {}) });
      const visitor = await flow.signedIn('alice', PASSWORD);
      const code = await flow.codeFor(visitor, c);
      const authentication = async (): Promise<Record<string, string>> => {
        if (method === 'client_secret_post') return { client_id: c.client_id, client_secret: c.client_secret };
        const jwt = key
          ? await assertion({ clientId: c.client_id, audience: server.config.issuer, key: key.privateKey, alg: 'ES256', kid: key.kid })
          : await assertion({ clientId: c.client_id, audience: server.config.issuer, key: new TextEncoder().encode(c.client_secret), alg: 'HS256' });
        return { client_assertion_type: ASSERTION_TYPE, client_assertion: jwt };
      };
      const post = async (form: Record<string, string>) => request(server, 'POST', '/token', { body: new URLSearchParams({ ...form, ...(await authentication()) }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const tokens = await post({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
      expect(tokens.status, tokens.text).toBe(200);
      const next = await post({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
      expect(next.status, next.text).toBe(200);
      expect(next.body.refresh_token).not.toBe(tokens.body.refresh_token);
    });

    it('with openid, a new ID token of the same sign-in (sub, auth_time, amr, sid; no nonce), validated by openid-client refreshTokenGrant', async () => {
      const rp = await flow.register({ ...REFRESHING, require_auth_time: true });
      const tokens = await tokensFor(rp, [['scope', 'openid profile offline_access']]);
      const original = decodeJwt(tokens.id_token!);
      expect(original.nonce).toBe('n-1');
      const config = await oidc.discovery(new URL(server.url), rp.client_id, undefined, oidc.ClientSecretBasic(rp.client_secret), { execute: [oidc.allowInsecureRequests] });
      const answer = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      const claims = answer.claims()!;
      expect(claims).toMatchObject({ iss: server.config.issuer, aud: rp.client_id, sub: aliceId, auth_time: original.auth_time, amr: original.amr, sid: original.sid });
      expect(claims).not.toHaveProperty('nonce');
      expect(answer.refresh_token).toBeDefined();
      expect(answer.refresh_token).not.toBe(tokens.refresh_token);
      expect(answer.scope).toBe('openid profile offline_access');
      // and again, from the rotated token
      const again = await oidc.refreshTokenGrant(config, answer.refresh_token!);
      expect(again.claims()!.sub).toBe(aliceId);
      await expect(oidc.refreshTokenGrant(config, answer.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    });
  });

  describe('lifetimes (REFRESH_TOKEN_LIFETIME, REFRESH_TOKEN_MAX_AGE)', () => {
    let short: TestServer;
    let shortFlow: CodeFlow;
    let shortClient: RegisteredClient;
    beforeAll(async () => {
      short = await startTestServer({ REFRESH_TOKEN_LIFETIME: '1h', REFRESH_TOKEN_MAX_AGE: '3h', SESSION_IDLE_TIMEOUT: '10h', SESSION_MAX_AGE: '10h' });
      shortFlow = new CodeFlow(short);
      await createUser(short, 'alice', PASSWORD);
      shortClient = await shortFlow.register(REFRESHING);
    });
    afterAll(async () => short?.close());

    const tokensOnShort = async () => {
      const visitor = await shortFlow.signedIn('alice', PASSWORD);
      const res = await shortFlow.exchange(shortClient, await shortFlow.codeFor(visitor, shortClient));
      return res.body.refresh_token as string;
    };

    it('idle: a token unused for REFRESH_TOKEN_LIFETIME stops working', async () => {
      const token = await tokensOnShort();
      expect((await shortFlow.introspect(shortClient, token)).body.exp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3600);
      advanceWallClock(3601_000);
      expect((await shortFlow.refresh(shortClient, token)).body.error).toBe('invalid_grant');
      expect((await shortFlow.introspect(shortClient, token)).body).toEqual({ active: false });
    });

    it('absolute: rotated within the idle lifetime, a family still ends REFRESH_TOKEN_MAX_AGE after the sign-in', async () => {
      let token = await tokensOnShort();
      for (let step = 0; step < 3; step++) {
        advanceWallClock(50 * 60_000);
        const res = await shortFlow.refresh(shortClient, token);
        expect(res.status, `after ${(step + 1) * 50} minutes: ${res.text}`).toBe(200);
        token = res.body.refresh_token;
      }
      // 150 minutes after the sign-in: the next token's exp is the family's end, not an hour on
      const exp = (await shortFlow.introspect(shortClient, token)).body.exp as number;
      expect(exp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 30 * 60 + 5);
      advanceWallClock(31 * 60_000);
      expect((await shortFlow.refresh(shortClient, token)).body.error).toBe('invalid_grant');
    });

    it('expired tokens and families are purged', async () => {
      const token = await tokensOnShort();
      const repository = new RefreshTokenRepository(short.db);
      const later = Math.floor(Date.now() / 1000) + 4 * 3600;
      expect(await repository.purgeExpired(later)).toBeGreaterThan(0);
      expect((await shortFlow.refresh(shortClient, token)).body.error).toBe('invalid_grant');
      const left = await short.db.query<{ n: number | string }>('SELECT count(*) AS n FROM refresh_token_families WHERE expires_at <= $1', [later]);
      expect(Number(left[0]!.n)).toBe(0);
    });
  });

  describe('introspection (RFC 7662) and revocation (RFC 7009) of refresh tokens', () => {
    it('introspection answers the client the token was issued to, with token_type refresh_token', async () => {
      const tokens = await tokensFor(client);
      const now = Math.floor(Date.now() / 1000);
      for (const hint of [{}, { token_type_hint: 'refresh_token' }, { token_type_hint: 'access_token' }]) {
        const res = await flow.introspect(client, tokens.refresh_token!, hint);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ active: true, token_type: 'refresh_token', iss: server.config.issuer, client_id: client.client_id, sub: aliceId, scope: 'openid offline_access', exp: expect.any(Number), iat: expect.any(Number) });
        expect(res.body.exp).toBeGreaterThan(now + 13 * 86_400);
      }
      // the access token is still introspected as one, whatever the hint
      expect((await flow.introspect(client, tokens.access_token, { token_type_hint: 'refresh_token' })).body).toMatchObject({ active: true, token_type: 'Bearer' });
      // a resource server sees access tokens of every client, but never refresh tokens
      const resourceServer = await flow.register({ grant_types: ['client_credentials'], response_types: [] });
      await request(server, 'PATCH', `/admin/clients/${resourceServer.client_id}`, { body: JSON.stringify({ resource_server: true }), headers: { 'content-type': 'application/merge-patch+json' }, token: admin });
      expect((await flow.introspect(resourceServer, tokens.access_token)).body.active).toBe(true);
      expect((await flow.introspect(resourceServer, tokens.refresh_token!)).body).toEqual({ active: false });
    });

    it.each([{}, { token_type_hint: 'refresh_token' }, { token_type_hint: 'access_token' }])('revoking a refresh token (%j) revokes its family and the access tokens it issued; another client\'s revocation changes nothing', async (hint) => {
      const tokens = await tokensFor(client);
      const next = await refreshed(client, tokens.refresh_token!);
      const other = await flow.register(REFRESHING);
      expect((await flow.revoke(other, next.refresh_token, hint)).status).toBe(200);
      expect(await active(client, next.refresh_token)).toBe(true);
      const res = await flow.revoke(client, next.refresh_token, hint);
      expect([res.status, res.text]).toEqual([200, '']);
      expect(await refused(client, next.refresh_token)).toEqual([400, 'invalid_grant']);
      expect(await active(client, next.access_token)).toBe(false);
      expect(await active(client, tokens.access_token)).toBe(false);
    });
  });

  it('never writes a refresh token to the log', async () => {
    const tokens = await tokensFor(client);
    const next = await refreshed(client, tokens.refresh_token!);
    await flow.refresh(client, tokens.refresh_token!);
    const log = logLines.join('');
    expect(log).toContain('"grant_type":"refresh_token"');
    for (const token of [tokens.refresh_token!, next.refresh_token]) expect(log).not.toContain(token);
  });
});
