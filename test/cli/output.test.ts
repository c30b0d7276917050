import { describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin-client/types.js';
import { clientRequestFromFlags, formatClient, formatClientTable } from '../../src/cli/clients.js';
import { formatKeyTable } from '../../src/cli/keys.js';
import { parseDuration, parseTime } from '../../src/cli/options.js';
import { formatJson, formatRecord, formatTable, formatTime } from '../../src/cli/output.js';

const NOW = 1_750_000_000;

function client(fields: Partial<AdminClient> = {}): AdminClient {
  return {
    client_id: 'c1',
    client_id_issued_at: 1_700_000_000,
    has_client_secret: true,
    registration_client_uri: 'http://localhost:8080/register/c1',
    token_endpoint_auth_method: 'client_secret_basic',
    access_token_format: 'jwt',
    access_token_lifetime: 300,
    expires_at: null,
    disabled: false,
    admin: false,
    resource_server: false,
    created_at: 1_700_000_000,
    updated_at: 1_700_000_000,
    created_via: 'admin_api',
    last_used_at: null,
    initial_access_token_id: null,
    registration_policy: null,
    ...fields,
  };
}

describe('clients create: the flags build the request', () => {
  it.each([
    ['--name', { name: 'My RP' }, { client_name: 'My RP' }],
    ['--redirect-uri (repeated)', { redirectUri: ['https://a.example/cb', 'https://b.example/cb'] }, { redirect_uris: ['https://a.example/cb', 'https://b.example/cb'] }],
    ['--auth-method', { authMethod: 'private_key_jwt' }, { token_endpoint_auth_method: 'private_key_jwt' }],
    ['--grant-type (repeated)', { grantType: ['authorization_code', 'refresh_token'] }, { grant_types: ['authorization_code', 'refresh_token'] }],
    ['--scope, space-separated and repeated', { scope: ['openid  profile', 'email'] }, { scope: 'openid profile email' }],
    ['--token-format', { tokenFormat: 'reference' }, { access_token_format: 'reference' }],
    ['--token-lifetime', { tokenLifetime: 900 }, { access_token_lifetime: 900 }],
    ['--expires-in, from now', { expiresIn: 86_400 }, { expires_at: NOW + 86_400 }],
    ['no flags', {}, {}],
  ])('%s', (_name, flags, body) => {
    expect(clientRequestFromFlags(flags, NOW)).toEqual(body);
  });

  it('maps every flag at once, each to its own field', () => {
    expect(
      clientRequestFromFlags(
        { name: 'svc', authMethod: 'client_secret_post', grantType: ['client_credentials'], scope: ['profile'], tokenFormat: 'jwt', expiresIn: 60 },
        NOW,
      ),
    ).toEqual({ client_name: 'svc', token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'], scope: 'profile', access_token_format: 'jwt', expires_at: NOW + 60 });
  });
});

describe('durations and times on the command line', () => {
  it.each([
    ['3600', 3600],
    ['90s', 90],
    ['15m', 900],
    ['12h', 43_200],
    ['30d', 2_592_000],
    ['0', 0],
  ])('%s is %i seconds', (text, seconds) => expect(parseDuration(text)).toBe(seconds));

  it.each(['', 'soon', '1w', '-5', '1.5h', '10 d'])('%j is refused', (text) => expect(() => parseDuration(text)).toThrow(/expected seconds/));

  it('takes epoch seconds or ISO dates', () => {
    expect(parseTime('1700000000')).toBe(1_700_000_000);
    expect(parseTime('2025-01-31')).toBe(Date.UTC(2025, 0, 31) / 1000);
    expect(parseTime('2025-01-31T12:00:00Z')).toBe(Date.UTC(2025, 0, 31, 12) / 1000);
    expect(() => parseTime('yesterday')).toThrow(/epoch seconds or an ISO 8601 date/);
  });
});

describe('table and record output', () => {
  it('pads columns to the widest cell, two spaces apart, without trailing blanks', () => {
    const rows = [{ a: 'x', b: 'long value' }, { a: 'longer', b: 'y' }];
    expect(formatTable(rows, [{ header: 'A', value: (r) => r.a }, { header: 'B', value: (r) => r.b }])).toBe(
      ['A       B', 'x       long value', 'longer  y'].join('\n'),
    );
  });

  it('shows times as UTC to the second, and null as "-"', () => {
    expect(formatTime(1_700_000_000)).toBe('2023-11-14 22:13:20Z');
    expect(formatTime(null)).toBe('-');
  });

  it('lists clients with their state: active, disabled, expired, admin', () => {
    const table = formatClientTable([
      client({ client_id: 'a', client_name: 'Alpha' }),
      client({ client_id: 'b', disabled: true }),
      client({ client_id: 'c', expires_at: 1_000, admin: true, last_used_at: 1_700_000_060 }),
    ]).split('\n');
    expect(table[0]).toMatch(/^CLIENT ID +NAME +AUTH METHOD +STATE +CREATED +LAST USED$/);
    expect(table[1]).toMatch(/^a +Alpha +client_secret_basic +active +2023-11-14 22:13:20Z +-$/);
    expect(table[2]).toMatch(/^b +- +client_secret_basic +disabled /);
    expect(table[3]).toMatch(/^c +- +client_secret_basic +expired, admin +2023-11-14 22:13:20Z +2023-11-14 22:14:20Z$/);
    expect(formatClientTable([])).toBe('no clients');
  });

  it("shows a client's fields one a line: the operator's first, dates readable, lists joined", () => {
    const lines = formatClient({ ...client({ client_name: 'Alpha', client_secret_expires_at: 0 }), redirect_uris: ['https://a.example/cb', 'https://b.example/cb'], jwks: { keys: [] } }).split('\n');
    expect(lines[0]).toMatch(/^client_id +c1$/);
    expect(lines[1]).toMatch(/^client_name +Alpha$/);
    expect(lines).toContainEqual(expect.stringMatching(/^created_at +2023-11-14 22:13:20Z$/));
    expect(lines).toContainEqual(expect.stringMatching(/^expires_at +-$/));
    expect(lines).toContainEqual(expect.stringMatching(/^client_secret_expires_at +never$/));
    expect(lines).toContainEqual(expect.stringMatching(/^redirect_uris +https:\/\/a\.example\/cb, https:\/\/b\.example\/cb$/));
    expect(lines).toContainEqual(expect.stringMatching(/^jwks +\{"keys":\[\]\}$/));
  });

  it('orders a record by the given names first, then alphabetically', () => {
    expect(formatRecord({ b: 1, z: 2, a: 3 }, ['z'])).toBe('z  2\na  3\nb  1');
  });

  it('lists keys with their state and dates', () => {
    const table = formatKeyTable([{ kid: 'k1', alg: 'ES256', state: 'active', created_at: 1_700_000_000, activates_at: 1_700_000_600 }]).split('\n');
    expect(table).toEqual(['KID  ALG    STATE   CREATED               ACTIVATES', 'k1   ES256  active  2023-11-14 22:13:20Z  2023-11-14 22:23:20Z']);
  });

  it('prints JSON indented, parseable as it was', () => {
    const value = { clients: [client()], next_cursor: null };
    expect(JSON.parse(formatJson(value))).toEqual(value);
  });
});
