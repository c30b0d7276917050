import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { basic, postForm, registerMachineClient } from '../support/client-auth.js';
import { CodeFlow, REDIRECT, type RegisteredClient } from '../support/code-flow.js';
import { createUser, Visitor } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const PASSWORD = 'correct horse battery';
const MCP = 'https://mcp.example.com';
const API = 'https://api.example/v1';

describe(`resource indicators, RFC 8707 (${storageKind})`, () => {
  let server: TestServer;
  let flow: CodeFlow;
  let client: RegisteredClient;

  beforeAll(async () => {
    server = await startTestServer({ RESOURCE_INDICATORS: `${MCP},${API}` });
    flow = new CodeFlow(server);
    await createUser(server, 'alice', PASSWORD);
    client = await flow.register({ grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile offline_access' });
  });
  afterAll(async () => {
    await server?.close();
  });

  const verified = async (token: string, audience: string | string[]) => {
    const jwks = createLocalJWKSet((await request(server, 'GET', '/jwks')).body as JSONWebKeySet);
    return (await jwtVerify(token, jwks, { issuer: server.config.issuer, audience, typ: 'at+jwt' })).payload;
  };

  const authorizeParams = (c: { client_id: string }, ...resources: string[]) =>
    [['response_type', 'code'], ['client_id', c.client_id], ['redirect_uri', REDIRECT], ['scope', 'profile'], ['state', 'st'], ...resources.map((r) => ['resource', r] as const)] as const;

  describe('at /authorize', () => {
    it.each([
      ['a resource that is not configured', ['https://other.example']],
      ['a configured one beside one that is not', [MCP, 'https://other.example']],
      ['a configured one spelt otherwise (a trailing slash)', [`${MCP}/`]],
      ['a relative reference', ['/mcp']],
    ])('%s: invalid_target at the redirect URI, with state and iss', async (_name, resources) => {
      const res = await new Visitor(server.url).get(`/authorize?${new URLSearchParams(authorizeParams(client, ...resources).map(([n, v]): [string, string] => [n, v])).toString()}`);
      expect(CodeFlow.responseOf(res)).toMatchObject({ error: 'invalid_target', state: 'st', iss: server.config.issuer, error_description: expect.any(String) });
    });

    it('a server without RESOURCE_INDICATORS refuses every resource with invalid_target', async () => {
      const plain = await startTestServer();
      try {
        const c = await new CodeFlow(plain).register({});
        const res = await new Visitor(plain.url).get(`/authorize?${new URLSearchParams([...authorizeParams(c, MCP)].map(([n, v]): [string, string] => [n, v])).toString()}`);
        expect(CodeFlow.responseOf(res)).toMatchObject({ error: 'invalid_target', error_description: 'this server accepts no resource parameter (none is configured)' });
      } finally {
        await plain.close();
      }
    });
  });

  describe('the access token\'s aud', () => {
    it('one resource: the JWT access token\'s aud is that resource; introspection reports it', async () => {
      const visitor = await flow.signedIn('alice', PASSWORD);
      const code = await flow.codeFor(visitor, client, [['scope', 'profile'], ['resource', MCP]]);
      const res = await flow.exchange(client, code, { resource: MCP });
      expect(res.status, res.text).toBe(200);
      expect((await verified(res.body.access_token, MCP)).aud).toBe(MCP);
      expect((await flow.introspect(client, res.body.access_token)).body).toMatchObject({ active: true, aud: MCP });
    });

    it('a token for a resource is that resource\'s: UserInfo refuses it (invalid_token), and takes the one issued without resource', async () => {
      const visitor = await flow.signedIn('alice', PASSWORD);
      const forMcp = await flow.exchange(client, await flow.codeFor(visitor, client, [['scope', 'openid profile'], ['resource', MCP]]));
      expect(forMcp.status, forMcp.text).toBe(200);
      const refused = await request(server, 'GET', '/userinfo', { token: forMcp.body.access_token });
      expect([refused.status, refused.body.error]).toEqual([401, 'invalid_token']);
      expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
      const plain = await flow.exchange(client, await flow.codeFor(visitor, client, [['scope', 'openid profile']]));
      expect((await request(server, 'GET', '/userinfo', { token: plain.body.access_token })).status).toBe(200);
    });

    it('without resource: the default audience (ACCESS_TOKEN_AUDIENCE, here the issuer)', async () => {
      const visitor = await flow.signedIn('alice', PASSWORD);
      const res = await flow.exchange(client, await flow.codeFor(visitor, client, [['scope', 'profile']]));
      expect(decodeJwt(res.body.access_token).aud).toBe(server.config.issuer);
    });

    it('several resources: all of them (an array) when the token request names none; one when it names one; the refresh token keeps all, to narrow to another later', async () => {
      const visitor = await flow.signedIn('alice', PASSWORD);
      const both = await flow.exchange(client, await flow.codeFor(visitor, client, [['scope', 'profile'], ['resource', MCP], ['resource', API]]));
      expect(both.status, both.text).toBe(200);
      expect(decodeJwt(both.body.access_token).aud).toEqual([MCP, API]);

      const code = await flow.codeFor(visitor, client, [['scope', 'profile'], ['resource', MCP], ['resource', API]]);
      const one = await flow.exchange(client, code, { resource: API });
      expect((await verified(one.body.access_token, API)).aud).toBe(API);
      const toMcp = await flow.refresh(client, one.body.refresh_token, { resource: MCP });
      expect(toMcp.status, toMcp.text).toBe(200);
      expect(decodeJwt(toMcp.body.access_token).aud).toBe(MCP);
      const all = await flow.refresh(client, toMcp.body.refresh_token);
      expect(decodeJwt(all.body.access_token).aud).toEqual([MCP, API]);
      // repeated resource parameters in the token request's form
      const twice = await flow.refresh(client, all.body.refresh_token, [['resource', API], ['resource', MCP]]);
      expect(twice.status, twice.text).toBe(200);
      expect(decodeJwt(twice.body.access_token).aud).toEqual([API, MCP]);
    });

    it('POST /authorize takes repeated resource parameters as a form', async () => {
      const visitor = await flow.signedIn('alice', PASSWORD);
      await flow.codeFor(visitor, client, [['scope', 'profile']]);
      const form = new URLSearchParams(authorizeParams(client, MCP, API).map(([n, v]): [string, string] => [n, v])).toString();
      const posted = await fetch(`${server.url}/authorize`, { method: 'POST', redirect: 'manual', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...visitor.cookies].map(([n, v]) => `${n}=${v}`).join('; ') } });
      const { code } = Object.fromEntries(new URL(posted.headers.get('location')!).searchParams);
      const tokens = await flow.exchange(client, code!);
      expect(decodeJwt(tokens.body.access_token).aud).toEqual([MCP, API]);
    });
  });

  describe('at the token endpoint: 400 invalid_target', () => {
    it('a code exchange naming a resource the authorization request did not (the code is not used up)', async () => {
      const visitor = await flow.signedIn('alice', PASSWORD);
      const code = await flow.codeFor(visitor, client, [['scope', 'profile'], ['resource', MCP]]);
      for (const resource of [API, 'https://other.example']) {
        const res = await flow.exchange(client, code, { resource });
        expect([res.status, res.body.error]).toEqual([400, 'invalid_target']);
      }
      expect((await flow.exchange(client, code)).status).toBe(200);
    });

    it('a code exchange naming a resource when the authorization request named none', async () => {
      const visitor = await flow.signedIn('alice', PASSWORD);
      const res = await flow.exchange(client, await flow.codeFor(visitor, client, [['scope', 'profile']]), { resource: MCP });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_target']);
    });

    it('a refresh naming a resource outside those granted (the refresh token is not used up)', async () => {
      const visitor = await flow.signedIn('alice', PASSWORD);
      const tokens = await flow.exchange(client, await flow.codeFor(visitor, client, [['scope', 'profile'], ['resource', MCP]]));
      const res = await flow.refresh(client, tokens.body.refresh_token, { resource: API });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_target']);
      expect((await flow.refresh(client, tokens.body.refresh_token, { resource: MCP })).status).toBe(200);
    });
  });

  describe('client_credentials', () => {
    it('a configured resource becomes the aud; one not configured is invalid_target; none: the default audience', async () => {
      const machine = await registerMachineClient(server, {});
      const auth = { authorization: basic(machine.client_id, machine.client_secret) };
      const grant = { grant_type: 'client_credentials', scope: 'openid' };
      const ok = await postForm(server, '/token', { ...grant, resource: API }, auth);
      expect(ok.status, ok.text).toBe(200);
      expect((await verified(ok.body.access_token, API)).aud).toBe(API);
      const refused = await postForm(server, '/token', { ...grant, resource: 'https://other.example' }, auth);
      expect([refused.status, refused.body.error]).toEqual([400, 'invalid_target']);
      const plain = await postForm(server, '/token', grant, auth);
      expect(decodeJwt(plain.body.access_token).aud).toBe(server.config.issuer);
    });

    it('a reference token for a resource: introspection reports its aud', async () => {
      const machine = await registerMachineClient(server, {});
      const admin = await adminToken(server, await bootstrapAdmin(server));
      await request(server, 'PATCH', `/admin/clients/${machine.client_id}`, { body: JSON.stringify({ access_token_format: 'reference' }), headers: { 'content-type': 'application/merge-patch+json' }, token: admin });
      const auth = { authorization: basic(machine.client_id, machine.client_secret) };
      const token = await postForm(server, '/token', { grant_type: 'client_credentials', resource: MCP }, auth);
      expect(token.body.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await postForm(server, '/introspect', { token: token.body.access_token }, auth)).body).toMatchObject({ active: true, aud: MCP });
      // admin tokens are for the admin API alone
      await request(server, 'PATCH', `/admin/clients/${machine.client_id}`, { body: JSON.stringify({ admin: true }), headers: { 'content-type': 'application/merge-patch+json' }, token: admin });
      const adminWithResource = await postForm(server, '/token', { grant_type: 'client_credentials', scope: 'admin:read', resource: MCP }, auth);
      expect([adminWithResource.status, adminWithResource.body.error]).toEqual([400, 'invalid_target']);
    });
  });
});
