import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SESSION_COOKIE } from '../../src/authorization/routes.js';
import { connectPostgres } from '../../src/storage/postgres.js';
import { PairwiseSubjectRepository } from '../../src/storage/pairwise-subject-repository.js';
import { loadPairwiseSalt } from '../../src/users/subjects.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { basic, postForm } from '../support/client-auth.js';
import { mintIdToken } from '../support/id-tokens.js';
import { KeyServer } from '../support/key-server.js';
import { createUser, csrfTokenOf, Visitor, type PageResponse } from '../support/sign-in.js';
import { freshDatabase, request, serveApp, startTestServer, storageKind, TEST_SECRETS_KEY, type TestServer } from '../support/test-server.js';

const PASSWORD = 'correct horse battery';
const PAIRWISE_SUB = /^[A-Za-z0-9_-]{43}$/;

interface Client {
  client_id: string;
  client_secret: string;
  redirect: string;
  registration_access_token: string;
  registration_client_uri: string;
}

/** Where an instance is reached (`url`) and, when another, what it calls itself (`issuer`). */
interface Instance {
  url: string;
  issuer?: string;
}

/** Follows the server's own redirects; stops at a page, or at a redirect to the client. */
async function follow(instance: Instance, visitor: Visitor, first: PageResponse): Promise<PageResponse> {
  const issuer = instance.issuer ?? instance.url;
  let res = first;
  for (let hops = 0; hops < 10 && res.location !== undefined; hops++) {
    const next = new URL(res.location, issuer);
    if (next.origin !== new URL(issuer).origin) break;
    res = await visitor.get(`${next.pathname}${next.search}`);
  }
  return res;
}

/**
 * Signs `username` in at `instance` (a visitor of its own unless one is given), authorizes
 * `client` with scope openid and consents: the callback URL the browser would be sent to.
 */
async function callbackFor(instance: Instance, client: Pick<Client, 'client_id' | 'redirect'>, options: { visitor?: Visitor; username?: string; params?: Record<string, string> } = {}): Promise<{ callback: URL; visitor: Visitor }> {
  let visitor = options.visitor;
  if (visitor === undefined) {
    visitor = new Visitor(instance.url);
    expect((await visitor.signIn(options.username ?? 'alice', PASSWORD)).status).toBe(303);
  }
  const params = { response_type: 'code', client_id: client.client_id, redirect_uri: client.redirect, scope: 'openid profile', state: 'st', nonce: 'n', ...options.params };
  let res = await follow(instance, visitor, await visitor.get(`/authorize?${new URLSearchParams(params).toString()}`));
  if (res.status === 200 && res.text.includes('name="decision"')) {
    const handle = /name="request" value="([^"]+)"/.exec(res.text)![1]!;
    res = await follow(instance, visitor, await visitor.post('/consent', { csrf_token: csrfTokenOf(res.text), request: handle, decision: 'allow' }));
  }
  expect(res.location, res.text).toBeDefined();
  const callback = new URL(res.location!);
  expect(callback.searchParams.get('code'), res.location).toBeTruthy();
  return { callback, visitor };
}

interface Tokens {
  access_token: string;
  id_token: string;
  /** The ID token's sub. */
  sub: string;
}

/** The code flow by hand, the code exchanged with client_secret_basic. */
async function signIn(instance: Instance, client: Client, options: { visitor?: Visitor; username?: string } = {}): Promise<Tokens & { visitor: Visitor }> {
  const { callback, visitor } = await callbackFor(instance, client, options);
  const res = await postForm(instance, '/token', { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: client.redirect }, { authorization: basic(client.client_id, client.client_secret) });
  expect(res.status, res.text).toBe(200);
  return { access_token: res.body.access_token, id_token: res.body.id_token, sub: decodeJwt(res.body.id_token as string).sub!, visitor };
}

