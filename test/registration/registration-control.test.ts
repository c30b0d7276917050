import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { POLICY_RULE_NAMES } from '../../src/registration/registration-policy.js';
import { isLoopbackHost } from '../../src/registration/redirect-uris.js';
import { RegistrationPolicyRepository } from '../../src/storage/registration-policy-repository.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { advanceWallClock } from '../support/clock.js';
import { request, startTestServer, storageKind, TEST_SECRETS_KEY, type TestServer } from '../support/test-server.js';

const rp = { redirect_uris: ['https://rp.example/cb'] };
const machine = { grant_types: ['client_credentials'] };
const INVALID_TOKEN_CHALLENGE = /^Bearer error="invalid_token"/;

/** A server with an admin, and helpers that speak to its admin API over HTTP. */
async function controlled(env: Record<string, string> = {}, shareDatabaseOf?: TestServer) {
  const server = await startTestServer(env, undefined, shareDatabaseOf);
  const token = await adminToken(server, await bootstrapAdmin(server));
  const admin = (method: string, path: string, json?: unknown) => request(server, method, `/admin${path}`, { token, ...(json !== undefined ? { json } : {}) });
  const newToken = async (body: Record<string, unknown> = {}) => {
    const res = await admin('POST', '/initial-access-tokens', body);
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; token: string };
  };
  const putPolicy = async (name: string, rules: Record<string, unknown>) => {
    const exists = (await admin('GET', `/policies/${name}`)).status === 200;
    const res = exists ? await admin('PUT', `/policies/${name}`, { rules }) : await admin('POST', '/policies', { name, rules });
    expect(res.status, res.text).toBe(exists ? 200 : 201);
    return res.body;
  };
  const register = (metadata: unknown, bearer?: string) => request(server, 'POST', '/register', { json: metadata, ...(bearer !== undefined ? { token: bearer } : {}) });
  return { server, admin, newToken, putPolicy, register };
}

type Controlled = Awaited<ReturnType<typeof controlled>>;

function expectInvalidToken(res: { status: number; body: any; headers: Headers }, credentialsSent = true): void {
  expect([res.status, res.body.error]).toEqual([401, 'invalid_token']);
  if (credentialsSent) expect(res.headers.get('www-authenticate')).toMatch(INVALID_TOKEN_CHALLENGE);
  else expect(res.headers.get('www-authenticate')).toBe('Bearer');
}

describe(`registration modes (${storageKind})`, () => {
  let s: Controlled | undefined;
  afterEach(async () => {
    await s?.server.close();
    s = undefined;
  });

  it('REGISTRATION_MODE is open by default, protected when only the static token is set, and checked', () => {
    const base = { SECRETS_KEY: TEST_SECRETS_KEY };
    expect(loadConfig(base).registration.mode).toBe('open');
    expect(loadConfig({ ...base, REGISTRATION_INITIAL_ACCESS_TOKEN: 'x'.repeat(32) }).registration.mode).toBe('protected');
    expect(loadConfig({ ...base, REGISTRATION_INITIAL_ACCESS_TOKEN: 'x'.repeat(32), REGISTRATION_MODE: 'open' }).registration.mode).toBe('open');
    expect(loadConfig({ ...base, REGISTRATION_MODE: 'closed' }).registration.mode).toBe('closed');
    expect(() => loadConfig({ ...base, REGISTRATION_MODE: 'invite-only' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, REGISTRATION_MODE: 'invite-only' })).toThrow(/REGISTRATION_MODE/);
  });

  it('open: registers without a token; a token that is sent must be valid', async () => {
    s = await controlled();
    expect((await s.register(rp)).status).toBe(201);
    const { token } = await s.newToken();
    expect((await s.register(rp, token)).status).toBe(201);
    expectInvalidToken(await s.register(rp, 'not-a-token-of-this-server-0123456789abcdef'));
    expectInvalidToken(await request(s.server, 'POST', '/register', { json: rp, headers: { authorization: 'Basic YTpi' } }));
  });

  it('protected: needs an initial access token; the static one keeps working beside stored ones', async () => {
    const staticToken = 'static-initial-access-token-0123456789abcdef';
    s = await controlled({ REGISTRATION_MODE: 'protected', REGISTRATION_INITIAL_ACCESS_TOKEN: staticToken });
    expectInvalidToken(await s.register(rp), false);
    expect((await s.register(rp, staticToken)).status).toBe(201);
    const { token } = await s.newToken();
    expect((await s.register(rp, token)).status).toBe(201);
    expectInvalidToken(await s.register(rp, `${token}x`));
  });

  it('closed: POST /register is refused with 403 access_denied, discovery omits it, RFC 7592 goes on', async () => {
    s = await controlled({ REGISTRATION_MODE: 'closed' });
    const refused = await s.register(rp);
    expect([refused.status, refused.body.error]).toEqual([403, 'access_denied']);
    expect(refused.body.error_description).toMatch(/registration is closed/);
    const { token } = await s.newToken();
    expect((await s.register(rp, token)).status).toBe(403); // not even with a token
    // the mode is decided before the Authorization header is read: a malformed one is still 403
    const malformed = await request(s.server, 'POST', '/register', { json: rp, headers: { authorization: 'Basic x' } });
    expect([malformed.status, malformed.body.error]).toEqual([403, 'access_denied']);
    const discovery = await request(s.server, 'GET', '/.well-known/openid-configuration');
    expect(discovery.body).not.toHaveProperty('registration_endpoint');
    expect(discovery.body.token_endpoint).toBe(`${s.server.url}/token`);
    // operators still create clients, which manage themselves as before
    const created = await s.admin('POST', '/clients', machine);
    expect(created.status).toBe(201);
    const self = await request(s.server, 'GET', `/register/${created.body.client_id}`, { token: created.body.registration_access_token });
    expect(self.status).toBe(200);
  });

  it('open and protected servers announce registration_endpoint', async () => {
    s = await controlled({ REGISTRATION_MODE: 'protected' });
    expect((await request(s.server, 'GET', '/.well-known/openid-configuration')).body.registration_endpoint).toBe(`${s.server.url}/register`);
  });
});

