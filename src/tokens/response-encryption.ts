import { createHash } from 'node:crypto';
import { CompactEncrypt, errors, importJWK, type CryptoKey, type JWK } from 'jose';
import type { ClientKeys } from '../client-auth/client-keys.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { OAuthError } from '../http/oauth-error.js';
import { OutboundError } from '../outbound/fetch-json.js';
import { DEFAULT_CONTENT_ENCRYPTION_ALG, isSymmetricKeyManagementAlg } from '../protocol/algorithms.js';
import { encryptionKeys } from '../registration/client-jwks.js';
import type { StoredClient } from '../storage/client-repository.js';

export interface ResponseEncryptionDeps {
  clientKeys: Pick<ClientKeys, 'publicJwks'>;
  secrets: Pick<SecretBox, 'open'>;
  /** Seconds since the epoch. */
  now: () => number;
}

/** The responses a client may ask to have encrypted to it, with the metadata that says how (OIDC Registration §2). */
const ENCRYPTED_RESPONSES = {
  id_token: { alg: 'id_token_encrypted_response_alg', enc: 'id_token_encrypted_response_enc', what: 'the ID token' },
  userinfo: { alg: 'userinfo_encrypted_response_alg', enc: 'userinfo_encrypted_response_enc', what: 'the UserInfo response' },
} as const;
export type EncryptedResponse = keyof typeof ENCRYPTED_RESPONSES;

/** How to encrypt one response to one client: the registered algorithms and the key they need. */
export interface ResponseEncryption {
  alg: string;
  enc: string;
  key: CryptoKey | Uint8Array;
  /** The kid of the client's key, when it has one: the client finds its private key by it. */
  kid?: string;
}

/** Key sizes in bits of the symmetric algorithms (RFC 7518 §4.4, §5.2, §5.3). */
const KEY_BITS: Readonly<Record<string, number>> = {
  A128KW: 128, A192KW: 192, A256KW: 256,
  'A128CBC-HS256': 256, 'A192CBC-HS384': 384, 'A256CBC-HS512': 512,
  A128GCM: 128, A192GCM: 192, A256GCM: 256,
};

/**
 * OIDC Core §10.2: the symmetric key is the left-most bits of a SHA-2 hash of the UTF-8 octets of
 * the client_secret — SHA-256 for keys of up to 256 bits, SHA-384 up to 384, SHA-512 up to 512.
 * With `dir` the key is the content encryption key, so its size is the `enc`'s.
 */
export function keyFromClientSecret(secret: string, alg: string, enc: string): Uint8Array {
  const bits = KEY_BITS[alg === 'dir' ? enc : alg];
  if (bits === undefined) throw new Error(`no symmetric key size for ${alg} ${enc}`);
  const hash = bits <= 256 ? 'sha256' : bits <= 384 ? 'sha384' : 'sha512';
  return new Uint8Array(createHash(hash).update(secret, 'utf8').digest().subarray(0, bits / 8));
}

/**
 * The response cannot be encrypted as the client registered, for a reason on the client's side
 * (its jwks_uri is down, its keys changed, its secret expired). RFC 6749 §5.2 and RFC 6750 §3.1
 * leave no closer code than invalid_request, a 400: the client authenticated (not invalid_client),
 * its code or token is sound (not invalid_grant / invalid_token), and the fault is not the
 * server's (not server_error, a 5xx, which no token endpoint client is told to expect).
 * node-oidc-provider answers invalid_client_metadata here, a code RFC 7591 defines for the
 * registration endpoint only. The description says what to fix; the log says which client.
 */
function encryptionUnavailable(client: StoredClient, response: EncryptedResponse, why: string): OAuthError {
  const description = `${ENCRYPTED_RESPONSES[response].what} cannot be encrypted to this client: ${why}`;
  return new OAuthError('invalid_request', description, {}, `client ${client.clientId}: ${description}`);
}

