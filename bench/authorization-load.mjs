// Load for the grants that sign users in: the authorization code exchange and the refresh_token
// grant at POST /token.
//
// No browser: one user signs in once over plain HTTP (login page, CSRF token, consent page) and
// that session, with its remembered consent, is reused for every GET /authorize that prepares a
// code — the way a signed-in user's browser would come back. Codes are single-use and live 60 s,
// so a pool of them is prepared just before each run and handed out one per request, like the
// assertion pools of token-load.mjs. Refresh tokens rotate on every use: each is sent once, and the
// one its answer returns goes back into the pool for a later request.

import { createHash, randomBytes } from 'node:crypto';
import { registerClient } from './token-load.mjs';

const REDIRECT_URI = 'https://rp.example/cb';
const USERNAME = 'bench-user';
const PASSWORD = randomBytes(18).toString('base64url');
/** The scope of the benchmarked sign-ins: an ID token with each code exchange, and offline access. */
const SCOPE = 'openid profile offline_access';
/** GET /authorize requests in flight while a code pool is prepared. */
const PREPARE_CONCURRENCY = 16;
/** Path of the request sent once a pool is empty (a 404, never a replayed code). */
const EXHAUSTED_PATH = '/bench-code-pool-exhausted';

/** A browser's cookie jar, reduced to what this server sets: name=value pairs. */
class Session {
  cookies = new Map();

  header() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async send(url, init = {}) {
    const response = await fetch(url, { redirect: 'manual', ...init, headers: { ...(init.headers ?? {}), ...(this.cookies.size > 0 ? { cookie: this.header() } : {}) } });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const eq = pair.indexOf('=');
      if (/Max-Age=0/i.test(cookie)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return { status: response.status, location: response.headers.get('location'), text: await response.text() };
  }

  postForm(url, form) {
    return this.send(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  }
}

function hiddenField(html, name) {
  const match = new RegExp(`name="${name}" value="([^"]+)"`).exec(html);
  if (!match) throw new Error(`no ${name} field in the page: ${html.slice(0, 300)}`);
  return match[1];
}

/** Creates the bench user straight in the database (the admin API is not what is measured). */
async function createUser(benchUrl) {
  const { connectPostgres } = await import('../dist/storage/postgres.js');
  const { UserRepository } = await import('../dist/storage/user-repository.js');
  const { hashPassword } = await import('../dist/users/password.js');
  const { pino } = await import('pino');
  const db = connectPostgres(benchUrl, 1, pino({ level: 'silent' }));
  try {
    await new UserRepository(db).insert({
      id: randomBytes(16).toString('hex'),
      username: USERNAME,
      passwordHash: await hashPassword(PASSWORD),
      email: 'bench@example.com',
      emailVerified: true,
      profile: { name: 'Bench User' },
      createdAt: Math.floor(Date.now() / 1000),
    });
  } finally {
    await db.close();
  }
}

/**
 * Registers a confidential client (client_secret_basic, with the refresh_token grant when the
 * server serves it), signs the bench user in and consents once; returns what the scenarios need.
 */
export async function prepareSignIn(baseUrl, benchUrl) {
  const metadataResponse = await fetch(`${baseUrl}/.well-known/openid-configuration`);
  const metadata = await metadataResponse.json();
  const refresh = metadata.grant_types_supported.includes('refresh_token');
  await createUser(benchUrl);
  const client = await registerClient(baseUrl, {
    redirect_uris: [REDIRECT_URI],
    client_name: 'bench relying party',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: refresh ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
    scope: SCOPE,
  });
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorizeUrl =
    `${baseUrl}/authorize?` +
    new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT_URI, scope: SCOPE, code_challenge: challenge, code_challenge_method: 'S256', state: 'bench' }).toString();

