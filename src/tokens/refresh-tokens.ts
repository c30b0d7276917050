import { randomToken } from '../crypto/random.js';
import { hashToken } from '../crypto/token-hash.js';
import type { StoredClient } from '../storage/client-repository.js';
import type { FoundRefreshToken, IssuedRefreshToken, RefreshTokenFamily, RefreshTokenRepository } from '../storage/refresh-token-repository.js';
import { newJti, type AccessTokenDeps } from './access-tokens.js';
import type { SignInOfGrant } from './grant-id-token.js';
import { subjectOf, type SubjectDeps } from '../users/subjects.js';

/**
 * Refresh tokens (RFC 6749 §6, OpenID Connect Core §11, RFC 9700 §4.14): 256 random bits, stored
 * only as SHA-256, in families. A family is one authorization (a code exchange); each refresh uses
 * its token up and answers with the next one (rotation, for public and confidential clients
 * alike), and a used token presented again revokes the family. A family ends REFRESH_TOKEN_MAX_AGE
 * after the sign-in; each token REFRESH_TOKEN_LIFETIME after it was issued.
 */
export interface RefreshTokenStore {
  repository: RefreshTokenRepository;
  /** REFRESH_TOKEN_LIFETIME: a token unused this long stops working. */
  idleSeconds: number;
  /** REFRESH_TOKEN_MAX_AGE: a family stops working this long after the sign-in. */
  maxAgeSeconds: number;
}

/** What a refresh token looks like: 256 bits, base64url. Anything else is not one of ours. */
export const REFRESH_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Whether a code exchange comes with a refresh token: the client registered the refresh_token
 * grant, and the scope granted holds offline_access (OIDC Core §11, consented to on the consent
 * page like every scope) — or the request is plain OAuth (no openid): offline_access is an OpenID
 * Connect notion, and OAuth clients (MCP hosts) ask for refresh tokens by registering the grant.
 * An OpenID Connect request without offline_access gets none.
 */
export function issuesRefreshToken(client: Pick<StoredClient, 'metadata'>, scope: readonly string[]): boolean {
  if (!((client.metadata.grant_types as string[] | undefined) ?? []).includes('refresh_token')) return false;
  return scope.includes('offline_access') || !scope.includes('openid');
}

/** A new refresh token of a family: the token (given to the client, never stored) and its row. */
export function newRefreshToken(
  store: Pick<RefreshTokenStore, 'idleSeconds'>,
  familyExpiresAt: number,
  accessToken: { jti: string; expiresAt: number },
  now: number,
): { token: string; issued: IssuedRefreshToken } {
  const token = randomToken(256);
  return {
    token,
    issued: {
      tokenHash: hashToken(token),
      createdAt: now,
      expiresAt: Math.min(now + store.idleSeconds, familyExpiresAt),
      accessTokenJti: accessToken.jti,
      accessTokenExpiresAt: accessToken.expiresAt,
    },
  };
}

/**
 * Starts the family of a code exchange, with its first token, and returns that token; undefined
 * when the sign-in is already older than REFRESH_TOKEN_MAX_AGE (the family would be born dead).
 * `codeHash` ties the family to the code, so that a replay of the code revokes it.
 */
export async function startRefreshFamily(
  store: RefreshTokenStore,
  grant: SignInOfGrant & { clientId: string; scope: string; resources: readonly string[]; codeHash: Buffer },
  accessToken: { jti: string; expiresAt: number },
  now: number,
): Promise<string | undefined> {
  const expiresAt = grant.authTime + store.maxAgeSeconds;
  if (expiresAt <= now) return undefined;
  const family: Omit<RefreshTokenFamily, 'revokedAt'> = {
    id: newJti(),
    clientId: grant.clientId,
    userId: grant.userId,
    scope: grant.scope,
    resources: grant.resources,
    sid: grant.sid,
    authTime: grant.authTime,
    amr: grant.amr,
    authTimeRequired: grant.authTimeRequired,
    ...(grant.claims !== undefined ? { claims: grant.claims } : {}),
    codeHash: grant.codeHash,
    createdAt: now,
    expiresAt,
  };
  const { token, issued } = newRefreshToken(store, expiresAt, accessToken, now);
  await store.repository.createFamily(family, issued);
  return token;
}

/** Why a found refresh token cannot be used now, or undefined when it can (its client aside). */
export function refreshTokenUnusable(found: FoundRefreshToken, now: number): 'used' | 'revoked' | 'expired' | undefined {
  if (found.family.revokedAt !== null) return 'revoked';
  if (found.usedAt !== null) return 'used';
  if (now >= found.expiresAt || now >= found.family.expiresAt) return 'expired';
  return undefined;
}

/** The refresh token presented, when it is one of ours (in any state); undefined otherwise. */
export async function findRefreshToken(store: Pick<RefreshTokenStore, 'repository'>, token: string): Promise<FoundRefreshToken | undefined> {
  if (!REFRESH_TOKEN.test(token)) return undefined;
  return store.repository.find(hashToken(token));
}

export interface RefreshTokenIntrospection {
  active: true;
  token_type: 'refresh_token';
  iss: string;
  client_id: string;
  sub: string;
  scope: string;
  exp: number;
  iat: number;
}

/**
 * RFC 7662 §2.2 for a refresh token: undefined when the token is not a refresh token of ours (the
 * caller goes on to access tokens); inactive unless the caller is the client it was issued to
 * (refresh tokens are for their client alone, not resource servers) and it could be used now,
 * its user still able to sign in.
 */
export async function introspectRefreshToken(
  deps: { refresh: RefreshTokenStore; tokens: Pick<AccessTokenDeps, 'issuer' | 'now'>; findUser: (id: string) => Promise<{ disabled: boolean } | undefined>; subjects: Pick<SubjectDeps, 'salt'> },
  token: string,
  caller: Pick<StoredClient, 'clientId' | 'metadata'>,
): Promise<RefreshTokenIntrospection | { active: false } | undefined> {
  const found = await findRefreshToken(deps.refresh, token);
  if (!found) return undefined;
  if (found.family.clientId !== caller.clientId || refreshTokenUnusable(found, deps.tokens.now()) !== undefined) return { active: false };
  const user = await deps.findUser(found.family.userId);
  if (!user || user.disabled) return { active: false };
  return {
    active: true,
    token_type: 'refresh_token',
    iss: deps.tokens.issuer,
    client_id: found.family.clientId,
    // the sub the client knows the user by, as in its ID and access tokens (pairwise or public)
    sub: subjectOf(deps.subjects.salt, caller, found.family.userId),
    scope: found.family.scope,
    exp: Math.min(found.expiresAt, found.family.expiresAt),
    iat: found.createdAt,
  };
}

/**
 * RFC 7009 §2.1 for a refresh token: the caller's own is revoked with its whole family and the
 * access tokens the family issued ("all tokens based on the same authorization grant"). Returns
 * false when the token is not a refresh token of ours (the caller goes on to access tokens);
 * another client's token changes nothing.
 */
export async function revokeRefreshToken(store: RefreshTokenStore, token: string, callerClientId: string, now: number): Promise<boolean> {
  const found = await findRefreshToken(store, token);
  if (!found) return false;
  if (found.family.clientId === callerClientId) await store.repository.revokeFamily(found.family.id, now);
  return true;
}