describe(`initial access tokens (${storageKind})`, () => {
  let s: Controlled;
  beforeAll(async () => {
    s = await controlled({ REGISTRATION_MODE: 'protected' });
  });
  afterAll(async () => s?.server.close());

  it('is shown once, stored as a hash, listed with its uses left, and recorded on the client', async () => {
    const created = await s.newToken({ description: 'partner A', max_uses: 3, expires_in: 3600 });
    expect(created.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ description: 'partner A', max_uses: 3, uses: 0, uses_left: 3, state: 'active', revoked_at: null, policy: null });
    const registered = await s.register(rp, created.token);
    expect(registered.status).toBe(201);
    const read = await s.admin('GET', `/initial-access-tokens/${created.id}`);
    expect(read.body).toMatchObject({ uses: 1, uses_left: 2 });
    expect(read.body).not.toHaveProperty('token');
    const listed = (await s.admin('GET', '/initial-access-tokens')).body.initial_access_tokens as Record<string, unknown>[];
    expect(listed.find((t) => t.id === created.id)).toMatchObject({ uses_left: 2 });
    expect(listed.some((t) => 'token' in t)).toBe(false);
    const client = await s.admin('GET', `/clients/${registered.body.client_id}`);
    expect(client.body).toMatchObject({ initial_access_token_id: created.id, registration_policy: null });
    // the database holds no token in the clear
    const rows = await s.server.db.query<Record<string, unknown>>('SELECT * FROM initial_access_tokens');
    expect(JSON.stringify(rows)).not.toContain(created.token);
  });

  it('is refused when used up (401 invalid_token); a refused registration does not spend a use', async () => {
    const { id, token } = await s.newToken({ max_uses: 1 });
    const bad = await s.register({ redirect_uris: ['http://rp.example/cb'] }, token);
    expect(bad.body.error).toBe('invalid_redirect_uri');
    expect((await s.register(rp, token)).status).toBe(201);
    expectInvalidToken(await s.register(rp, token));
    expect((await s.admin('GET', `/initial-access-tokens/${id}`)).body).toMatchObject({ uses: 1, uses_left: 0, state: 'used_up' });
  });

  it('is refused once expired', async () => {
    const { id, token } = await s.newToken({ expires_in: 60 });
    expect((await s.register(rp, token)).status).toBe(201);
    advanceWallClock(61_000);
    expectInvalidToken(await s.register(rp, token));
    expect((await s.admin('GET', `/initial-access-tokens/${id}`)).body.state).toBe('expired');
  });

  it('is refused once revoked, at once; revoking again keeps it revoked', async () => {
    const { id, token } = await s.newToken();
    expect((await s.register(rp, token)).status).toBe(201);
    const revoked = await s.admin('POST', `/initial-access-tokens/${id}/revoke`);
    expect([revoked.status, revoked.body.state, revoked.body.uses_left]).toEqual([200, 'revoked', 0]);
    expectInvalidToken(await s.register(rp, token));
    const again = await s.admin('POST', `/initial-access-tokens/${id}/revoke`);
    expect(again.body.revoked_at).toBe(revoked.body.revoked_at);
  });

  it('a registration whose audit entry cannot be written is not stored and spends no use', async () => {
    // a token under no policy: its use, the client and the entry are one statement
    const { id, token } = await s.newToken({ max_uses: 2 });
    await s.server.db.query('ALTER TABLE audit_entries ADD CONSTRAINT refuse_all CHECK (false) NOT VALID');
    try {
      expect((await s.register(rp, token)).status).toBe(500);
    } finally {
      await s.server.db.query('ALTER TABLE audit_entries DROP CONSTRAINT refuse_all');
    }
    const [row] = await s.server.db.query<{ n: string | number }>('SELECT count(*) AS n FROM clients WHERE initial_access_token_id = $1', [id]);
    expect(Number(row!.n)).toBe(0);
    expect((await s.admin('GET', `/initial-access-tokens/${id}`)).body).toMatchObject({ uses: 0, uses_left: 2 });
  });

  it('an unknown token is refused; so are bad creation requests and unknown ids', async () => {
    expectInvalidToken(await s.register(rp, 'A'.repeat(43)));
    for (const body of [{ max_uses: 0 }, { max_uses: 1.5 }, { expires_in: '7d' }, { policy: 'no-such-policy' }, { policy: 'Bad Name' }, { uses: 3 }, { description: 5 }]) {
      const res = await s.admin('POST', '/initial-access-tokens', body);
      expect([res.status, res.body.error], JSON.stringify(body)).toEqual([400, 'invalid_request']);
    }
    expect((await s.admin('GET', '/initial-access-tokens/0123456789abcdef0123')).status).toBe(404);
    expect((await s.admin('POST', '/initial-access-tokens/nope/revoke')).status).toBe(404);
  });
});