  // the first time through: /authorize → /login → /authorize → consent → the redirect with a code
  const session = new Session();
  const absolute = (location) => (location.startsWith('http') ? location : `${baseUrl}${location.startsWith('/') ? '' : '/'}${location}`);
  let page = await session.send(authorizeUrl);
  for (let hops = 0; hops < 10; hops += 1) {
    if (page.location?.startsWith(REDIRECT_URI)) break;
    if (page.location) {
      page = await session.send(absolute(page.location));
    } else if (page.text.includes('name="password"')) {
      page = await session.postForm(`${baseUrl}/login`, { csrf_token: hiddenField(page.text, 'csrf_token'), username: USERNAME, password: PASSWORD, ...(page.text.includes('name="return_to"') ? { return_to: hiddenField(page.text, 'return_to') } : {}) });
    } else if (page.text.includes('name="decision"')) {
      page = await session.postForm(`${baseUrl}/consent`, { csrf_token: hiddenField(page.text, 'csrf_token'), request: hiddenField(page.text, 'request'), decision: 'allow' });
    } else {
      throw new Error(`signing the bench user in: unexpected answer ${page.status}: ${page.text.slice(0, 300)}`);
    }
  }
  if (!page.location?.startsWith(REDIRECT_URI) || !new URL(page.location).searchParams.get('code')) {
    throw new Error(`signing the bench user in ended without a code: ${page.status} ${page.location ?? page.text.slice(0, 300)}`);
  }
  return {
    refresh,
    tokenPath: new URL(metadata.token_endpoint).pathname,
    authorizeUrl,
    cookie: session.header(),
    verifier,
    basic: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`,
  };
}

/** `count` fresh codes: GET /authorize with the signed-in session, consent remembered. */
export async function prepareCodes(signIn, count) {
  const codes = new Array(count);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const response = await fetch(signIn.authorizeUrl, { redirect: 'manual', headers: { cookie: signIn.cookie } });
      await response.arrayBuffer();
      const code = new URL(response.headers.get('location') ?? 'x:').searchParams.get('code');
      if (response.status !== 303 && response.status !== 302) throw new Error(`preparing codes: GET /authorize gave ${response.status}`);
      if (!code) throw new Error(`preparing codes: no code in ${response.headers.get('location')}`);
      codes[index] = code;
    }
  };
  await Promise.all(Array.from({ length: PREPARE_CONCURRENCY }, worker));
  return { codes, seconds: (performance.now() - started) / 1000 };
}

const tokenRequest = (signIn) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: signIn.basic } });

/** autocannon requests exchanging one pooled code each; `onExhausted` as in token-load.mjs. */
export function codeExchangeRequests(signIn, pool, onExhausted) {
  const prefix = `grant_type=authorization_code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=${signIn.verifier}&code=`;
  const state = { handedOut: 0, exhaustedAfter: null, poolSize: pool.length };
  const requests = [
    {
      ...tokenRequest(signIn),
      setupRequest: (request) => {
        if (state.handedOut < pool.length) {
          const code = pool[state.handedOut];
          pool[state.handedOut] = undefined; // a code goes out once
          state.handedOut += 1;
          return { ...request, body: prefix + code };
        }
        if (state.exhaustedAfter === null) {
          state.exhaustedAfter = state.handedOut;
          onExhausted();
        }
        return { ...request, method: 'GET', path: EXHAUSTED_PATH, headers: {}, body: undefined };
      },
    },
  ];
  return { requests, state };
}

/** One refresh token per connection, each from a code exchanged for it now. */
export async function prepareRefreshTokens(baseUrl, signIn, count) {
  const { codes } = await prepareCodes(signIn, count);
  const tokens = [];
  for (const code of codes) {
    const response = await fetch(`${baseUrl}/token`, {
      ...tokenRequest(signIn),
      body: new URLSearchParams({ grant_type: 'authorization_code', redirect_uri: REDIRECT_URI, code_verifier: signIn.verifier, code }).toString(),
    });
    const body = await response.json();
    if (response.status !== 200 || typeof body.refresh_token !== 'string') throw new Error(`preparing refresh tokens: ${response.status} ${JSON.stringify(body)}`);
    tokens.push(body.refresh_token);
  }
  return tokens;
}

/**
 * autocannon requests for the refresh_token grant, as clients rotating their tokens: a shared pool
 * of unused refresh tokens; each request takes one out (it is never sent again: a second use would
 * revoke its family) and each answer puts the rotated one back. autocannon builds a connection's
 * next request before it hands over the previous answer, so the pool starts with two tokens per
 * connection. An empty pool sends the request to a path that answers 404, counted as a problem.
 */
export function refreshRequests(signIn, initial) {
  const pool = [...initial];
  const state = { sent: 0, lost: 0, empty: 0, firstRefusal: undefined };
  const requests = [
    {
      ...tokenRequest(signIn),
      setupRequest: (request) => {
        const token = pool.shift();
        if (token === undefined) {
          state.empty += 1;
          return { ...request, method: 'GET', path: EXHAUSTED_PATH, headers: {}, body: undefined };
        }
        state.sent += 1;
        return { ...request, body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}` };
      },
      onResponse: (status, body) => {
        if (status === 404) return; // the exhausted path
        try {
          const token = status === 200 ? JSON.parse(body).refresh_token : undefined;
          if (typeof token === 'string') {
            pool.push(token);
            return;
          }
        } catch {
          // counted below
        }
        state.lost += 1;
        state.firstRefusal ??= `${status} ${String(body).slice(0, 200)}`;
      },
    },
  ];
  return { requests, state };
}