/** Only the public key's own members: `key_ops` or `ext` from the client must not veto the import. */
function keyMaterial(jwk: Record<string, unknown>): JWK {
  const material: Record<string, unknown> = {};
  for (const member of ['kty', 'crv', 'n', 'e', 'x', 'y']) if (jwk[member] !== undefined) material[member] = jwk[member];
  return material as JWK;
}

async function clientPublicKey(deps: ResponseEncryptionDeps, client: StoredClient, response: EncryptedResponse, alg: string): Promise<{ key: CryptoKey; kid?: string }> {
  let keys;
  try {
    keys = await deps.clientKeys.publicJwks(client);
    if (keys === undefined) throw encryptionUnavailable(client, response, 'it registered neither jwks nor jwks_uri');
    // a jwks_uri may since have gained the key (within the refetch cool-down)
    let [jwk] = encryptionKeys(keys.keys, alg);
    if (jwk === undefined) [jwk] = encryptionKeys((await keys.refetch()) ?? { keys: [] }, alg);
    if (jwk === undefined) {
      const source = client.metadata.jwks !== undefined ? 'jwks' : 'jwks_uri';
      throw encryptionUnavailable(client, response, `its ${source} holds no key for ${alg} (use enc or none, ${alg.startsWith('ECDH-ES') ? 'kty EC or OKP X25519' : 'kty RSA'})`);
    }
    const key = (await importJWK(keyMaterial(jwk), alg)) as CryptoKey;
    return typeof jwk.kid === 'string' ? { key, kid: jwk.kid } : { key };
  } catch (error) {
    if (error instanceof OutboundError) throw encryptionUnavailable(client, response, `its jwks_uri could not be used (${error.message})`);
    if (error instanceof errors.JOSEError) throw encryptionUnavailable(client, response, `its ${alg} key does not import (${error.code})`);
    throw error;
  }
}

function clientSecretKey(deps: ResponseEncryptionDeps, client: StoredClient, response: EncryptedResponse, alg: string, enc: string): Uint8Array {
  if (client.secretCiphertext === null) throw encryptionUnavailable(client, response, `${alg} is keyed from the client_secret, and the client has none`);
  if (client.secretExpiresAt !== 0 && client.secretExpiresAt <= deps.now()) {
    throw encryptionUnavailable(client, response, `${alg} is keyed from the client_secret, which has expired`);
  }
  // the current secret: after a rotation the client holds the new one (its grace period is for authenticating)
  return keyFromClientSecret(deps.secrets.open(client.secretCiphertext, client.clientId), alg, enc);
}

/**
 * How `response` is to be encrypted to `client`, with the key resolved now — or undefined when
 * the client registered no encryption for it. Asymmetric algorithms encrypt to a key of the
 * client's jwks or jwks_uri; A*KW and dir to a key derived from its client_secret.
 */
export async function responseEncryption(deps: ResponseEncryptionDeps, client: StoredClient, response: EncryptedResponse): Promise<ResponseEncryption | undefined> {
  const fields = ENCRYPTED_RESPONSES[response];
  const alg = client.metadata[fields.alg];
  if (typeof alg !== 'string') return undefined;
  const registeredEnc = client.metadata[fields.enc];
  const enc = typeof registeredEnc === 'string' ? registeredEnc : DEFAULT_CONTENT_ENCRYPTION_ALG;
  if (isSymmetricKeyManagementAlg(alg)) return { alg, enc, key: clientSecretKey(deps, client, response, alg, enc) };
  return { alg, enc, ...(await clientPublicKey(deps, client, response, alg)) };
}

/**
 * A compact JWE of `plaintext`. A signed JWT inside is a nested JWT, announced by `cty: JWT`
 * (RFC 7519 §5.2); a bare claims set makes an encrypted JWT and needs no `cty`.
 */
export async function encryptResponse(encryption: ResponseEncryption, plaintext: string, nested: boolean): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({
      alg: encryption.alg,
      enc: encryption.enc,
      ...(nested ? { cty: 'JWT' } : {}),
      ...(encryption.kid !== undefined ? { kid: encryption.kid } : {}),
    })
    .encrypt(encryption.key);
}
