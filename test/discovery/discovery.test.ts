import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_VALUES_SUPPORTED } from '../../src/protocol/acr.js';
import { SIGNING_ALGS } from '../../src/protocol/algorithms.js';
import { GRANT_TYPES, SUBJECT_TYPES, TOKEN_ENDPOINT_AUTH_METHODS } from '../../src/protocol/client-metadata-values.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

describe(`discovery (${storageKind})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ SERVICE_DOCUMENTATION: 'https://docs.example/registrar' });
  });
  afterAll(async () => server.close());

  it('publishes the OpenID configuration, cacheable, from the shared constants', async () => {
    const res = await request(server, 'GET', '/.well-known/openid-configuration');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const metadata = res.body;
    expect(metadata.issuer).toBe(server.config.issuer);
    expect(metadata.registration_endpoint).toBe(`${server.config.issuer}/register`);
    expect(metadata.token_endpoint_auth_methods_supported).toEqual([...TOKEN_ENDPOINT_AUTH_METHODS]);
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_jwt', 'private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none']),
    );
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toEqual([...SIGNING_ALGS]);
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).not.toContain('none');
    expect(metadata.grant_types_supported).toEqual([...GRANT_TYPES]);
    expect(metadata.grant_types_supported).toEqual(['authorization_code', 'refresh_token', 'client_credentials']);
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.response_modes_supported).toEqual(['query', 'form_post']);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.authorization_endpoint).toBe(`${server.config.issuer}/authorize`);
    expect(metadata.subject_types_supported).toEqual([...SUBJECT_TYPES]);
    expect(metadata.subject_types_supported).toEqual(['public', 'pairwise']);
    // what the server holds keys for (SIGNING_KEY_ALGS), nothing more: RS256 always (Discovery §3)
    expect(metadata.id_token_signing_alg_values_supported).toEqual(server.config.signingKeys.algs);
    expect(metadata.id_token_signing_alg_values_supported).toContain('RS256');
    expect(metadata.userinfo_signing_alg_values_supported).toEqual(server.config.signingKeys.algs);
    // request objects are refused (request_parameter_supported false): no algorithms announced for them
    expect(metadata.request_parameter_supported).toBe(false);
    for (const member of ['request_object_signing_alg_values_supported', 'request_object_encryption_alg_values_supported', 'request_object_encryption_enc_values_supported']) {
      expect(metadata).not.toHaveProperty(member);
    }
    expect(metadata.scopes_supported).toContain('openid');
    expect(metadata.claims_supported).toContain('sub');
    // the claims parameter (Core §5.5), the classes achieved, the page languages; claims have one language
    expect(metadata.claims_parameter_supported).toBe(true);
    expect(metadata.acr_values_supported).toEqual([...ACR_VALUES_SUPPORTED]);
    expect(metadata.ui_locales_supported).toEqual(['en']);
    expect(metadata).not.toHaveProperty('claims_locales_supported');
    expect(metadata.service_documentation).toBe('https://docs.example/registrar');
  });

  it('announces no endpoint that does not exist', async () => {
    const { body } = await request(server, 'GET', '/.well-known/openid-configuration');
    for (const [name, value] of Object.entries(body)) {
      if (!name.endsWith('_endpoint') && name !== 'jwks_uri') continue;
      const path = new URL(value as string).pathname;
      const method = name === 'registration_endpoint' ? 'OPTIONS' : name === 'jwks_uri' ? 'GET' : 'POST';
      const probe = await request(server, method, path, {
        headers: { origin: 'https://x.example', 'access-control-request-method': 'POST' },
      });
      expect(probe.status, `${name} ${path}`).not.toBe(404);
    }
    expect(body.userinfo_endpoint).toBe(`${server.config.issuer}/userinfo`);
  });

  it('announces exactly the configured SIGNING_KEY_ALGS, and registration refuses any other', async () => {
    const other = await startTestServer({ SIGNING_KEY_ALGS: 'PS256,RS256,EdDSA', SIGNING_KEY_ALG: 'PS256' });
    try {
      const { body } = await request(other, 'GET', '/.well-known/openid-configuration');
      expect(body.id_token_signing_alg_values_supported).toEqual(['PS256', 'RS256', 'EdDSA']);
      expect(body.userinfo_signing_alg_values_supported).toEqual(['PS256', 'RS256', 'EdDSA']);
      const refused = await request(other, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'], id_token_signed_response_alg: 'ES256' } });
      expect([refused.status, refused.body.error]).toEqual([400, 'invalid_client_metadata']);
      expect(refused.body.error_description).toBe('id_token_signed_response_alg ES256 is not supported: this server signs with PS256, RS256, EdDSA (id_token_signing_alg_values_supported)');
    } finally {
      await other.close();
    }
  });

  it('serves the same document at the RFC 8414 path', async () => {
    const openid = await request(server, 'GET', '/.well-known/openid-configuration');
    const oauth = await request(server, 'GET', '/.well-known/oauth-authorization-server');
    expect(oauth.status).toBe(200);
    expect(oauth.body).toEqual(openid.body);
  });

  it('validates what it announces: every announced auth method and signing alg registers', async () => {
    const { body } = await request(server, 'GET', '/.well-known/openid-configuration');
    for (const alg of body.token_endpoint_auth_signing_alg_values_supported as string[]) {
      const method = alg.startsWith('HS') ? { token_endpoint_auth_method: 'client_secret_jwt' } : { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://rp.example/jwks' };
      const res = await request(server, 'POST', '/register', {
        json: { grant_types: ['client_credentials'], ...method, token_endpoint_auth_signing_alg: alg },
      });
      expect(res.status, alg).toBe(201);
    }
    const rp = { redirect_uris: ['https://rp.example/cb'] };
    for (const alg of body.id_token_signing_alg_values_supported as string[]) {
      const res = await request(server, 'POST', '/register', { json: { ...rp, id_token_signed_response_alg: alg, userinfo_signed_response_alg: alg } });
      expect(res.status, alg).toBe(201);
    }
    for (const alg of body.id_token_encryption_alg_values_supported as string[]) {
      const res = await request(server, 'POST', '/register', { json: { ...rp, jwks_uri: 'https://rp.example/jwks', id_token_encrypted_response_alg: alg, userinfo_encrypted_response_alg: alg } });
      expect(res.status, alg).toBe(201);
    }
    for (const enc of body.id_token_encryption_enc_values_supported as string[]) {
      const res = await request(server, 'POST', '/register', { json: { ...rp, id_token_encrypted_response_alg: 'dir', id_token_encrypted_response_enc: enc } });
      expect(res.status, enc).toBe(201);
    }
    const acr = await request(server, 'POST', '/register', { json: { ...rp, default_acr_values: body.acr_values_supported } });
    expect(acr.status, acr.text).toBe(201);
    for (const subjectType of body.subject_types_supported as string[]) {
      const res = await request(server, 'POST', '/register', { json: { ...rp, subject_type: subjectType } });
      expect([res.status, res.body.subject_type], subjectType).toEqual([201, subjectType]);
    }
    for (const responseType of body.response_types_supported as string[]) {
      const res = await request(server, 'POST', '/register', { json: { ...rp, response_types: [responseType], grant_types: ['authorization_code'] } });
      expect(res.status, responseType).toBe(201);
    }
    // and refuses what it does not announce, naming it
    for (const [field, value] of [['response_types', ['id_token']], ['response_types', ['code id_token']], ['grant_types', ['implicit']], ['subject_type', 'anonymous'], ['default_acr_values', ['urn:example:mfa']]] as const) {
      const res = await request(server, 'POST', '/register', { json: { ...rp, [field]: value } });
      expect([res.status, res.body.error], `${field} ${String(value)}`).toEqual([400, 'invalid_client_metadata']);
      expect(res.body.error_description).toContain(Array.isArray(value) ? value.at(-1) : value);
    }
    for (const grant of body.grant_types_supported as string[]) {
      // refresh tokens come from code exchanges: the grant registers beside authorization_code only
      const grantTypes = grant === 'refresh_token' ? ['authorization_code', grant] : [grant];
      const res = await request(server, 'POST', '/register', { json: { ...rp, grant_types: grantTypes, ...(grant === 'client_credentials' ? { response_types: [] } : {}) } });
      expect(res.status, grant).toBe(201);
    }
    const alone = await request(server, 'POST', '/register', { json: { ...rp, grant_types: ['refresh_token'], response_types: [] } });
    expect([alone.status, alone.body.error_description]).toEqual([400, 'grant_types refresh_token requires authorization_code: refresh tokens are issued by the authorization_code grant']);
    for (const method of body.token_endpoint_auth_methods_supported as string[]) {
      const extra = method === 'private_key_jwt' ? { jwks_uri: 'https://rp.example/jwks' } : {};
      const res = await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: method, ...extra } });
      expect(res.status, method).toBe(201);
    }
  });
});
