// The workloads of the issue-10 comparison, written against any target that speaks the same HTTP
// interface: ours, node-oidc-provider (either mode) and, for the static documents, the ceilings.
// A workload's prepare(target, settings) does the untimed set-up on that target (clients to read,
// a client to authenticate as and its signed assertions) and returns what the timed run needs.
// Every answer is checked: its status, and for registration and tokens that the body holds what a
// real success holds, so a target cannot look fast by failing quickly.

import { stopRunning, round } from './load.mjs';
import { es256KeyPair, registerClient, signAssertions, tokenRequests } from './token-load.mjs';

export const DISCOVERY_PATH = '/.well-known/openid-configuration';
export const JWKS_PATH = '/jwks';

/** What the register workload sends, and what the read workload's clients were registered with. */
const REGISTER_METADATA = {
  redirect_uris: ['https://rp.example/cb'],
  client_name: 'bench',
  token_endpoint_auth_method: 'client_secret_basic',
};
const REGISTER_BODY = JSON.stringify(REGISTER_METADATA);

/** Clients the read workload walks through when the suite gives it none of its own. */
export const READ_CLIENTS = 100;

/** Registers `count` clients; returns the path and Authorization header to read each back with. */
export async function registerReadClients(baseUrl, count, concurrency = 8) {
  const clients = [];
  const one = async () => {
    const body = await registerClient(baseUrl, REGISTER_METADATA);
    if (typeof body.registration_access_token !== 'string') throw new Error(`POST /register at ${baseUrl} returned no registration_access_token`);
    clients.push({ path: new URL(body.registration_client_uri).pathname, authorization: `Bearer ${body.registration_access_token}` });
  };
  for (let done = 0; done < count; done += concurrency) {
    await Promise.all(Array.from({ length: Math.min(concurrency, count - done) }, one));
  }
  return clients;
}

/**
 * An autocannon request list that counts 2xx answers whose body lacks `mustContain` (the
 * `requests` list of autocannon sends the same request over and over, `setupRequest` varies it).
 */
function checkedRequests(request, mustContain, state) {
  return [
    {
      ...request,
      onResponse: (status, body) => {
        if (status >= 200 && status < 300 && !String(body).includes(mustContain)) state.hollow += 1;
      },
    },
  ];
}

function hollowProblem(state, what) {
  return state.hollow === 0 ? [] : [`${state.hollow} successful answers without ${what}`];
}

function staticDocument(key, name, path) {
  return {
    key,
    name,
    expectedStatus: 200,
    static: true,
    prepare: () => ({ path, options: { method: 'GET' } }),
  };
}

const register = {
  key: 'register',
  name: 'POST /register',
  expectedStatus: 201,
  prepare() {
    const state = { hollow: 0 };
    return {
      path: '/register',
      options: {
        requests: checkedRequests({ method: 'POST', headers: { 'content-type': 'application/json' }, body: REGISTER_BODY }, '"registration_access_token"', state),
      },
      problems: () => hollowProblem(state, 'a registration_access_token'),
    };
  },
};

const read = {
  key: 'read',
  name: 'GET /register/{id} (RFC 7592)',
  expectedStatus: 200,
  async prepare(target) {
    // registered just before the run: the in-memory peer keeps only its last ~1000-2000 entries
    // of any kind, so clients registered before a register run would be gone by now
    const clients = target.readClients ?? (await registerReadClients(target.url, READ_CLIENTS));
    let next = 0;
    const state = { hollow: 0 };
    return {
      path: '/register',
      options: {
        // setupRequest runs for every request: the connections walk through all the clients
        // instead of reading one hot row
        requests: checkedRequests(
          {
            method: 'GET',
            setupRequest: (request) => {
              const client = clients[next++ % clients.length];
              return { ...request, path: client.path, headers: { ...request.headers, authorization: client.authorization } };
            },
          },
          '"client_id"',
          state,
        ),
      },
      problems: () => hollowProblem(state, 'a client_id'),
      details: () => ({ clientsRead: clients.length }),
    };
  },
};

/** Registers the client a token run authenticates as, on `baseUrl`. */
export async function registerTokenClient(baseUrl, alg) {
  const common = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };
  if (alg === 'ES256') {
    const keys = es256KeyPair();
    const body = await registerClient(baseUrl, { ...common, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [keys.publicJwk] } });
    return { clientId: body.client_id, alg, key: keys.privateKey, kid: keys.kid };
  }
  const body = await registerClient(baseUrl, { ...common, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS256' });
  if (typeof body.client_secret !== 'string') throw new Error(`POST /register (client_secret_jwt) at ${baseUrl} returned no client_secret`);
  return { clientId: body.client_id, alg, key: Buffer.from(body.client_secret, 'utf8') };
}

/**
 * POST /token, client_credentials, a fresh assertion per request (token-load.mjs): a client
 * registered for this run, and a pool of assertions addressed to the target's issuer, signed just
 * before the run. An empty pool stops the run and fails it rather than reuse an assertion.
 */
function token(key, name, alg) {
  return {
    key,
    name,
    expectedStatus: 200,
    async prepare(target, settings) {
      const client = await registerTokenClient(target.url, alg);
      const count = Math.ceil(settings.duration * settings.assertionRate);
      const pool = signAssertions({ count, clientId: client.clientId, audience: target.issuer, alg, key: client.key, kid: client.kid });
      const { requests, state } = tokenRequests(pool.assertions, () => {
        console.error(`  assertion pool of ${count} exhausted: stopping the run (raise BENCH_ASSERTION_RATE)`);
        stopRunning();
      });
      const answers = { hollow: 0 };
      return {
        path: '/token',
        options: { requests: checkedRequests(requests[0], '"access_token"', answers) },
        problems: () => [
          ...hollowProblem(answers, 'an access_token'),
          ...(state.exhaustedAfter === null ? [] : [`assertion pool of ${state.poolSize} exhausted; run stopped early (raise BENCH_ASSERTION_RATE)`]),
        ],
        details: () => ({ assertionPool: state.poolSize, assertionsUsed: state.handedOut, poolSigningSeconds: round(pool.signingSeconds, 2) }),
      };
    },
  };
}

export const WORKLOADS = [
  staticDocument('discovery', 'GET discovery', DISCOVERY_PATH),
  staticDocument('jwks', 'GET /jwks', JWKS_PATH),
  register,
  read,
  token('token-pkjwt', 'POST /token private_key_jwt ES256', 'ES256'),
  token('token-csjwt', 'POST /token client_secret_jwt HS256', 'HS256'),
];

export function workload(key) {
  const found = WORKLOADS.find((w) => w.key === key);
  if (!found) throw new Error(`unknown workload ${key}`);
  return found;
}
