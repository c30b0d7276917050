import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, storageKind, type TestServer } from '../support/test-server.js';

/** A real relying-party library, as a peer: discovery and dynamic registration through it. */
describe(`oauth4webapi as the client (${storageKind})`, () => {
  let server: TestServer;
  let as: oauth.AuthorizationServer;
  // the test server speaks http on loopback
  const options = { [oauth.allowInsecureRequests]: true };

  beforeAll(async () => {
    server = await startTestServer();
    const issuer = new URL(server.config.issuer);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oidc' }));
  });
  afterAll(async () => server.close());

  it('discovers the registration endpoint', () => {
    expect(as.issuer).toBe(server.config.issuer);
    expect(as.registration_endpoint).toBe(`${server.config.issuer}/register`);
  });

  it('registers with dynamicClientRegistrationRequest and reads the result back', async () => {
    const metadata = { redirect_uris: ['https://rp.example/cb'], client_name: 'oauth4webapi RP', token_endpoint_auth_method: 'client_secret_post' };
    const response = await oauth.dynamicClientRegistrationRequest(as, metadata, options);
    const client = await oauth.processDynamicClientRegistrationResponse(response);
    expect(client.client_id).toBeTypeOf('string');
    expect(client.client_secret).toBeTypeOf('string');
    expect(client.token_endpoint_auth_method).toBe('client_secret_post');
    expect(client.client_name).toBe('oauth4webapi RP');

    const read = await fetch(client.registration_client_uri as string, { headers: { authorization: `Bearer ${client.registration_access_token as string}` } });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { client_id: string }).client_id).toBe(client.client_id);
  });

  it('surfaces our OAuth error to the library', async () => {
    const response = await oauth.dynamicClientRegistrationRequest(as, { redirect_uris: ['http://rp.example/cb'] }, options);
    const failure = await oauth.processDynamicClientRegistrationResponse(response).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(oauth.ResponseBodyError);
    expect((failure as oauth.ResponseBodyError).error).toBe('invalid_redirect_uri');
  });
});
