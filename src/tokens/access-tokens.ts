import { decodeProtectedHeader, jwtVerify } from 'jose';
import type { AccessTokenFormat } from '../admin-client/types.js';
import type { ServerSigningAlg } from '../config/config.js';
import { adminAudience, hasAdminScope } from '../admin/scopes.js';
import { clientUnusable } from '../client-auth/client-state.js';
import { pooledRandomBytes, randomToken } from '../crypto/random.js';
import { hashToken } from '../crypto/token-hash.js';
import type { ClientRepository, StoredClient } from '../storage/client-repository.js';
import type { ReferenceTokenRepository } from '../storage/reference-token-repository.js';
import type { RevocationRepository } from '../storage/revocation-repository.js';
import { signCompactJws } from './compact-jws.js';
import type { ServerKeys } from './server-keys.js';

export interface AccessTokenDeps {
  keys: ServerKeys;
  /** SIGNING_KEY_ALG: the algorithm of the server key access tokens are signed with. */
  signingAlg: ServerSigningAlg;
  clients: ClientRepository;
  revocations: RevocationRepository;
  references: ReferenceTokenRepository;
  issuer: string;
  audience: string;
  /** RESOURCE_INDICATORS: the resources (RFC 8707) an access token may be asked for, its aud then. */
  resourceIndicators: readonly string[];
  /** ACCESS_TOKEN_LIFETIME and ACCESS_TOKEN_FORMAT: for clients without a setting of their own. */
  lifetimeSeconds: number;
  format: AccessTokenFormat;
  now: () => number;
}

/** RFC 9068 §2.1: the media type of JWT access tokens, as `typ`. */
const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Our tokens are a few hundred bytes; anything far larger is not one of them. */
const MAX_TOKEN_LENGTH = 4096;

/** An unknown kid may be a key another instance just made: re-read keys, at most this often. */
const KEY_REFRESH_COOLDOWN_SECONDS = 5;

/** A reference token is 256 random bits, base64url: no dots, so never mistaken for a JWT. */
const REFERENCE_TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface IssuedAccessToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
}

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  client_id: string;
  exp: number;
  iat: number;
  jti: string;
  scope?: string;
  /**
   * The claims the authorization request asked for at the UserInfo endpoint (OIDC Core §5.5
   * `claims.userinfo`), by name only. This is how /userinfo learns what was asked: the token is
   * what it is shown, and both formats carry their claims (signed in a JWT, stored with a
   * reference token), so no grant table or second lookup is needed, and the request lives exactly
   * as long as the token. Names only — never values —, at most the few claims a user has, so a
   * resource server that sees the token learns nothing of the user from it.
   */
  userinfo_claims?: string[];
}

/** The lifetime and format this client's tokens get: its own settings, else the server's. */
export function tokenSettings(deps: Pick<AccessTokenDeps, 'lifetimeSeconds' | 'format'>, client: Pick<StoredClient, 'settings'>) {
  return {
    lifetimeSeconds: client.settings.accessTokenLifetime ?? deps.lifetimeSeconds,
    format: client.settings.accessTokenFormat ?? deps.format,
  };
}

/**
 * An access token for `client`: an RFC 9068 JWT that resource servers verify with /jwks, or a
 * reference token, opaque, stored only as a hash with its claims and valid through introspection.
 */
export async function issueAccessToken(
  deps: AccessTokenDeps,
  client: StoredClient,
  scope: string | undefined,
  options: { subject?: string; jti?: string; audience?: string | string[]; userinfoClaims?: readonly string[] } = {},
): Promise<IssuedAccessToken> {
  const now = deps.now();
  const { lifetimeSeconds, format } = tokenSettings(deps, client);
  const claims: AccessTokenClaims = {
    iss: deps.issuer,
    // the user for tokens of a user's authorization; the client itself for client_credentials
    sub: options.subject ?? client.clientId,
    // the resources asked for (RFC 8707); else the admin API for admin scopes, or ACCESS_TOKEN_AUDIENCE
    aud: options.audience ?? (hasAdminScope(scope) ? adminAudience(deps.issuer) : deps.audience),
    client_id: client.clientId,
    iat: now,
    exp: now + lifetimeSeconds,
    jti: options.jti ?? newJti(),
    ...(scope !== undefined ? { scope } : {}),
    ...(options.userinfoClaims !== undefined && options.userinfoClaims.length > 0 ? { userinfo_claims: [...options.userinfoClaims] } : {}),
  };
  let token: string;
  if (format === 'reference') {
    token = randomToken(256);
    await deps.references.insert(hashToken(token), client.clientId, claims as unknown as Record<string, unknown>, claims.exp);
  } else {
    const signing = deps.keys.signingKey(deps.signingAlg);
    token = signCompactJws({ alg: signing.alg, kid: signing.kid, typ: ACCESS_TOKEN_TYPE }, claims, signing.key);
  }
  return { access_token: token, token_type: 'Bearer', expires_in: lifetimeSeconds, ...(scope !== undefined ? { scope } : {}) };
}

