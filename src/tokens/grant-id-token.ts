import type { ServerSigningAlg } from '../config/config.js';
import { achievedAcr } from '../protocol/acr.js';
import type { ClaimsRequest } from '../protocol/claims-request.js';
import type { StoredClient } from '../storage/client-repository.js';
import type { StoredUser } from '../storage/user-repository.js';
import type { AccessTokenDeps } from './access-tokens.js';
import { signIdToken } from './id-token.js';
import { idTokenClaimsRequested } from './requested-claims.js';

/** The sign-in behind a grant, which its ID tokens describe: a code's, carried on by its refresh tokens. */
export interface SignInOfGrant {
  userId: string;
  authTime: number;
  /** max_age was sent or the client registered require_auth_time: auth_time goes in (OIDC Core §2). */
  authTimeRequired: boolean;
  amr: readonly string[];
  sid: string;
  /** The authorization request's nonce; null for a refresh (OIDC Core §12.2: no nonce then). */
  nonce: string | null;
  /** The authorization request's claims parameter (OIDC Core §5.5): what the ID token adds. */
  claims?: ClaimsRequest;
}

/**
 * The ID token of a token response (OIDC Core §3.1.3.3, §12.2): the same sub, auth_time, acr, amr
 * and sid for the code exchange and every refresh after it, the claims the request asked for in
 * `id_token` as the user has them now, a new iat and exp, at_hash of the access token it comes
 * with, signed with the client's id_token_signed_response_alg. `subject` is the sub the client
 * knows the user by (public or pairwise), the same as in the access token.
 */
export function idTokenFor(
  tokens: Pick<AccessTokenDeps, 'keys' | 'issuer'>,
  client: StoredClient,
  signIn: SignInOfGrant,
  user: StoredUser,
  subject: string,
  accessToken: string,
  now: number,
): string {
  const requested = idTokenClaimsRequested(user, signIn.claims);
  const acr = achievedAcr(signIn.amr);
  return signIdToken(tokens.keys, {
    issuer: tokens.issuer,
    subject,
    clientId: client.clientId,
    alg: ((client.metadata.id_token_signed_response_alg as string | undefined) ?? 'RS256') as ServerSigningAlg,
    authTime: signIn.authTime,
    includeAuthTime: signIn.authTimeRequired || requested.authTime,
    nonce: signIn.nonce,
    ...(acr !== undefined ? { acr } : {}),
    amr: signIn.amr,
    sid: signIn.sid,
    accessToken,
    userClaims: requested.userClaims,
    now,
  });
}
