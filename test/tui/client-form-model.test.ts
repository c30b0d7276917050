import { describe, expect, it } from 'vitest';
import { createBody, emptyForm, fieldNamedIn, FORM_SECTIONS, formFromClient, patchBody, readForm } from '../../src/tui/client-form-model.js';
import { fakeClient } from './fake-admin-api.js';

const form = (values: Record<string, string>) => ({ ...emptyForm(), ...values });

describe('the client form, without a terminal', () => {
  it('has the sections of the issue, in order', () => {
    expect(FORM_SECTIONS.map((section) => [section.title, section.fields.map((field) => field.name)])).toEqual([
      ['Basics', ['client_name', 'application_type']],
      ['Redirect and other URIs', ['redirect_uris', 'post_logout_redirect_uris', 'client_uri', 'logo_uri', 'policy_uri', 'tos_uri']],
      ['Authentication and keys', ['token_endpoint_auth_method', 'jwks_uri']],
      ['Grants and scopes', ['grant_types', 'response_types', 'scope']],
      ['Tokens', ['access_token_format', 'access_token_lifetime']],
      ['Lifecycle', ['expires_at', 'disabled', 'admin', 'resource_server']],
    ]);
  });

  it.each([
    ['redirect_uris', 'https://a.example/cb, https://b.example/cb', ['https://a.example/cb', 'https://b.example/cb']],
    ['redirect_uris', ' https://a.example/cb   https://b.example/cb ', ['https://a.example/cb', 'https://b.example/cb']],
    ['redirect_uris', ' , ', undefined],
    ['response_types', 'code, code id_token', ['code', 'code id_token']],
    ['grant_types', 'authorization_code refresh_token', ['authorization_code', 'refresh_token']],
    ['access_token_lifetime', '600', 600],
    ['access_token_lifetime', '', undefined],
    ['expires_at', '2027-01-31', Date.UTC(2027, 0, 31) / 1000],
    ['expires_at', '2027-01-31T12:30:00Z', Date.UTC(2027, 0, 31, 12, 30) / 1000],
    ['expires_at', '', null],
    ['disabled', 'yes', true],
    ['admin', 'no', false],
    ['resource_server', 'yes', true],
    ['client_name', '  My RP ', 'My RP'],
    ['application_type', '', undefined],
  ])('%s typed as %j is sent as %j', (name, text, value) => {
    const read = readForm(form({ [name]: text }));
    expect(read.errors).toEqual({});
    expect(read.values[name]).toEqual(value);
  });

  it.each([
    ['access_token_lifetime', '5 minutes', 'access_token_lifetime: "5 minutes" is not a whole number of seconds'],
    ['expires_at', 'next tuesday', 'expires_at: "next tuesday" is not an ISO date such as 2027-01-31 or 2027-01-31T12:00:00Z'],
  ])('%s typed as %j cannot be sent: %s', (name, text, error) => {
    expect(readForm(form({ [name]: text })).errors).toEqual({ [name]: error });
  });

  it('Add sends the fields that are set', () => {
    const { body } = createBody(form({ client_name: 'My RP', redirect_uris: 'https://rp.example/cb', application_type: 'native' }));
    expect(body).toEqual({ client_name: 'My RP', redirect_uris: ['https://rp.example/cb'], application_type: 'native', disabled: false, admin: false, resource_server: false });
  });

  it('a client reads back into the form as it is', () => {
    const client = fakeClient({ client_id: 'c1', client_name: 'My RP', redirect_uris: ['https://a/cb', 'https://b/cb'], expires_at: Date.UTC(2027, 0, 31) / 1000 });
    expect(formFromClient(client)).toMatchObject({
      client_name: 'My RP',
      redirect_uris: 'https://a/cb, https://b/cb',
      expires_at: '2027-01-31T00:00:00Z',
      access_token_format: 'jwt',
      access_token_lifetime: '300',
      disabled: 'no',
      jwks_uri: '',
    });
  });

  it('Edit patches only what changed, null for what was emptied', () => {
    const client = fakeClient({ client_id: 'c1', client_name: 'My RP', redirect_uris: ['https://a/cb'], logo_uri: 'https://a/logo.png', jwks: { keys: [{ kty: 'EC' }] } });
    const unchanged = formFromClient(client);
    expect(patchBody(client, unchanged).patch).toEqual({});
    const edited = { ...unchanged, client_name: 'Renamed', logo_uri: '', redirect_uris: 'https://a/cb https://b/cb', disabled: 'yes' };
    expect(patchBody(client, edited).patch).toEqual({ client_name: 'Renamed', logo_uri: null, redirect_uris: ['https://a/cb', 'https://b/cb'], disabled: true });
  });

  it.each([
    ['redirect_uris[0] may use http only on a loopback host (localhost, 127.0.0.1, [::1])', 'redirect_uris'],
    ['post_logout_redirect_uris[1] must not have a fragment', 'post_logout_redirect_uris'],
    ['response_types "code" requires grant_types to include authorization_code', 'response_types'],
    ['the scope admin:write is not offered by this server', 'scope'],
    ['client_name#xx: "xx" is not a BCP 47 language tag', 'client_name'],
    ['jwks holds no signing key usable with token_endpoint_auth_signing_alg ES256', undefined],
    ['request body must be JSON', undefined],
  ])('the error %j is shown next to %s', (description, field) => {
    expect(fieldNamedIn(description)).toBe(field);
  });
});
