import { createHash } from 'node:crypto';
import type { ServerSigningAlg } from '../config/config.js';
import { signCompactJws } from './compact-jws.js';
import type { ServerKeys } from './server-keys.js';

/** ID tokens are read once, at sign-in; an hour covers any clock a relying party runs on. */
export const ID_TOKEN_LIFETIME_SECONDS = 3600;

/** OIDC Core §3.1.3.6: the hash of the alg's JWS (SHA-512 for Ed25519). */
const HASH_OF: Record<ServerSigningAlg, string> = { ES256: 'sha256', RS256: 'sha256', PS256: 'sha256', EdDSA: 'sha512' };

/** at_hash: the left half of the hash of the access token, base64url (OIDC Core §3.1.3.6). */
export function accessTokenHash(accessToken: string, alg: ServerSigningAlg): string {
  const digest = createHash(HASH_OF[alg]).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export interface IdTokenContent {
  issuer: string;
  subject: string;
  clientId: string;
  /** The client's id_token_signed_response_alg (registration defaults it to RS256). */
  alg: ServerSigningAlg;
  authTime: number;
  /** max_age was sent or the client registered require_auth_time (OIDC Core §2). */
  includeAuthTime: boolean;
  nonce: string | null;
  /** The Authentication Context Class the sign-in achieved (src/protocol/acr.ts). */
  acr?: string;
  amr: readonly string[];
  sid: string;
  accessToken: string;
  /** The user's claims the request asked for in the ID token (OIDC Core §5.5 `claims.id_token`). */
  userClaims?: Readonly<Record<string, unknown>>;
  now: number;
}

/** An ID token (OIDC Core §2), signed with the server's current key of the client's algorithm. */
export function signIdToken(keys: Pick<ServerKeys, 'signingKey'>, content: IdTokenContent): string {
  const signing = keys.signingKey(content.alg);
  const claims = {
    // first, so that no user claim could ever stand in for a protocol one
    ...content.userClaims,
    iss: content.issuer,
    sub: content.subject,
    aud: content.clientId,
    exp: content.now + ID_TOKEN_LIFETIME_SECONDS,
    iat: content.now,
    ...(content.includeAuthTime ? { auth_time: content.authTime } : {}),
    ...(content.nonce !== null ? { nonce: content.nonce } : {}),
    ...(content.acr !== undefined ? { acr: content.acr } : {}),
    amr: [...content.amr],
    sid: content.sid,
    at_hash: accessTokenHash(content.accessToken, content.alg),
  };
  return signCompactJws({ alg: signing.alg, kid: signing.kid, typ: 'JWT' }, claims, signing.key);
}
