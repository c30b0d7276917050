import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { signCompactJws } from './compact-jws.js';
import type { ClientRepository } from '../storage/client-repository.js';
import type { RevocationRepository } from '../storage/revocation-repository.js';
import type { ServerKeys } from './server-keys.js';

export interface AccessTokenDeps {
  keys: ServerKeys;
  clients: ClientRepository;
  revocations: RevocationRepository;
  issuer: string;
  audience: string;
  lifetimeSeconds: number;
  now: () => number;
}

/** RFC 9068 §2.1: the media type of JWT access tokens, as `typ`. */
const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Our tokens are a few hundred bytes; anything far larger is not one of them. */
const MAX_TOKEN_LENGTH = 4096;

/** An unknown kid may be a key another instance just made: re-read keys, at most this often. */
const KEY_REFRESH_COOLDOWN_SECONDS = 5;

export interface IssuedAccessToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
}

export async function issueAccessToken(deps: AccessTokenDeps, clientId: string, scope: string | undefined): Promise<IssuedAccessToken> {
  const now = deps.now();
  const signing = deps.keys.signingKey();
  const claims: AccessTokenClaims = {
    iss: deps.issuer,
    sub: clientId,
    aud: deps.audience,
    client_id: clientId,
    iat: now,
    exp: now + deps.lifetimeSeconds,
    jti: randomBytes(16).toString('base64url'),
    ...(scope !== undefined ? { scope } : {}),
  };
  const token = signCompactJws({ alg: signing.alg, kid: signing.kid, typ: ACCESS_TOKEN_TYPE }, claims, signing.key);
  return { access_token: token, token_type: 'Bearer', expires_in: deps.lifetimeSeconds, ...(scope !== undefined ? { scope } : {}) };
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
}

/**
 * Our own access token, verified: signed by a published server key, typ at+jwt, not expired,
 * not revoked. Anything else, including a well-formed token we did not issue, is undefined.
 */
async function verifiedToken(deps: AccessTokenDeps, token: string): Promise<AccessTokenClaims | undefined> {
  if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3) return undefined;
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
  try {
    const { payload } = await jwtVerify(token, key.key, {
      algorithms: [key.alg],
      issuer: deps.issuer,
      typ: ACCESS_TOKEN_TYPE,
      currentDate: new Date(deps.now() * 1000),
      requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
    });
    const claims = payload as unknown as AccessTokenClaims;
    if (await deps.revocations.isRevoked(claims.jti)) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

/** RFC 7662 §2.2. A client sees only its own tokens; every other token is simply inactive. */
export async function introspectAccessToken(
  deps: AccessTokenDeps,
  token: string,
  callerClientId: string,
): Promise<({ active: true; token_type: 'Bearer' } & AccessTokenClaims) | { active: false }> {
  const claims = await verifiedToken(deps, token);
  if (!claims || claims.client_id !== callerClientId) return { active: false };
  // the caller has just authenticated, but a token may outlive its client: check it still exists
  if (!(await deps.clients.findById(claims.client_id))) return { active: false };
  return { active: true, token_type: 'Bearer', ...claims };
}

/**
 * RFC 7009 §2: revokes a token the caller owns, durably until it would have expired. Unknown,
 * invalid and other clients' tokens change nothing, and the answer is the same 200 for all.
 */
export async function revokeAccessToken(deps: AccessTokenDeps, token: string, callerClientId: string): Promise<void> {
  const claims = await verifiedToken(deps, token);
  if (!claims || claims.client_id !== callerClientId) return;
  await deps.revocations.revoke(claims.jti, claims.client_id, claims.exp);
}