describe(`initial access token uses under concurrency (${storageKind})`, () => {
  let a: Controlled;
  let b: TestServer;
  beforeAll(async () => {
    a = await controlled({ REGISTRATION_MODE: 'protected' });
    // a second instance on the same database, as a replica would be
    b = await startTestServer({ REGISTRATION_MODE: 'protected' }, undefined, a.server);
  });
  afterAll(async () => {
    await b?.close();
    await a?.server.close();
  });

  it('fifty concurrent registrations across two instances with a 5-use token: exactly 5 succeed', async () => {
    const { id, token } = await a.newToken({ max_uses: 5 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => request(i % 2 === 0 ? a.server : b, 'POST', '/register', { json: machine, token })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(5);
    expect(statuses.filter((status) => status === 401)).toHaveLength(45);
    expect((await a.admin('GET', `/initial-access-tokens/${id}`)).body).toMatchObject({ uses: 5, uses_left: 0 });
    const [row] = await a.server.db.query<{ n: string | number }>('SELECT count(*) AS n FROM clients WHERE initial_access_token_id = $1', [id]);
    expect(Number(row!.n)).toBe(5);
  });

  it('max_clients holds under concurrency too: the policy row is locked while its clients are counted', async () => {
    await a.putPolicy('capped', { max_clients: 3 });
    const { token } = await a.newToken({ policy: 'capped' });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => request(i % 2 === 0 ? a.server : b, 'POST', '/register', { json: machine, token })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 400).every((r) => r.body.error === 'invalid_client_metadata')).toBe(true);
  });

  // PGlite is one backend: no second transaction can hold a lock while a registration waits
  it.skipIf(storageKind === 'embedded')('a registration blocked behind a change of the default runs under the new default, not under none', async () => {
    await a.putPolicy('old-default', {});
    await a.putPolicy('new-default', { grant_types: ['client_credentials'] });
    expect((await a.admin('PUT', '/default-policy', { name: 'old-default' })).status).toBe(200);
    const { token } = await a.newToken(); // names no policy: the default applies
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding!: (pid: number) => void;
    const holder = new Promise<number>((resolve) => (holding = resolve));
    // the change of the default, held open with every policy row locked
    const change = a.server.db.transaction(async (tx) => {
      const [backend] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      expect(await new RegistrationPolicyRepository(tx).setDefault('new-default')).toMatchObject({ isDefault: true });
      holding(backend!.pid);
      await released;
    });
    const pid = await holder;
    const registration = a.register(rp, token);
    try {
      // wait until the registration is blocked on a lock the change holds, then commit the change
      for (let waited = 0; ; waited += 20) {
        const [row] = await a.server.db.query<{ n: string | number }>('SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]);
        if (Number(row!.n) > 0) break;
        if (waited > 5000) throw new Error('the registration never waited for the change of the default');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      release();
      await change;
    }
    const res = await registration;
    expect([res.status, res.body.error], res.text).toEqual([400, 'invalid_client_metadata']);
    expect(res.body.error_description).toMatch(/rule grant_types of registration policy new-default/);
    expect((await a.admin('DELETE', '/default-policy')).status).toBe(204);
  });

  it('a policy changed through one instance applies on the other at once, without a restart', async () => {
    await a.putPolicy('live', { grant_types: ['client_credentials'] });
    expect((await a.admin('PUT', '/default-policy', { name: 'live' })).status).toBe(200);
    const staticless = await b.app.inject({ method: 'POST', url: '/register', payload: rp });
    expect(staticless.statusCode).toBe(401); // protected: b needs a token
    const { token } = await a.newToken();
    expect((await request(b, 'POST', '/register', { json: rp, token })).body.error).toBe('invalid_client_metadata');
    await a.putPolicy('live', { grant_types: ['authorization_code', 'client_credentials'] });
    expect((await request(b, 'POST', '/register', { json: rp, token })).status).toBe(201);
    expect((await a.admin('DELETE', '/default-policy')).status).toBe(204);
  });
});

describe(`registration policies (${storageKind})`, () => {
  let s: Controlled;
  beforeAll(async () => {
    s = await controlled();
  });
  afterAll(async () => s?.server.close());

  /** The policy `rules`, made the default, then the registration of `metadata`. */
  async function underDefault(rules: Record<string, unknown>, metadata: unknown) {
    await s.putPolicy('rule-under-test', rules);
    expect((await s.admin('PUT', '/default-policy', { name: 'rule-under-test' })).status).toBe(200);
    return s.register(metadata);
  }

  const cases: [rule: string, rules: Record<string, unknown>, passes: Record<string, unknown>, refused: Record<string, unknown>, error: string][] = [
    ['redirect_uri_hosts (exact host)', { redirect_uri_hosts: ['app.example.com'] }, { redirect_uris: ['https://app.example.com/cb'] }, { redirect_uris: ['https://evil.example/cb'] }, 'invalid_redirect_uri'],
    ['redirect_uri_hosts (wildcard: subdomains)', { redirect_uri_hosts: ['*.partner.example'] }, { redirect_uris: ['https://app.partner.example/cb'] }, { redirect_uris: ['https://partner.example/cb'] }, 'invalid_redirect_uri'],
    ['redirect_uri_hosts (post-logout URIs too)', { redirect_uri_hosts: ['app.example.com'] }, { ...{ redirect_uris: ['https://app.example.com/cb'] }, post_logout_redirect_uris: ['https://app.example.com/bye'] }, { redirect_uris: ['https://app.example.com/cb'], post_logout_redirect_uris: ['https://evil.example/bye'] }, 'invalid_client_metadata'],
    ['allow_loopback_redirects', { allow_loopback_redirects: false }, rp, { redirect_uris: ['http://127.0.0.1:8080/cb'] }, 'invalid_redirect_uri'],
    ['allow_loopback_redirects beside redirect_uri_hosts', { redirect_uri_hosts: ['app.example.com'], allow_loopback_redirects: true }, { redirect_uris: ['http://localhost:3000/cb'] }, { redirect_uris: ['https://rp.example/cb'] }, 'invalid_redirect_uri'],
    ['grant_types', { grant_types: ['client_credentials'] }, machine, rp, 'invalid_client_metadata'],
    ['grant_types (refresh_token is a grant like any other)', { grant_types: ['authorization_code'] }, rp, { ...rp, grant_types: ['authorization_code', 'refresh_token'] }, 'invalid_client_metadata'],
    // response_types: code is the only response type served, so no registration can break a rule of ['code']
    ['token_endpoint_auth_methods', { token_endpoint_auth_methods: ['client_secret_basic'] }, machine, { ...machine, token_endpoint_auth_method: 'client_secret_post' }, 'invalid_client_metadata'],
    ['scopes', { scopes: ['openid', 'profile'] }, { ...machine, scope: 'openid' }, { ...machine, scope: 'openid email' }, 'invalid_client_metadata'],
    ['required_fields', { required_fields: ['contacts', 'client_uri'] }, { ...machine, contacts: ['ops@example.com'], client_uri: 'https://rp.example' }, { ...machine, contacts: ['ops@example.com'] }, 'invalid_client_metadata'],
  ];

  it.each(cases)('%s: a passing and a refused registration, the refusal naming the rule and the policy', async (_name, rules, passes, refused, error) => {
    const ok = await underDefault(rules, passes);
    expect(ok.status, ok.text).toBe(201);
    const no = await underDefault(rules, refused);
    expect([no.status, no.body.error]).toEqual([400, error]);
    const rule = Object.keys(rules).find((r) => no.body.error_description.includes(`rule ${r} `));
    expect(rule, no.body.error_description).toBeDefined();
    expect(no.body.error_description).toContain('registration policy rule-under-test');
  });

  it('redirect_uri_hosts: only https URIs on a trusted host pass; a custom scheme naming the host does not', async () => {
    const trusting = { redirect_uri_hosts: ['partner.example.com'] };
    const native = { application_type: 'native', token_endpoint_auth_method: 'none' };
    expect((await underDefault(trusting, { redirect_uris: ['https://partner.example.com/cb'] })).status).toBe(201);
    for (const uri of ['com.evil.app://partner.example.com/cb', 'com.evil.app:/cb', 'com.evil.app://localhost/cb']) {
      const refused = await underDefault(trusting, { ...native, redirect_uris: [uri] });
      expect([refused.status, refused.body.error], `${uri}: ${refused.text}`).toEqual([400, 'invalid_redirect_uri']);
      expect(refused.body.error_description).toMatch(/only https URIs on partner.example.com \(rule redirect_uri_hosts of registration policy rule-under-test\)/);
    }
    const logout = await underDefault(trusting, { ...native, redirect_uris: ['https://partner.example.com/cb'], post_logout_redirect_uris: ['com.evil.app://partner.example.com/bye'] });
    expect([logout.status, logout.body.error]).toEqual([400, 'invalid_client_metadata']);
    expect(logout.body.error_description).toMatch(/post_logout_redirect_uris\[0\] uses com.evil.app; .*rule redirect_uri_hosts/);
    // loopback stays allowed beside it unless allow_loopback_redirects is false
    expect((await underDefault(trusting, { ...native, redirect_uris: ['http://127.0.0.1:8080/cb'] })).status).toBe(201);
    await s.admin('DELETE', '/default-policy');
  });

  // each field with the value its default would have given: only the request naming it counts
  const defaulted: [field: string, value: unknown][] = [
    ['grant_types', ['authorization_code']], ['token_endpoint_auth_method', 'client_secret_basic'], ['application_type', 'web'],
    ['response_types', ['code']], ['id_token_signed_response_alg', 'RS256'], ['subject_type', 'public'],
  ];
  it.each(defaulted)('required_fields %s: a default does not count, the request (and an RFC 7592 update) must name it', async (field, value) => {
    await s.putPolicy('requires', { required_fields: [field] });
    const { token } = await s.newToken({ policy: 'requires', max_uses: 5 });
    const refused = await s.register(rp, token);
    expect([refused.status, refused.body.error], refused.text).toEqual([400, 'invalid_client_metadata']);
    expect(refused.body.error_description).toBe(`${field} is required (rule required_fields of registration policy requires)`);
    expect((await s.register({ ...rp, [field]: null }, token)).status).toBe(400); // null is absent
    const named = await s.register({ ...rp, [field]: value }, token);
    expect(named.status, named.text).toBe(201);
    const update = (json: Record<string, unknown>) => request(s.server, 'PUT', `/register/${named.body.client_id}`, { token: named.body.registration_access_token, json });
    const without = await update({ client_id: named.body.client_id, ...rp });
    expect([without.status, without.body.error]).toEqual([400, 'invalid_client_metadata']);
    expect((await update({ client_id: named.body.client_id, ...rp, [field]: value })).status).toBe(200);
  });

  it('redirect_uri_hosts: a pattern that could never match is refused when saved, naming its normal form', async () => {
    const refused: [pattern: string, description: RegExp][] = [
      ['example.com:443', /example.com:443 names port 443; .* \(write example.com\)/],
      ['*.example.com:443', /names port 443; .* \(write \*.example.com\)/],
      ['example.com:80', /names port 80; only https URIs are bound to hosts/],
      ['[2001:0db8::1]', /\[2001:0db8::1\] is not in normal form, .* \(write \[2001:db8::1\]\)/],
      ['App.Example.com', /App.Example.com is not in normal form, .* \(write app.example.com\)/],
      ['*.Example.com', /\(write \*.example.com\)/],
      ['bücher.example', /\(write xn--bcher-kva.example\)/],
      ['example.com:99999', /example.com:99999 is not a host or host:port/],
      ['localhost', /localhost is a loopback host; .*allow_loopback_redirects/],
      ['127.0.0.1:8080', /loopback host/],
    ];
    for (const [pattern, description] of refused) {
      const res = await s.admin('PUT', '/policies/rule-under-test', { rules: { redirect_uri_hosts: [pattern] } });
      expect([res.status, res.body.error], pattern).toEqual([400, 'invalid_request']);
      expect(res.body.error_description, pattern).toMatch(/^rule redirect_uri_hosts: /);
      expect(res.body.error_description, pattern).toMatch(description);
    }
    // a pattern without a port matches 443 only; one with a port, that port only
    const hosts = { redirect_uri_hosts: ['[2001:db8::1]', 'app.example.com:8443', '*.partner.example'] };
    for (const uri of ['https://[2001:db8::1]/cb', 'https://app.example.com:8443/cb', 'https://a.b.partner.example/cb']) {
      expect((await underDefault(hosts, { redirect_uris: [uri] })).status, uri).toBe(201);
    }
    for (const uri of ['https://[2001:db8::1]:8443/cb', 'https://app.example.com/cb', 'https://a.partner.example:8443/cb', 'https://partner.example/cb']) {
      const res = await underDefault(hosts, { redirect_uris: [uri] });
      expect([res.status, res.body.error], uri).toEqual([400, 'invalid_redirect_uri']);
    }
    await s.admin('DELETE', '/default-policy');
  });

  it('allow_loopback_redirects: false refuses every loopback host, as registration itself counts them', async () => {
    const loopbacks = [
      'http://127.0.0.2:8080/cb', 'http://127.255.255.254/cb', 'http://[::1]:8080/cb', 'http://[::ffff:7f00:1]/cb',
      'http://localhost./cb', 'http://app.localhost/cb', 'http://app.localhost.:3000/cb',
    ];
    for (const uri of loopbacks) {
      await s.admin('DELETE', '/default-policy');
      const open = await s.register({ redirect_uris: [uri] });
      expect(open.status, `${uri} without a policy: ${open.text}`).toBe(201); // http is for loopback hosts only
      const refused = await underDefault({ allow_loopback_redirects: false }, { redirect_uris: [uri] });
      expect([refused.status, refused.body.error], uri).toEqual([400, 'invalid_redirect_uri']);
      expect(refused.body.error_description).toMatch(/loopback .*rule allow_loopback_redirects of registration policy rule-under-test/);
    }
    // other spellings are refused by registration as not normalised; the test of the host agrees on them anyway
    for (const uri of ['http://127.1/cb', 'http://[0:0:0:0:0:0:0:1]/cb', 'http://[::ffff:127.0.0.1]/cb', 'http://LocalHost/cb']) {
      expect(isLoopbackHost(new URL(uri).hostname), uri).toBe(true);
    }
    for (const uri of ['https://localhost.example.com/cb', 'https://128.0.0.1/cb', 'https://[::2]/cb', 'https://[::ffff:8000:1]/cb', 'https://mylocalhost/cb']) {
      expect(isLoopbackHost(new URL(uri).hostname), uri).toBe(false);
    }
    expect((await underDefault({ allow_loopback_redirects: false }, { redirect_uris: ['https://localhost.example.com/cb'] })).status).toBe(201);
    await s.admin('DELETE', '/default-policy');
  });

  it('access_token_format, access_token_lifetime and client_lifetime: the settings clients registered under it get', async () => {
    const res = await underDefault({ access_token_format: 'reference', access_token_lifetime: 120, client_lifetime: 3600 }, machine);
    expect(res.status).toBe(201);
    const client = (await s.admin('GET', `/clients/${res.body.client_id}`)).body;
    expect(client).toMatchObject({ access_token_format: 'reference', access_token_lifetime: 120, registration_policy: 'rule-under-test' });
    expect(client.expires_at - client.client_id_issued_at).toBe(3600);
    // refused when saved: out of range
    for (const rules of [{ access_token_lifetime: 0 }, { access_token_format: 'opaque' }, { client_lifetime: -1 }]) {
      const bad = await s.admin('PUT', '/policies/rule-under-test', { rules });
      expect([bad.status, bad.body.error]).toEqual([400, 'invalid_request']);
      expect(bad.body.error_description).toContain(Object.keys(rules)[0]);
    }
  });

  it('require_software_statement: false is accepted; true is refused when saved, since no software statement can pass yet', async () => {
    expect((await underDefault({ require_software_statement: false }, machine)).status).toBe(201);
    const refused = await s.admin('PUT', '/policies/rule-under-test', { rules: { require_software_statement: true } });
    expect([refused.status, refused.body.error]).toEqual([400, 'invalid_request']);
    expect(refused.body.error_description).toMatch(/require_software_statement/);
  });

  it('max_clients: counts the clients registered under the policy that exist', async () => {
    await s.putPolicy('rule-under-test', { max_clients: 1 });
    await s.admin('PUT', '/default-policy', { name: 'rule-under-test' });
    const [row] = await s.server.db.query<{ n: string | number }>("SELECT count(*) AS n FROM clients WHERE registration_policy = 'rule-under-test'");
    await s.putPolicy('rule-under-test', { max_clients: Number(row!.n) + 1 });
    const first = await s.register(machine);
    expect(first.status).toBe(201);
    const refused = await s.register(machine);
    expect([refused.status, refused.body.error]).toEqual([400, 'invalid_client_metadata']);
    expect(refused.body.error_description).toMatch(/rule max_clients of registration policy rule-under-test/);
    // one leaves: one more may come
    expect((await request(s.server, 'DELETE', `/register/${first.body.client_id}`, { token: first.body.registration_access_token })).status).toBe(204);
    expect((await s.register(machine)).status).toBe(201);
  });

  it('max_clients_per_token: counts the clients of one initial access token; a refusal gives the use back', async () => {
    await s.putPolicy('per-token', { max_clients_per_token: 1 });
    const { id, token } = await s.newToken({ policy: 'per-token', max_uses: 5 });
    expect((await s.register(machine, token)).status).toBe(201);
    const refused = await s.register(machine, token);
    expect([refused.status, refused.body.error]).toEqual([400, 'invalid_client_metadata']);
    expect(refused.body.error_description).toMatch(/rule max_clients_per_token of registration policy per-token/);
    expect((await s.admin('GET', `/initial-access-tokens/${id}`)).body).toMatchObject({ uses: 1, uses_left: 4 });
    // another token of the same policy has its own count
    expect((await s.register(machine, (await s.newToken({ policy: 'per-token' })).token)).status).toBe(201);
  });

  it("the token's policy wins over the default; without a token the default applies", async () => {
    await s.putPolicy('strict-default', { grant_types: ['client_credentials'] });
    await s.putPolicy('partner-a', { redirect_uri_hosts: ['rp.example'] });
    await s.admin('PUT', '/default-policy', { name: 'strict-default' });
    const { token } = await s.newToken({ policy: 'partner-a' });
    expect((await s.register(rp)).body.error).toBe('invalid_client_metadata');
    const partner = await s.register(rp, token);
    expect(partner.status).toBe(201);
    expect((await s.admin('GET', `/clients/${partner.body.client_id}`)).body.registration_policy).toBe('partner-a');
    await s.admin('DELETE', '/default-policy');
    expect((await s.register(rp)).status).toBe(201); // no default: no policy
  });

  it('a token that names no policy registers under the default; a refusal by it spends no use', async () => {
    await s.putPolicy('machines-only', { grant_types: ['client_credentials'] });
    await s.admin('PUT', '/default-policy', { name: 'machines-only' });
    try {
      const { id, token } = await s.newToken({ max_uses: 3 });
      expect((await s.register(rp, token)).body.error).toBe('invalid_client_metadata');
      const registered = await s.register(machine, token);
      expect(registered.status, registered.text).toBe(201);
      expect((await s.admin('GET', `/clients/${registered.body.client_id}`)).body).toMatchObject({ registration_policy: 'machines-only', initial_access_token_id: id });
      expect((await s.admin('GET', `/initial-access-tokens/${id}`)).body).toMatchObject({ uses: 1, uses_left: 2 });
    } finally {
      await s.admin('DELETE', '/default-policy');
    }
  });

  it('RFC 7592 updates are checked against the policy the client registered under', async () => {
    await s.putPolicy('partner-b', { redirect_uri_hosts: ['rp.example'] });
    const { token } = await s.newToken({ policy: 'partner-b' });
    const client = (await s.register(rp, token)).body;
    const path = `/register/${client.client_id}`;
    const away = await request(s.server, 'PUT', path, { token: client.registration_access_token, json: { client_id: client.client_id, redirect_uris: ['https://evil.example/cb'] } });
    expect([away.status, away.body.error]).toEqual([400, 'invalid_redirect_uri']);
    expect(away.body.error_description).toMatch(/rule redirect_uri_hosts of registration policy partner-b/);
    const within = await request(s.server, 'PUT', path, { token: client.registration_access_token, json: { client_id: client.client_id, redirect_uris: ['https://rp.example/other'] } });
    expect(within.status).toBe(200);
  });

  it('policies are validated strictly when saved, named uniquely, and not deleted while in use', async () => {
    const bad: [unknown, RegExp][] = [
      [{ name: 'p1', rules: { max_client: 3 } }, /unknown policy rule max_client/],
      [{ name: 'p1', rules: { grant_types: ['password'] } }, /grant_types/],
      [{ name: 'p1', rules: { redirect_uri_hosts: ['https://x.example/'] } }, /redirect_uri_hosts/],
      [{ name: 'p1', rules: { required_fields: ['software_statement'] } }, /required_fields/],
      [{ name: 'p1', rules: [] }, /rules must be a JSON object/],
      [{ name: 'p1' }, /rules is required/],
      [{ name: 'P 1', rules: {} }, /name must be/],
      [{ name: 'p1', rules: {}, color: 'red' }, /unknown field color/],
    ];
    for (const [body, description] of bad) {
      const res = await s.admin('POST', '/policies', body);
      expect([res.status, res.body.error], JSON.stringify(body)).toEqual([400, 'invalid_request']);
      expect(res.body.error_description).toMatch(description);
    }
    expect((await s.admin('POST', '/policies', { name: 'dup', rules: {} })).status).toBe(201);
    const dup = await s.admin('POST', '/policies', { name: 'dup', rules: {} });
    expect([dup.status, dup.body.error]).toEqual([409, 'conflict']);

    const { id, token } = await s.newToken({ policy: 'dup' });
    const inUse = await s.admin('DELETE', '/policies/dup');
    expect([inUse.status, inUse.body.error]).toEqual([409, 'conflict']);
    await s.admin('POST', `/initial-access-tokens/${id}/revoke`);
    expect((await s.admin('DELETE', '/policies/dup')).status).toBe(204);
    expect((await s.admin('GET', '/policies/dup')).status).toBe(404);
    expect((await s.admin('GET', `/initial-access-tokens/${id}`)).body.policy).toBeNull();
    expectInvalidToken(await s.register(rp, token));

    // a client registered under a policy keeps it in use
    await s.putPolicy('kept', {});
    const client = (await s.register(rp, (await s.newToken({ policy: 'kept', max_uses: 1 })).token)).body;
    expect(client.client_id).toBeDefined();
    const governs = await s.admin('DELETE', '/policies/kept');
    expect([governs.status, governs.body.error]).toEqual([409, 'conflict']);
  });

  it('the default is one policy at most; listing shows which', async () => {
    await s.putPolicy('one', {});
    await s.putPolicy('two', {});
    await s.admin('PUT', '/default-policy', { name: 'one' });
    await s.admin('PUT', '/default-policy', { name: 'two' });
    const listed = (await s.admin('GET', '/policies')).body.policies as { name: string; is_default: boolean }[];
    expect(listed.filter((p) => p.is_default).map((p) => p.name)).toEqual(['two']);
    const unknown = await s.admin('PUT', '/default-policy', { name: 'three' });
    expect([unknown.status, unknown.body.error]).toEqual([400, 'invalid_request']);
    expect((await s.admin('DELETE', '/default-policy')).status).toBe(204);
    expect(((await s.admin('GET', '/policies')).body.policies as { is_default: boolean }[]).some((p) => p.is_default)).toBe(false);
  });

  it('names every rule in one list', () => {
    expect(POLICY_RULE_NAMES).toEqual([
      'redirect_uri_hosts', 'allow_loopback_redirects', 'grant_types', 'response_types', 'token_endpoint_auth_methods', 'scopes',
      'max_clients', 'max_clients_per_token', 'required_fields', 'require_software_statement', 'access_token_format', 'access_token_lifetime', 'client_lifetime',
    ]);
  });
});
