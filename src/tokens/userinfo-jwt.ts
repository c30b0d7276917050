import type { ServerSigningAlg } from '../config/config.js';
import type { StoredClient } from '../storage/client-repository.js';
import { signCompactJws } from './compact-jws.js';
import { encryptResponse, responseEncryption, type ResponseEncryptionDeps } from './response-encryption.js';
import type { ServerKeys } from './server-keys.js';

export interface UserInfoJwtDeps {
  keys: Pick<ServerKeys, 'signingKey'>;
  issuer: string;
  encryption: ResponseEncryptionDeps;
}

/**
 * OIDC Core §5.3.2: the UserInfo response as the client registered it — undefined for plain JSON,
 * else a JWT (`application/jwt`): signed with the server key of `userinfo_signed_response_alg`
 * (registration only takes algorithms the server holds keys for), with `iss` and `aud` added;
 * encrypted to the client with `userinfo_encrypted_response_alg`/`enc`, around the signed JWT
 * (nested) or around the claims themselves when the client asked for encryption only.
 */
export async function userInfoJwt(deps: UserInfoJwtDeps, client: StoredClient, claims: Readonly<Record<string, unknown>>): Promise<string | undefined> {
  const signingAlg = client.metadata.userinfo_signed_response_alg as ServerSigningAlg | undefined;
  // the key first: a client whose key cannot be had gets its error before anything is signed
  const encryption = await responseEncryption(deps.encryption, client, 'userinfo');
  if (signingAlg === undefined && encryption === undefined) return undefined;
  const claimsSet = { ...claims, iss: deps.issuer, aud: client.clientId };
  if (signingAlg === undefined) return encryptResponse(encryption!, JSON.stringify(claimsSet), false);
  const signing = deps.keys.signingKey(signingAlg);
  const signed = signCompactJws({ alg: signing.alg, kid: signing.kid, typ: 'JWT' }, claimsSet, signing.key);
  return encryption ? encryptResponse(encryption, signed, true) : signed;
}