/** A token id: 128 random bits. */
export const newJti = (): string => pooledRandomBytes(16).toString('base64url');

/** Our own JWT access token, verified: signed by a published server key, typ at+jwt, unexpired, unrevoked. */
async function verifiedJwt(deps: AccessTokenDeps, token: string): Promise<AccessTokenClaims | undefined> {
  if (token.split('.').length !== 3) return undefined;
  let kid: unknown;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    return undefined;
  }
  if (typeof kid !== 'string') return undefined;
  let key = deps.keys.verificationKey(kid);
  if (!key && deps.keys.age() >= KEY_REFRESH_COOLDOWN_SECONDS) {
    await deps.keys.refresh();
    key = deps.keys.verificationKey(kid);
  }
  if (!key) return undefined;
  let claims: AccessTokenClaims;
  try {
    const { payload } = await jwtVerify(token, key.key, {
      algorithms: [key.alg],
      issuer: deps.issuer,
      typ: ACCESS_TOKEN_TYPE,
      currentDate: new Date(deps.now() * 1000),
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
    });
    claims = payload as unknown as AccessTokenClaims;
  } catch {
    return undefined;
  }
  return (await deps.revocations.isRevoked(claims.jti)) ? undefined : claims;
}

/** What a presented token is: one of ours and its claims, or nothing we issued. */
type Verified = { kind: 'jwt' | 'reference'; claims: AccessTokenClaims } | undefined;

async function verified(deps: AccessTokenDeps, token: string): Promise<Verified> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  if (REFERENCE_TOKEN.test(token)) {
    const claims = (await deps.references.find(hashToken(token), deps.now())) as unknown as AccessTokenClaims | undefined;
    // a replayed authorization code revokes by jti whatever the format
    if (!claims || (await deps.revocations.isRevoked(claims.jti))) return undefined;
    return { kind: 'reference', claims };
  }
  const claims = await verifiedJwt(deps, token);
  return claims && { kind: 'jwt', claims };
}

/**
 * A bearer token presented to this server's own resources (the admin API): ours, unexpired,
 * unrevoked, and its client still exists and is neither disabled nor expired. With the client,
 * whose settings (admin) the caller checks.
 */
export async function verifyAccessToken(deps: AccessTokenDeps, token: string): Promise<{ claims: AccessTokenClaims; client: StoredClient } | undefined> {
  const found = await verified(deps, token);
  if (!found) return undefined;
  const client = await deps.clients.findById(found.claims.client_id);
  if (!client || clientUnusable(client, deps.now()) !== undefined) return undefined;
  return { claims: found.claims, client };
}

/**
 * RFC 7662 §2.2. A client sees its own tokens; a client an operator made a resource server sees
 * every token (that is how it checks reference tokens). Any other token is simply inactive.
 */
export async function introspectAccessToken(
  deps: AccessTokenDeps,
  token: string,
  caller: Pick<StoredClient, 'clientId' | 'settings'>,
): Promise<({ active: true; token_type: 'Bearer' } & AccessTokenClaims) | { active: false }> {
  const found = await verifyAccessToken(deps, token);
  if (!found || (found.claims.client_id !== caller.clientId && !caller.settings.resourceServer)) return { active: false };
  return { active: true, token_type: 'Bearer', ...found.claims };
}

/**
 * RFC 7009 §2: revokes a token the caller owns, durably until it would have expired. Unknown,
 * invalid and other clients' tokens change nothing, and the answer is the same 200 for all.
 * Returns whether the token is a valid access token of ours (whoever holds it).
 */
export async function revokeAccessToken(deps: AccessTokenDeps, token: string, callerClientId: string): Promise<boolean> {
  const found = await verified(deps, token);
  if (!found) return false;
  if (found.claims.client_id !== callerClientId) return true;
  if (found.kind === 'reference') await deps.references.delete(hashToken(token), callerClientId);
  else await deps.revocations.revoke(found.claims.jti, found.claims.client_id, found.claims.exp);
  return true;
}