describe(`pairwise subject identifiers (${storageKind})`, () => {
  let server: TestServer;
  let aliceId: string;
  /** The sector_identifier_uri document that shop.example and blog.example share. */
  const sharedSector = new KeyServer();
  /** A document each registration rule below changes to what it needs. */
  const document = new KeyServer();
  const clients: Record<'a' | 'b' | 'shop' | 'blog' | 'plain', Client> = {} as never;

  const register = async (metadata: Record<string, unknown>, on: { url: string } = server) => {
    const res = await request(on, 'POST', '/register', { json: { client_name: 'RP', scope: 'openid profile', ...metadata } });
    if (res.status !== 201) throw new Error(res.text);
    return { ...(res.body as Omit<Client, 'redirect'>), redirect: (metadata.redirect_uris as string[])[0]! };
  };

  beforeAll(async () => {
    await sharedSector.start();
    await document.start();
    sharedSector.body = ['https://shop.example/cb', 'https://blog.example/cb'];
    // loopback documents of any port may be fetched over http; every other outbound rule holds
    server = await startTestServer({ OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' });
    aliceId = await createUser(server, 'alice', PASSWORD);
    await createUser(server, 'bob', PASSWORD);
    clients.a = await register({ redirect_uris: ['https://a.example/cb'], post_logout_redirect_uris: ['https://a.example/bye'], subject_type: 'pairwise' });
    clients.b = await register({ redirect_uris: ['https://b.example/cb'], subject_type: 'pairwise' });
    clients.shop = await register({ redirect_uris: ['https://shop.example/cb'], subject_type: 'pairwise', sector_identifier_uri: sharedSector.url('/sector.json') });
    clients.blog = await register({ redirect_uris: ['https://blog.example/cb'], subject_type: 'pairwise', sector_identifier_uri: sharedSector.url('/sector.json') });
    clients.plain = await register({ redirect_uris: ['https://plain.example/cb'] });
  });
  afterAll(async () => {
    await server?.close();
    await sharedSector.stop();
    await document.stop();
  });

  describe('the sub each client gets (OpenID Connect Core §8)', () => {
    it('two pairwise clients on different hosts: different subs, neither the user id', async () => {
      const [a, b] = [await signIn(server, clients.a), await signIn(server, clients.b)];
      expect(a.sub).toMatch(PAIRWISE_SUB);
      expect(b.sub).toMatch(PAIRWISE_SUB);
      expect(a.sub).not.toBe(b.sub);
      expect([a.sub, b.sub]).not.toContain(aliceId);
    });

    it('the same client twice, in two sessions: the same sub', async () => {
      const first = await signIn(server, clients.a);
      const second = await signIn(server, clients.a);
      expect(second.visitor.cookies.get(SESSION_COOKIE)).not.toBe(first.visitor.cookies.get(SESSION_COOKIE));
      expect(second.sub).toBe(first.sub);
    });

    it('two users at one client: different subs', async () => {
      expect((await signIn(server, clients.a, { username: 'bob' })).sub).not.toBe((await signIn(server, clients.a)).sub);
    });

    it('two clients sharing a sector_identifier_uri, redirecting to different hosts: the same sub', async () => {
      const shop = await signIn(server, clients.shop);
      const blog = await signIn(server, clients.blog);
      expect(shop.sub).toMatch(PAIRWISE_SUB);
      expect(blog.sub).toBe(shop.sub);
      expect(shop.sub).not.toBe((await signIn(server, clients.a)).sub);
    });

    it('a claims request naming sub: the pairwise sub the client knows is the signed-in user, the user id is not', async () => {
      const { sub, visitor } = await signIn(server, clients.a);
      const named = (value: string) => ({ claims: JSON.stringify({ id_token: { sub: { value } } }) });
      const { callback } = await callbackFor(server, clients.a, { visitor, params: named(sub) });
      expect(callback.searchParams.get('error')).toBeNull();
      // the user id is not a sub this client knows: nobody it may be told about (prompt=none: no new sign-in)
      const refused = await follow(server, visitor, await visitor.get(`/authorize?${new URLSearchParams({ response_type: 'code', client_id: clients.a.client_id, redirect_uri: clients.a.redirect, scope: 'openid', state: 'st', prompt: 'none', ...named(aliceId) }).toString()}`));
      expect(Object.fromEntries(new URL(refused.location!).searchParams)).toMatchObject({ error: 'login_required', state: 'st' });
    });

    it('a public client (no subject_type): the user id', async () => {
      const plain = await signIn(server, clients.plain);
      expect(plain.sub).toBe(aliceId);
      expect(decodeJwt(plain.access_token).sub).toBe(aliceId);
    });
  });

  describe('every place the sub leaves the server', () => {
    it('the JWT access token, introspection and UserInfo carry the ID token\'s pairwise sub; UserInfo still finds the user', async () => {
      const { access_token: accessToken, sub } = await signIn(server, clients.a);
      expect(decodeJwt(accessToken)).toMatchObject({ sub, client_id: clients.a.client_id });
      const introspection = await postForm(server, '/introspect', { token: accessToken }, { authorization: basic(clients.a.client_id, clients.a.client_secret) });
      expect(introspection.body).toMatchObject({ active: true, sub, client_id: clients.a.client_id });
      const info = await request(server, 'GET', '/userinfo', { token: accessToken });
      expect(info.status, info.text).toBe(200);
      expect(info.body).toMatchObject({ sub, preferred_username: 'alice' });
      expect(JSON.stringify(info.body)).not.toContain(aliceId);
    });

    it('reference access tokens too: introspection answers the pairwise sub, UserInfo finds the user', async () => {
      const admin = await adminToken(server, await bootstrapAdmin(server));
      const referenceClient = await register({ redirect_uris: ['https://ref.example/cb'], subject_type: 'pairwise' });
      const patched = await request(server, 'PATCH', `/admin/clients/${referenceClient.client_id}`, { token: admin, json: { access_token_format: 'reference' }, headers: { 'content-type': 'application/merge-patch+json' } });
      expect(patched.status, patched.text).toBe(200);
      const { access_token: accessToken, sub } = await signIn(server, referenceClient);
      expect(accessToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(sub).toMatch(PAIRWISE_SUB);
      const introspection = await postForm(server, '/introspect', { token: accessToken }, { authorization: basic(referenceClient.client_id, referenceClient.client_secret) });
      expect(introspection.body).toMatchObject({ active: true, sub });
      const info = await request(server, 'POST', '/userinfo', { token: accessToken, body: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(info.body).toMatchObject({ sub, preferred_username: 'alice' });
    });

    it('openid-client registers a pairwise client, validates its ID token and matches the UserInfo sub to it', async () => {
      const redirect = 'https://rp-lib.example/callback';
      const config = await oidc.dynamicClientRegistration(
        new URL(server.url),
        { redirect_uris: [redirect], subject_type: 'pairwise', client_name: 'Library RP', scope: 'openid profile' },
        oidc.ClientSecretBasic(),
        { execute: [oidc.allowInsecureRequests] },
      );
      expect(config.clientMetadata().subject_type).toBe('pairwise');
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirect, scope: 'openid profile', state, nonce, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const visitor = new Visitor(server.url);
      await visitor.signIn('alice', PASSWORD);
      const { callback } = await callbackFor(server, { client_id: config.clientMetadata().client_id, redirect }, { visitor, params: Object.fromEntries(url.searchParams) });
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
      const claims = tokens.claims()!;
      expect(claims.sub).toMatch(PAIRWISE_SUB);
      expect(claims.sub).not.toBe(aliceId);
      // openid-client refuses a UserInfo answer whose sub is not the one expected (Core §5.3.2)
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      expect(userinfo).toMatchObject({ sub: claims.sub, preferred_username: 'alice' });
      await expect(oidc.fetchUserInfo(config, tokens.access_token, aliceId)).rejects.toThrow();
    });

    it('a client that stops being pairwise: its old tokens no longer name anyone at UserInfo', async () => {
      const client = await register({ redirect_uris: ['https://switch.example/cb'], subject_type: 'pairwise' });
      const { access_token: accessToken } = await signIn(server, client);
      const put = await request(server, 'PUT', new URL(client.registration_client_uri).pathname, {
        token: client.registration_access_token,
        json: { client_id: client.client_id, redirect_uris: [client.redirect], scope: 'openid profile', subject_type: 'public' },
      });
      expect(put.status, put.text).toBe(200);
      expect((await request(server, 'GET', '/userinfo', { token: accessToken })).status).toBe(401);
      expect((await signIn(server, client)).sub).toBe(aliceId);
    });
  });

  describe('RP-initiated logout with a pairwise id_token_hint', () => {
    it('the hint of this session: the confirmation names the client, then the redirect', async () => {
      const { id_token: idToken, visitor } = await signIn(server, clients.a);
      const page = await visitor.get(`/logout?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: 'https://a.example/bye', state: 's1' }).toString()}`);
      expect(page.status, page.text).toBe(200);
      expect(page.text).toContain('Do you want to sign out?');
      expect(page.text).not.toContain('different sign-in');
      const form = Object.fromEntries([...page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));
      const out = await visitor.post('/logout', form);
      expect(out.location).toBe('https://a.example/bye?state=s1');
    });

    it('a hint without sid: its pairwise sub is matched to the signed-in user, another user\'s is not', async () => {
      const alice = await signIn(server, clients.a);
      const bob = await signIn(server, clients.a, { username: 'bob' });
      for (const [sub, other] of [[alice.sub, false], [bob.sub, true], [aliceId, true]] as const) {
        const hint = await mintIdToken(server, { aud: clients.a.client_id, sub });
        const page = await alice.visitor.get(`/logout?${new URLSearchParams({ id_token_hint: hint }).toString()}`);
        expect(page.status).toBe(200);
        expect(page.text.includes('different sign-in'), sub).toBe(other);
      }
    });
  });

  describe('registration rules (OpenID Connect Registration §5)', () => {
    const refusal = async (metadata: Record<string, unknown>) => {
      const res = await request(server, 'POST', '/register', { json: metadata });
      expect(res.status, res.text).toBe(400);
      expect(res.body.error).toBe('invalid_client_metadata');
      return res.body.error_description as string;
    };

    it('pairwise with redirect URIs on two hosts and no sector_identifier_uri is refused', async () => {
      expect(await refusal({ redirect_uris: ['https://a.example/cb', 'https://b.example/cb'], subject_type: 'pairwise' }))
        .toBe('subject_type pairwise needs a sector_identifier_uri: the redirect_uris are on several hosts (a.example, b.example)');
    });

    it.each([
      ['unreachable', async () => {
        const gone = await new KeyServer().start();
        await gone.stop();
        return gone.url('/sector.json');
      }, /^sector_identifier_uri could not be fetched: http:\/\/127\.0\.0\.1:\d+ could not be fetched \(ECONNREFUSED\)$/],
      ['answering 404', async () => {
        document.status = 404;
        return document.url('/sector.json');
      }, /^sector_identifier_uri could not be fetched: http:\/\/127\.0\.0\.1:\d+ answered with status 404$/],
      ['not JSON', async () => {
        document.body = '<html>not json</html>';
        return document.url('/sector.json');
      }, /^sector_identifier_uri is not a JSON document: http:\/\/127\.0\.0\.1:\d+ did not answer with JSON$/],
      ['a JSON object, not an array', async () => {
        document.body = { redirect_uris: ['https://docs.example/cb'] };
        return document.url('/sector.json');
      }, /^sector_identifier_uri must point to a JSON array of redirect URIs \(strings\)$/],
      ['an array of something else than strings', async () => {
        document.body = [{ uri: 'https://docs.example/cb' }];
        return document.url('/sector.json');
      }, /^sector_identifier_uri must point to a JSON array of redirect URIs \(strings\)$/],
      ['an array without one of the redirect_uris', async () => {
        document.body = ['https://docs.example/cb'];
        return document.url('/sector.json');
      }, /^sector_identifier_uri does not list the redirect_uris https:\/\/docs\.example\/other$/],
    ])('a sector_identifier_uri %s is refused, naming the problem', async (_name, prepare, message) => {
      document.status = 200;
      document.body = ['https://docs.example/cb', 'https://docs.example/other'];
      const uri = await prepare();
      expect(await refusal({ redirect_uris: ['https://docs.example/cb', 'https://docs.example/other'], subject_type: 'pairwise', sector_identifier_uri: uri })).toMatch(message);
      document.status = 200;
    });

    it('the document is fetched at registration, and again on an update only when the URI changes or a redirect_uri is added', async () => {
      document.status = 200;
      document.body = ['https://docs.example/cb', 'https://docs.example/other'];
      const before = document.hits;
      const client = await register({ redirect_uris: ['https://docs.example/cb'], subject_type: 'pairwise', sector_identifier_uri: document.url('/sector.json') });
      expect(document.hits).toBe(before + 1);
      const path = new URL(client.registration_client_uri).pathname;
      const update = (metadata: Record<string, unknown>) =>
        request(server, 'PUT', path, { token: client.registration_access_token, json: { client_id: client.client_id, subject_type: 'pairwise', sector_identifier_uri: document.url('/sector.json'), ...metadata } });
      // the client's own server is down: a rename needs nothing from it
      document.status = 503;
      expect((await update({ redirect_uris: ['https://docs.example/cb'], client_name: 'Renamed' })).status).toBe(200);
      expect(document.hits).toBe(before + 1);
      // an added redirect_uri must be listed: fetched again
      const added = await update({ redirect_uris: ['https://docs.example/cb', 'https://docs.example/other'] });
      expect([added.status, added.body.error_description]).toEqual([400, expect.stringContaining('sector_identifier_uri could not be fetched')]);
      expect(document.hits).toBe(before + 2);
      document.status = 200;
      expect((await update({ redirect_uris: ['https://docs.example/cb', 'https://docs.example/other'] })).status).toBe(200);
      document.body = ['https://docs.example/cb'];
      // another URI: fetched again, and its document must list them all
      const moved = await update({ redirect_uris: ['https://docs.example/cb', 'https://docs.example/other'], sector_identifier_uri: document.url('/moved.json') });
      expect([moved.status, moved.body.error_description]).toEqual([400, 'sector_identifier_uri does not list the redirect_uris https://docs.example/other']);
      expect(document.hits).toBe(before + 4);
    });

    it('a sector document served too slowly is refused after OUTBOUND_TIMEOUT_MS', async () => {
      const slow = await startTestServer({ OUTBOUND_ALLOWED_HOSTS: '127.0.0.1', OUTBOUND_TIMEOUT_MS: '300' });
      try {
        document.body = ['https://docs.example/cb'];
        document.delayMs = 1000;
        const res = await request(slow, 'POST', '/register', { json: { redirect_uris: ['https://docs.example/cb'], sector_identifier_uri: document.url('/sector.json') } });
        expect([res.status, res.body.error]).toEqual([400, 'invalid_client_metadata']);
        expect(res.body.error_description).toMatch(/^sector_identifier_uri could not be fetched: http:\/\/127\.0\.0\.1:\d+ did not answer within 300 ms$/);
      } finally {
        document.delayMs = 0;
        await slow.close();
      }
    });
  });

  describe('the salt: one for the deployment, for good', () => {
    it('a second instance on the same database gives the same subs', async () => {
      const other = await startTestServer({ ISSUER: server.url, OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' }, undefined, server);
      try {
        const here = await signIn(server, clients.b);
        const there = await signIn({ url: other.url, issuer: server.url }, clients.b);
        expect(there.sub).toBe(here.sub);
        // and UserInfo on either instance finds the user by the other's sub
        expect((await request(other, 'GET', '/userinfo', { token: here.access_token })).body).toMatchObject({ sub: here.sub, preferred_username: 'alice' });
      } finally {
        await other.app.close();
      }
    });

    it('instances starting together on an empty database agree on one salt', async () => {
      const { db, url, drop } = await freshDatabase();
      // on PostgreSQL each instance has a pool of its own, as separate processes would
      const others = url === undefined ? [] : [connectPostgres(url, 2, pino({ level: 'silent' })), connectPostgres(url, 2, pino({ level: 'silent' }))];
      const pools = url === undefined ? [db, db, db] : [db, ...others];
      try {
        const salts = await Promise.all(pools.map((pool) => loadPairwiseSalt(new PairwiseSubjectRepository(pool), 0)));
        expect(salts[0]).toHaveLength(32);
        expect(salts.map((salt) => salt.toString('hex'))).toEqual(Array(3).fill(salts[0]!.toString('hex')));
        expect((await db.query('SELECT salt FROM pairwise_salt')).length).toBe(1);
      } finally {
        await Promise.all(others.map((pool) => pool.close()));
        await db.close();
        await drop();
      }
    });

    it('a restart, and a restart with a rotated SECRETS_KEY, give the same subs', async () => {
      const { db, drop } = await freshDatabase();
      let app: FastifyInstance | undefined;
      try {
        const env = { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' };
        const first = await serveApp(db, env);
        app = first.app;
        await createUser({ db }, 'alice', PASSWORD);
        const client = await register({ redirect_uris: ['https://restart.example/cb'], subject_type: 'pairwise' }, first);
        const before = await signIn(first, client);
        await app.close();

        const restarted = await serveApp(db, env);
        app = restarted.app;
        expect((await signIn(restarted, client)).sub).toBe(before.sub);
        await app.close();

        const rotated = await serveApp(db, { ...env, SECRETS_KEY: randomBytes(32).toString('base64'), SECRETS_KEY_PREVIOUS: TEST_SECRETS_KEY });
        app = rotated.app;
        expect((await signIn(rotated, client)).sub).toBe(before.sub);
      } finally {
        await app?.close();
        await db.close();
        await drop();
      }
    });
  });

  it('the way back from a sub is removed with its user', async () => {
    const carol = await createUser(server, 'carol', PASSWORD);
    const { sub } = await signIn(server, clients.a, { username: 'carol' });
    const subjects = new PairwiseSubjectRepository(server.db);
    expect(await subjects.findUserId('a.example', sub)).toBe(carol);
    const admin = await adminToken(server, await bootstrapAdmin(server));
    expect((await request(server, 'DELETE', `/admin/users/${carol}`, { token: admin })).status).toBe(204);
    expect(await subjects.findUserId('a.example', sub)).toBeUndefined();
  });
});
