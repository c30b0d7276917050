// node-oidc-provider (9.x) as the bench's peer, bench-only (never imported by src/).
//
//   PEER_PORT=4000 PEER_MODE=memory|postgres [PEER_DATABASE_URL=postgres://...] node bench/peer/oidc-provider-server.mjs
//
// Configured as close to ours as it allows, so the comparison is about the implementations:
// - open dynamic registration (no initial access token) on /register, RFC 7592 management on
//   /register/{id} with the registration access token kept on reads and updates (ours' default);
// - the client_credentials grant on /token, clients authenticating with private_key_jwt or
//   client_secret_jwt (and the secret methods), ES256 / HS256 among the assertion algorithms; the
//   issuer is an accepted assertion audience (9.x: issuer, token endpoint URL or endpoint URL);
// - access tokens for client_credentials are JWTs signed ES256 with aud = the issuer and a 300 s
//   lifetime, nothing stored: the provider only does this through a resource server, so every
//   client_credentials request is given one by default (features.resourceIndicators.defaultResource),
//   the client sends no `resource` parameter, exactly as it does with ours;
// - jti replay detection goes through the adapter (the ReplayDetection model): in memory mode that
//   is the provider's default in-memory LRU (lost on restart and bounded to the last ~1000-2000
//   entries of all models); in postgres mode it is durable (postgres-adapter.mjs).
// The bench polls its discovery document until it answers; it closes its pool on SIGTERM.

import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { createPostgresAdapter } from './postgres-adapter.mjs';

const port = Number(process.env.PEER_PORT);
const mode = process.env.PEER_MODE ?? 'memory';
if (!Number.isInteger(port) || port < 1) throw new Error('PEER_PORT must be a port number');
if (mode !== 'memory' && mode !== 'postgres') throw new Error(`PEER_MODE must be memory or postgres, got "${mode}"`);

const issuer = `http://127.0.0.1:${port}`;
/** The resource server every client_credentials token is for: it makes the provider issue a JWT. */
const DEFAULT_RESOURCE = `${issuer}/api`;
/** Ours: ACCESS_TOKEN_LIFETIME default. */
const ACCESS_TOKEN_SECONDS = 300;

function signingJwk(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `peer-${alg.toLowerCase()}` };
}

let database = null;
if (mode === 'postgres') {
  if (!process.env.PEER_DATABASE_URL) throw new Error('PEER_MODE=postgres needs PEER_DATABASE_URL');
  database = await createPostgresAdapter(process.env.PEER_DATABASE_URL);
}

const provider = new Provider(issuer, {
  ...(database ? { adapter: database.PostgresAdapter } : {}),
  // ES256 first: the key access tokens are signed with; RS256 for the ID token default (RS256)
  jwks: { keys: [signingJwk('ec', { namedCurve: 'P-256' }, 'ES256'), signingJwk('rsa', { modulusLength: 2048 }, 'RS256')] },
  routes: { registration: '/register', token: '/token', jwks: '/jwks' },
  clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'Ed25519', 'EdDSA'],
  },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true, initialAccessToken: false },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf ?? DEFAULT_RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: issuer,
        accessTokenTTL: ACCESS_TOKEN_SECONDS,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  ttl: { ClientCredentials: ACCESS_TOKEN_SECONDS },
  // its own defaults would otherwise warn about missing cookie keys at every start
  cookies: { keys: ['bench-only-cookie-key-not-secret'] },
});

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1');
await once(server, 'listening');

process.once('SIGTERM', () => {
  server.close(async () => {
    await database?.close();
    process.exit(0);
  });
  server.closeAllConnections();
});
