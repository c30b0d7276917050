import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuthError } from '../../src/http/oauth-error.js';
import { fetchJson } from '../../src/outbound/fetch-json.js';
import { needsClientSecret, validateClientMetadata } from '../../src/registration/validate-metadata.js';
import { KeyServer } from '../support/key-server.js';

const outbound = { allowedHosts: new Set(['keys.internal:8443']), timeoutMs: 2000, maxBytes: 64 * 1024 };
const policy = {
  scopesSupported: ['openid', 'profile', 'email', 'api:read'],
  outboundAllowedHosts: outbound.allowedHosts,
  serverSigningAlgs: ['ES256', 'RS256'],
  // the real outbound fetcher; the sector documents below are served on loopback, allow-listed by port
  fetchDocument: async (url: string) => (await fetchJson(url, outbound)).body,
};
const web = { redirect_uris: ['https://rp.example/cb'] };
/** A sector_identifier_uri document listing the redirect URIs of rp.example and app.example. */
const sectorDocument = new KeyServer();

let es256: Record<string, unknown>;
let rsa2048: Record<string, unknown>;
let rsa1024: Record<string, unknown>;
let es256Private: Record<string, unknown>;
let ed25519: Record<string, unknown>;

beforeAll(async () => {
  es256 = { ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)), kid: 'ec-1' };
  const ec = await generateKeyPair('ES256', { extractable: true });
  es256Private = await exportJWK(ec.privateKey);
  rsa2048 = { ...(await exportJWK((await generateKeyPair('RS256', { modulusLength: 2048, extractable: true })).publicKey)), kid: 'rsa-1' };
  // jose refuses to make a short RSA key; node:crypto will, which is what an attacker would use
  rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  ed25519 = await exportJWK((await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })).publicKey);
  await sectorDocument.start();
  sectorDocument.body = ['https://rp.example/cb', 'https://app.example/cb'];
  outbound.allowedHosts.add(sectorDocument.host);
});
afterAll(async () => {
  await sectorDocument.stop();
});

async function refusal(input: Record<string, unknown>): Promise<OAuthError> {
  try {
    await validateClientMetadata(input, policy);
  } catch (error) {
    if (error instanceof OAuthError) return error;
    throw error;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

/**
 * Each rule: a request it accepts and one it refuses, with the error code and a fragment of the
 * description that names the field. Keys are built lazily so generated JWKs can be used.
 */
interface Rule {
  rule: string;
  accepts: () => Record<string, unknown>;
  refuses: () => Record<string, unknown>;
  error: string;
  mentions: string;
}

const rules: Rule[] = [
  // request shape
  { rule: 'known field types are enforced', accepts: () => ({ ...web, client_name: 'A' }), refuses: () => ({ ...web, client_name: 42 }), error: 'invalid_client_metadata', mentions: 'client_name' },
  { rule: 'text must not be only white space', accepts: () => ({ ...web, client_name: ' A ' }), refuses: () => ({ ...web, client_name: '   ' }), error: 'invalid_client_metadata', mentions: 'client_name' },
  { rule: 'no NUL characters (PostgreSQL cannot store them)', accepts: () => ({ ...web, client_name: 'a b' }), refuses: () => ({ ...web, client_name: 'a\u0000b' }), error: 'invalid_client_metadata', mentions: 'NUL' },
  { rule: 'no unpaired surrogates', accepts: () => ({ ...web, software_id: '\ud83d\ude00' }), refuses: () => ({ ...web, software_id: '\ud800' }), error: 'invalid_client_metadata', mentions: 'surrogate' },
  { rule: 'no NUL inside jwks either', accepts: () => ({ ...web, jwks: { keys: [es256] } }), refuses: () => ({ ...web, jwks: { keys: [{ ...es256, kid: 'a\u0000' }] } }), error: 'invalid_client_metadata', mentions: 'NUL' },
  { rule: 'no nesting deeper than metadata needs', accepts: () => ({ ...web, jwks: { keys: [{ ...es256, x5c: ['MIIB'] }] } }), refuses: () => ({ ...web, jwks: { keys: [{ ...es256, extra: [[[[[[[['deep']]]]]]]] }] } }), error: 'invalid_client_metadata', mentions: 'nested more than 8 levels' },
  { rule: 'strings must not be empty', accepts: () => ({ ...web, software_id: 'x' }), refuses: () => ({ ...web, software_id: '' }), error: 'invalid_client_metadata', mentions: 'software_id' },
  { rule: 'enumerated values only', accepts: () => ({ ...web, application_type: 'web' }), refuses: () => ({ ...web, application_type: 'desktop' }), error: 'invalid_client_metadata', mentions: 'application_type desktop is not supported by this server; must be one of: web, native' },
  { rule: 'grant types from the supported list', accepts: () => ({ ...web, grant_types: ['authorization_code', 'client_credentials'] }), refuses: () => ({ ...web, grant_types: ['authorization_code', 'password'] }), error: 'invalid_client_metadata', mentions: 'grant_types/1 password is not supported' },
  { rule: 'implicit is not served (RFC 9700 §2.1.2)', accepts: () => ({ ...web }), refuses: () => ({ ...web, grant_types: ['implicit'], response_types: ['id_token'] }), error: 'invalid_client_metadata', mentions: 'grant_types/0 implicit is not supported' },
  { rule: 'refresh_token needs authorization_code beside it (refresh tokens come from code exchanges)', accepts: () => ({ ...web, grant_types: ['authorization_code', 'refresh_token'] }), refuses: () => ({ ...web, grant_types: ['client_credentials', 'refresh_token'], response_types: [] }), error: 'invalid_client_metadata', mentions: 'grant_types refresh_token requires authorization_code' },
  { rule: 'grant_types must not be empty', accepts: () => ({ ...web, grant_types: ['authorization_code'] }), refuses: () => ({ ...web, grant_types: [] }), error: 'invalid_client_metadata', mentions: 'grant_types' },
  // response types and grant types agree
  { rule: 'response type code needs authorization_code', accepts: () => ({ ...web, response_types: ['code'], grant_types: ['authorization_code'] }), refuses: () => ({ ...web, response_types: ['code'], grant_types: ['client_credentials'] }), error: 'invalid_client_metadata', mentions: 'requires grant_types to include authorization_code' },
  { rule: 'response type id_token is not served', accepts: () => ({ ...web, response_types: ['code'] }), refuses: () => ({ ...web, response_types: ['id_token'] }), error: 'invalid_client_metadata', mentions: "'id_token' is not supported" },
  { rule: 'hybrid response types are not served', accepts: () => ({ ...web, response_types: ['code'] }), refuses: () => ({ ...web, response_types: ['code id_token'] }), error: 'invalid_client_metadata', mentions: "'code id_token' is not supported" },
  { rule: 'no response type returns an access token (RFC 9700 §2.1.2)', accepts: () => ({ ...web, response_types: ['code'] }), refuses: () => ({ ...web, response_types: ['code token'] }), error: 'invalid_client_metadata', mentions: 'code token' },
  { rule: 'unknown response types are refused', accepts: () => ({ ...web, response_types: ['code'] }), refuses: () => ({ ...web, response_types: ['code', 'magic'] }), error: 'invalid_client_metadata', mentions: 'response_types' },
  { rule: 'authorization endpoint grants need a response type', accepts: () => ({ ...web, response_types: ['code'] }), refuses: () => ({ ...web, response_types: [] }), error: 'invalid_client_metadata', mentions: 'response_types' },
  // redirect URIs
  { rule: 'redirect_uris required for authorization_code', accepts: () => ({ ...web }), refuses: () => ({ client_name: 'no redirect' }), error: 'invalid_redirect_uri', mentions: 'redirect_uris is required' },
  { rule: 'redirect_uris required for authorization_code', accepts: () => ({ ...web }), refuses: () => ({ grant_types: ['authorization_code'] }), error: 'invalid_redirect_uri', mentions: 'redirect_uris' },
  { rule: 'redirect URIs must be absolute', accepts: () => web, refuses: () => ({ redirect_uris: ['/callback'] }), error: 'invalid_redirect_uri', mentions: 'redirect_uris[0] is not an absolute URI' },
  { rule: 'redirect URIs must not have a fragment', accepts: () => web, refuses: () => ({ redirect_uris: ['https://rp.example/cb#frag'] }), error: 'invalid_redirect_uri', mentions: 'fragment' },
  { rule: 'web: http only on loopback', accepts: () => ({ redirect_uris: ['http://localhost:3000/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb'] }), refuses: () => ({ redirect_uris: ['http://rp.example/cb'] }), error: 'invalid_redirect_uri', mentions: 'loopback' },
  { rule: 'web: custom schemes are for native clients', accepts: () => ({ application_type: 'native', redirect_uris: ['com.example.app:/cb'] }), refuses: () => ({ redirect_uris: ['com.example.app:/cb'] }), error: 'invalid_redirect_uri', mentions: 'must use https for a web client' },
  { rule: 'native: http only on loopback', accepts: () => ({ application_type: 'native', redirect_uris: ['http://127.0.0.1:51004/cb'] }), refuses: () => ({ application_type: 'native', redirect_uris: ['http://app.example/cb'] }), error: 'invalid_redirect_uri', mentions: 'loopback' },
  { rule: 'native: https not on loopback', accepts: () => ({ application_type: 'native', redirect_uris: ['https://app.example/cb'] }), refuses: () => ({ application_type: 'native', redirect_uris: ['https://localhost/cb'] }), error: 'invalid_redirect_uri', mentions: 'loopback' },
  ...['javascript:alert(1)', 'data:text/html,x', 'vbscript:msgbox', 'blob:https://rp.example/x', 'file:///etc/passwd', 'about:blank'].map(
    (uri): Rule => ({ rule: `forbidden scheme ${uri.split(':')[0]}`, accepts: () => ({ application_type: 'native', redirect_uris: ['com.example.app:/cb'] }), refuses: () => ({ application_type: 'native', redirect_uris: [uri] }), error: 'invalid_redirect_uri', mentions: 'forbidden scheme' }),
  ),
  { rule: 'redirect URIs are ASCII (RFC 3986)', accepts: () => ({ redirect_uris: ['https://xn--exmple-cua.example/cb'] }), refuses: () => ({ redirect_uris: ['https://exämple.example/cb'] }), error: 'invalid_redirect_uri', mentions: 'ASCII' },
  { rule: 'redirect URIs are stored as checked: normalised form only', accepts: () => ({ redirect_uris: ['https://rp.example/cb'] }), refuses: () => ({ redirect_uris: ['https://rp.example/a/../cb'] }), error: 'invalid_redirect_uri', mentions: 'normalised form (https://rp.example/cb)' },
  { rule: 'redirect URI schemes are lower case', accepts: () => ({ redirect_uris: ['https://rp.example/cb'] }), refuses: () => ({ redirect_uris: ['HTTPS://RP.EXAMPLE/cb'] }), error: 'invalid_redirect_uri', mentions: 'normalised' },
  { rule: 'redirect URIs have their slashes', accepts: () => ({ redirect_uris: ['http://localhost/cb'] }), refuses: () => ({ redirect_uris: ['http:localhost/cb'] }), error: 'invalid_redirect_uri', mentions: 'normalised' },
  { rule: 'native: private-use schemes are reverse domain names', accepts: () => ({ application_type: 'native', redirect_uris: ['com.example.app:/cb'] }), refuses: () => ({ application_type: 'native', redirect_uris: ['myapp:/cb'] }), error: 'invalid_redirect_uri', mentions: 'reverse-domain' },
  { rule: 'native: no network schemes in disguise', accepts: () => ({ application_type: 'native', redirect_uris: ['com.example.app:/cb'] }), refuses: () => ({ application_type: 'native', redirect_uris: ['ftp://evil.example/cb'] }), error: 'invalid_redirect_uri', mentions: 'reverse-domain' },
  { rule: 'redirect URIs carry no credentials', accepts: () => web, refuses: () => ({ redirect_uris: ['https://user:pw@rp.example/cb'] }), error: 'invalid_redirect_uri', mentions: 'credentials' },
  { rule: 'post_logout_redirect_uris follow the redirect rules', accepts: () => ({ ...web, post_logout_redirect_uris: ['https://rp.example/bye'] }), refuses: () => ({ ...web, post_logout_redirect_uris: ['javascript:alert(1)'] }), error: 'invalid_client_metadata', mentions: 'post_logout_redirect_uris[0]' },
  // other URIs
  { rule: 'client_uri is absolute http(s)', accepts: () => ({ ...web, client_uri: 'http://rp.example/' }), refuses: () => ({ ...web, client_uri: 'ftp://rp.example/' }), error: 'invalid_client_metadata', mentions: 'client_uri' },
  { rule: 'logo_uri is not javascript:', accepts: () => ({ ...web, logo_uri: 'https://rp.example/logo.png' }), refuses: () => ({ ...web, logo_uri: 'javascript:alert(1)' }), error: 'invalid_client_metadata', mentions: 'logo_uri' },
  { rule: 'policy_uri and tos_uri are absolute', accepts: () => ({ ...web, policy_uri: 'https://rp.example/p', tos_uri: 'https://rp.example/t' }), refuses: () => ({ ...web, tos_uri: 'terms.html' }), error: 'invalid_client_metadata', mentions: 'tos_uri' },
  { rule: 'initiate_login_uri is https', accepts: () => ({ ...web, initiate_login_uri: 'https://rp.example/login' }), refuses: () => ({ ...web, initiate_login_uri: 'http://rp.example/login' }), error: 'invalid_client_metadata', mentions: 'initiate_login_uri must use https' },
  { rule: 'jwks_uri is https', accepts: () => ({ ...web, jwks_uri: 'https://rp.example/jwks' }), refuses: () => ({ ...web, jwks_uri: 'http://rp.example/jwks' }), error: 'invalid_client_metadata', mentions: 'jwks_uri must use https' },
  { rule: 'jwks_uri on loopback is refused (SSRF)', accepts: () => ({ ...web, jwks_uri: 'https://rp.example/jwks' }), refuses: () => ({ ...web, jwks_uri: 'https://127.0.0.1/jwks' }), error: 'invalid_client_metadata', mentions: 'jwks_uri points at a private' },
  { rule: 'jwks_uri on a private address is refused (SSRF)', accepts: () => ({ ...web, jwks_uri: 'https://[2001:4860::1]/jwks' }), refuses: () => ({ ...web, jwks_uri: 'https://10.0.0.1/jwks' }), error: 'invalid_client_metadata', mentions: 'internal' },
  { rule: 'jwks_uri at the metadata address is refused (SSRF)', accepts: () => ({ ...web, jwks_uri: 'https://8.8.8.8/jwks' }), refuses: () => ({ ...web, jwks_uri: 'https://169.254.169.254/latest' }), error: 'invalid_client_metadata', mentions: 'internal' },
  { rule: 'jwks_uri on IPv6 loopback or ULA is refused (SSRF)', accepts: () => ({ ...web, jwks_uri: 'https://rp.example/jwks' }), refuses: () => ({ ...web, jwks_uri: 'https://[fd00:ec2::254]/jwks' }), error: 'invalid_client_metadata', mentions: 'internal' },
  { rule: 'jwks_uri on localhost is refused (SSRF)', accepts: () => ({ ...web, jwks_uri: 'https://rp.example/jwks' }), refuses: () => ({ ...web, jwks_uri: 'https://localhost/jwks' }), error: 'invalid_client_metadata', mentions: 'localhost' },
  { rule: 'an allow-listed jwks_uri host may use http', accepts: () => ({ ...web, jwks_uri: 'http://keys.internal:8443/jwks' }), refuses: () => ({ ...web, jwks_uri: 'http://keys.internal:9999/jwks' }), error: 'invalid_client_metadata', mentions: 'https' },
  // request objects: /authorize refuses them, so registration refuses what would describe them
  { rule: 'request_uris are refused (request_uri_not_supported)', accepts: () => ({ ...web, request_uris: null }), refuses: () => ({ ...web, request_uris: ['https://rp.example/r'] }), error: 'invalid_client_metadata', mentions: 'request_uris is not supported' },
  { rule: 'request_object_signing_alg is refused (request_not_supported)', accepts: () => ({ ...web }), refuses: () => ({ ...web, request_object_signing_alg: 'RS256' }), error: 'invalid_client_metadata', mentions: 'request_object_signing_alg is not supported' },
  { rule: 'request_object_encryption_alg is refused', accepts: () => ({ ...web }), refuses: () => ({ ...web, request_object_encryption_alg: 'RSA-OAEP-256' }), error: 'invalid_client_metadata', mentions: 'request_object_encryption_alg is not supported' },
  { rule: 'request_object_encryption_enc is refused', accepts: () => ({ ...web }), refuses: () => ({ ...web, request_object_encryption_enc: 'A128GCM' }), error: 'invalid_client_metadata', mentions: 'request_object_encryption_enc is not supported' },
  // contacts, languages
  { rule: 'contacts are e-mail addresses', accepts: () => ({ ...web, contacts: ['ops@rp.example'] }), refuses: () => ({ ...web, contacts: ['not an address'] }), error: 'invalid_client_metadata', mentions: 'contacts' },
  { rule: 'language tags must be BCP 47', accepts: () => ({ ...web, 'client_name#ja-Jpan-JP': 'クライアント' }), refuses: () => ({ ...web, 'client_name#not a tag!': 'x' }), error: 'invalid_client_metadata', mentions: 'client_name#not a tag!' },
  { rule: 'language-tagged URIs follow their URI rule', accepts: () => ({ ...web, 'logo_uri#fr': 'https://rp.example/fr.png' }), refuses: () => ({ ...web, 'logo_uri#fr': 'ftp://rp.example/fr.png' }), error: 'invalid_client_metadata', mentions: 'logo_uri#fr' },
  // keys and authentication
  { rule: 'jwks and jwks_uri are mutually exclusive', accepts: () => ({ ...web, jwks: { keys: [es256] } }), refuses: () => ({ ...web, jwks: { keys: [es256] }, jwks_uri: 'https://rp.example/jwks' }), error: 'invalid_client_metadata', mentions: 'mutually exclusive' },
  { rule: 'private_key_jwt needs keys', accepts: () => ({ ...web, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://rp.example/jwks' }), refuses: () => ({ ...web, token_endpoint_auth_method: 'private_key_jwt' }), error: 'invalid_client_metadata', mentions: 'requires jwks or jwks_uri' },
  { rule: 'jwks holds public keys only', accepts: () => ({ ...web, jwks: { keys: [es256] } }), refuses: () => ({ ...web, jwks: { keys: [es256Private] } }), error: 'invalid_client_metadata', mentions: "private key member 'd'" },
  { rule: 'jwks holds no symmetric keys', accepts: () => ({ ...web, jwks: { keys: [rsa2048] } }), refuses: () => ({ ...web, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }), error: 'invalid_client_metadata', mentions: 'symmetric' },
  { rule: 'jwks keys must import', accepts: () => ({ ...web, jwks: { keys: [ed25519] } }), refuses: () => ({ ...web, jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }] } }), error: 'invalid_client_metadata', mentions: 'jwks: key 0' },
  { rule: 'jwks key alg must be supported', accepts: () => ({ ...web, jwks: { keys: [{ ...es256, alg: 'ES256' }] } }), refuses: () => ({ ...web, jwks: { keys: [{ ...es256, alg: 'ES256K' }] } }), error: 'invalid_client_metadata', mentions: "'alg'" },
  { rule: 'jwks RSA keys are at least 2048 bits', accepts: () => ({ ...web, jwks: { keys: [rsa2048] } }), refuses: () => ({ ...web, jwks: { keys: [rsa1024] } }), error: 'invalid_client_metadata', mentions: '2048' },
  { rule: 'private_key_jwt needs a signing key', accepts: () => ({ ...web, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...rsa2048, use: 'sig' }] } }), refuses: () => ({ ...web, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...rsa2048, use: 'enc' }] } }), error: 'invalid_client_metadata', mentions: 'no signing key' },
  { rule: 'a key\'s use and alg agree', accepts: () => ({ ...web, jwks: { keys: [{ ...rsa2048, use: 'enc', alg: 'RSA-OAEP-256' }] } }), refuses: () => ({ ...web, jwks: { keys: [{ ...rsa2048, use: 'enc', alg: 'RS256' }] } }), error: 'invalid_client_metadata', mentions: 'for signing' },
  { rule: 'encryption needs a key of the right type', accepts: () => ({ ...web, id_token_encrypted_response_alg: 'RSA-OAEP', jwks: { keys: [rsa2048] } }), refuses: () => ({ ...web, id_token_encrypted_response_alg: 'RSA-OAEP', jwks: { keys: [ed25519] } }), error: 'invalid_client_metadata', mentions: 'no encryption key' },
  { rule: 'x5u is refused (no second URL to fetch)', accepts: () => ({ ...web, jwks: { keys: [es256] } }), refuses: () => ({ ...web, jwks: { keys: [{ ...es256, x5u: 'https://rp.example/cert' }] } }), error: 'invalid_client_metadata', mentions: 'x5u' },
  { rule: 'x5c holds certificates', accepts: () => ({ ...web, jwks: { keys: [es256] } }), refuses: () => ({ ...web, jwks: { keys: [{ ...es256, x5c: ['not base64!'] }] } }), error: 'invalid_client_metadata', mentions: 'x5c' },
  { rule: 'language tags are case-insensitive: no duplicates', accepts: () => ({ ...web, 'client_name#en': 'A', 'client_name#fr': 'B' }), refuses: () => ({ ...web, 'client_name#en': 'A', 'client_name#EN': 'B' }), error: 'invalid_client_metadata', mentions: 'case-insensitive' },
  { rule: 'jwks kids are unique', accepts: () => ({ ...web, jwks: { keys: [es256, rsa2048] } }), refuses: () => ({ ...web, jwks: { keys: [es256, { ...rsa2048, kid: 'ec-1' }] } }), error: 'invalid_client_metadata', mentions: 'repeats the kid' },
  { rule: 'jwks must not be empty', accepts: () => ({ ...web, jwks: { keys: [es256] } }), refuses: () => ({ ...web, jwks: { keys: [] } }), error: 'invalid_client_metadata', mentions: 'jwks' },
  { rule: 'token_endpoint_auth_signing_alg never none', accepts: () => ({ ...web, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS256' }), refuses: () => ({ ...web, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'none' }), error: 'invalid_client_metadata', mentions: 'token_endpoint_auth_signing_alg' },
  { rule: 'client_secret_jwt takes HMAC algorithms only', accepts: () => ({ ...web, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS512' }), refuses: () => ({ ...web, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'RS256' }), error: 'invalid_client_metadata', mentions: 'client_secret_jwt' },
  { rule: 'private_key_jwt takes asymmetric algorithms only', accepts: () => ({ ...web, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [es256] } }), refuses: () => ({ ...web, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'HS256', jwks: { keys: [es256] } }), error: 'invalid_client_metadata', mentions: 'private_key_jwt' },
  { rule: 'signing alg only with a JWT method', accepts: () => ({ ...web, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS256' }), refuses: () => ({ ...web, token_endpoint_auth_method: 'client_secret_basic', token_endpoint_auth_signing_alg: 'HS256' }), error: 'invalid_client_metadata', mentions: 'only meaningful' },
  { rule: 'registered keys must fit the pinned algorithm', accepts: () => ({ ...web, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS256', jwks: { keys: [rsa2048] } }), refuses: () => ({ ...web, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'PS256', jwks: { keys: [es256] } }), error: 'invalid_client_metadata', mentions: 'no signing key usable' },
  { rule: 'client_credentials needs a confidential client', accepts: () => ({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }), refuses: () => ({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }), error: 'invalid_client_metadata', mentions: 'client_credentials' },
  // encryption
  { rule: 'an encrypted response enc needs its alg', accepts: () => ({ ...web, id_token_encrypted_response_alg: 'A256KW', id_token_encrypted_response_enc: 'A256GCM' }), refuses: () => ({ ...web, id_token_encrypted_response_enc: 'A256GCM' }), error: 'invalid_client_metadata', mentions: 'id_token_encrypted_response_enc requires id_token_encrypted_response_alg' },
  { rule: 'encrypting to the client needs its keys', accepts: () => ({ ...web, userinfo_encrypted_response_alg: 'RSA-OAEP-256', jwks: { keys: [rsa2048] } }), refuses: () => ({ ...web, userinfo_encrypted_response_alg: 'RSA-OAEP-256' }), error: 'invalid_client_metadata', mentions: 'requires jwks or jwks_uri' },
  { rule: 'no RSA1_5 key management', accepts: () => ({ ...web, id_token_encrypted_response_alg: 'dir' }), refuses: () => ({ ...web, id_token_encrypted_response_alg: 'RSA1_5' }), error: 'invalid_client_metadata', mentions: 'id_token_encrypted_response_alg' },
  // signing algorithms of responses
  { rule: 'id_token_signed_response_alg RS256 (the default) or ES256: the server holds keys for those', accepts: () => ({ ...web, id_token_signed_response_alg: 'RS256', userinfo_signed_response_alg: 'ES256' }), refuses: () => ({ ...web, id_token_signed_response_alg: 'PS256' }), error: 'invalid_client_metadata', mentions: 'id_token_signed_response_alg PS256 is not supported: this server signs with ES256, RS256 (id_token_signing_alg_values_supported)' },
  { rule: 'id_token_signed_response_alg never HMAC: ID tokens are signed with server keys', accepts: () => ({ ...web, id_token_signed_response_alg: 'ES256' }), refuses: () => ({ ...web, id_token_signed_response_alg: 'HS256' }), error: 'invalid_client_metadata', mentions: 'id_token_signed_response_alg HS256' },
  { rule: 'userinfo_signed_response_alg only an algorithm the server holds a key for', accepts: () => ({ ...web, userinfo_signed_response_alg: 'RS256' }), refuses: () => ({ ...web, userinfo_signed_response_alg: 'EdDSA' }), error: 'invalid_client_metadata', mentions: 'userinfo_signed_response_alg EdDSA is not supported: this server signs with ES256, RS256 (userinfo_signing_alg_values_supported)' },
  { rule: 'id_token_signed_response_alg never none', accepts: () => ({ ...web, id_token_signed_response_alg: 'ES256' }), refuses: () => ({ ...web, id_token_signed_response_alg: 'none' }), error: 'invalid_client_metadata', mentions: 'id_token_signed_response_alg' },
  // numbers, booleans, scope
  { rule: 'default_max_age is a non-negative integer', accepts: () => ({ ...web, default_max_age: 0 }), refuses: () => ({ ...web, default_max_age: -1 }), error: 'invalid_client_metadata', mentions: 'default_max_age' },
  { rule: 'default_max_age is not fractional', accepts: () => ({ ...web, default_max_age: 3600 }), refuses: () => ({ ...web, default_max_age: 1.5 }), error: 'invalid_client_metadata', mentions: 'default_max_age' },
  { rule: 'require_auth_time is a boolean', accepts: () => ({ ...web, require_auth_time: true }), refuses: () => ({ ...web, require_auth_time: 'yes' }), error: 'invalid_client_metadata', mentions: 'require_auth_time' },
  { rule: 'scope values must be offered', accepts: () => ({ ...web, scope: 'openid api:read' }), refuses: () => ({ ...web, scope: 'openid admin' }), error: 'invalid_client_metadata', mentions: 'admin' },
  { rule: 'scope is space-separated tokens', accepts: () => ({ ...web, scope: 'openid email' }), refuses: () => ({ ...web, scope: 'openid  email' }), error: 'invalid_client_metadata', mentions: 'scope' },
  // subject type and sector identifier (OIDC Core §8.1, OIDC Registration §5)
  { rule: 'subject_type public or pairwise', accepts: () => ({ ...web, subject_type: 'pairwise' }), refuses: () => ({ ...web, subject_type: 'anonymous' }), error: 'invalid_client_metadata', mentions: 'subject_type anonymous is not supported by this server; must be one of: public, pairwise' },
  { rule: 'pairwise: redirect_uris on one host, else a sector_identifier_uri', accepts: () => ({ redirect_uris: ['https://rp.example/cb', 'https://rp.example:8443/other'], subject_type: 'pairwise' }), refuses: () => ({ redirect_uris: ['https://rp.example/cb', 'https://app.example/cb'], subject_type: 'pairwise' }), error: 'invalid_client_metadata', mentions: 'subject_type pairwise needs a sector_identifier_uri: the redirect_uris are on several hosts (rp.example, app.example)' },
  { rule: 'pairwise: redirect_uris on two hosts with a sector_identifier_uri listing both', accepts: () => ({ redirect_uris: ['https://rp.example/cb', 'https://app.example/cb'], subject_type: 'pairwise', sector_identifier_uri: sectorDocument.url('/sector.json') }), refuses: () => ({ redirect_uris: ['https://rp.example/cb', 'https://elsewhere.example/cb'], subject_type: 'pairwise', sector_identifier_uri: sectorDocument.url('/sector.json') }), error: 'invalid_client_metadata', mentions: 'sector_identifier_uri does not list the redirect_uris https://elsewhere.example/cb' },
  { rule: 'pairwise: a redirect URI without a host gives no sector', accepts: () => ({ application_type: 'native', redirect_uris: ['com.example.app://callback/cb'], subject_type: 'pairwise' }), refuses: () => ({ application_type: 'native', redirect_uris: ['com.example.app:/cb'], subject_type: 'pairwise' }), error: 'invalid_client_metadata', mentions: 'redirect_uri com.example.app:/cb has no host' },
  { rule: 'pairwise: a client without redirect_uris needs a sector_identifier_uri', accepts: () => ({ grant_types: ['client_credentials'], subject_type: 'pairwise', sector_identifier_uri: sectorDocument.url('/sector.json') }), refuses: () => ({ grant_types: ['client_credentials'], subject_type: 'pairwise' }), error: 'invalid_client_metadata', mentions: 'subject_type pairwise needs redirect_uris or a sector_identifier_uri' },
  { rule: 'sector_identifier_uri is https', accepts: () => ({ ...web, sector_identifier_uri: sectorDocument.url('/sector.json') }), refuses: () => ({ ...web, sector_identifier_uri: 'http://rp.example/sector.json' }), error: 'invalid_client_metadata', mentions: 'sector_identifier_uri must use https' },
  { rule: 'sector_identifier_uri on loopback is refused (SSRF)', accepts: () => ({ ...web, sector_identifier_uri: sectorDocument.url('/sector.json') }), refuses: () => ({ ...web, sector_identifier_uri: 'https://127.0.0.1/sector.json' }), error: 'invalid_client_metadata', mentions: 'sector_identifier_uri points at a private' },
  { rule: 'sector_identifier_uri at the metadata address is refused (SSRF)', accepts: () => ({ ...web, sector_identifier_uri: sectorDocument.url('/sector.json') }), refuses: () => ({ ...web, sector_identifier_uri: 'https://169.254.169.254/latest' }), error: 'invalid_client_metadata', mentions: 'internal' },
  // not yet implemented: refused, not ignored
  { rule: 'software statements are refused', accepts: () => web, refuses: () => ({ ...web, software_statement: 'eyJhbGciOiJSUzI1NiJ9.e30.sig' }), error: 'unapproved_software_statement', mentions: 'software statements' },
];

describe('client metadata rules', () => {
  it.each(rules)('$rule: accepted', async ({ accepts }) => {
    await expect(validateClientMetadata(accepts(), policy)).resolves.toBeTypeOf('object');
  });

  it.each(rules)('$rule: refused with $error', async ({ refuses, error, mentions }) => {
    const refused = await refusal(refuses());
    expect(refused.code).toBe(error);
    expect(refused.message).toContain(mentions);
  });
});

describe('normalisation', () => {
  it('applies the OIDC Registration defaults', async () => {
    expect(await validateClientMetadata(web, policy)).toEqual({
      redirect_uris: ['https://rp.example/cb'],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      application_type: 'web',
      subject_type: 'public',
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    });
  });

  it('drops unknown fields and server-issued fields', async () => {
    const metadata = await validateClientMetadata(
      { ...web, favourite_colour: 'blue', client_id: 'mine', client_secret: 'mine', registration_access_token: 'x', 'unknown#en': 'x', 'jwks_uri#fr': 'https://x' },
      policy,
    );
    for (const dropped of ['favourite_colour', 'client_id', 'client_secret', 'registration_access_token', 'unknown#en', 'jwks_uri#fr']) {
      expect(metadata).not.toHaveProperty([dropped]);
    }
  });

  it('treats null as absent and leaves out empty lists', async () => {
    const metadata = await validateClientMetadata({ ...web, client_name: null, contacts: [] }, policy);
    expect(metadata).not.toHaveProperty('client_name');
    expect(metadata).not.toHaveProperty('contacts');
  });

  it('removes duplicates from lists', async () => {
    const metadata = await validateClientMetadata({ redirect_uris: ['https://rp.example/cb', 'https://rp.example/cb'], contacts: ['a@rp.example', 'a@rp.example'] }, policy);
    expect(metadata.redirect_uris).toEqual(['https://rp.example/cb']);
    expect(metadata.contacts).toEqual(['a@rp.example']);
  });

  it('spells response types canonically', async () => {
    const metadata = await validateClientMetadata({ ...web, response_types: ['code', 'code'] }, policy);
    expect(metadata.response_types).toEqual(['code']);
  });

  it('gives a client_credentials-only client no response types instead of a contradiction', async () => {
    const metadata = await validateClientMetadata({ grant_types: ['client_credentials'] }, policy);
    expect(metadata).not.toHaveProperty('response_types');
    expect(metadata).not.toHaveProperty('redirect_uris');
  });

  it('defaults the enc of an encrypted response to A128CBC-HS256', async () => {
    const metadata = await validateClientMetadata({ ...web, id_token_encrypted_response_alg: 'A128KW' }, policy);
    expect(metadata.id_token_encrypted_response_enc).toBe('A128CBC-HS256');
  });

  it('keeps language-tagged variants beside their field, with canonical tags', async () => {
    const metadata = await validateClientMetadata({ ...web, 'client_name#FR': 'Client', client_name: 'Client', 'tos_uri#de': 'https://rp.example/agb', 'client_name#ja-jpan-jp': 'x' }, policy);
    expect(metadata['client_name#fr']).toBe('Client');
    expect(metadata['client_name#ja-Jpan-JP']).toBe('x');
    expect(metadata['tos_uri#de']).toBe('https://rp.example/agb');
  });
});

describe('which clients get a client_secret', () => {
  it.each([
    ['client_secret_basic', { ...web }, true],
    ['client_secret_post', { ...web, token_endpoint_auth_method: 'client_secret_post' }, true],
    ['client_secret_jwt', { ...web, token_endpoint_auth_method: 'client_secret_jwt' }, true],
    ['public client', { ...web, token_endpoint_auth_method: 'none' }, false],
    ['public client with symmetric UserInfo encryption', { ...web, token_endpoint_auth_method: 'none', userinfo_encrypted_response_alg: 'dir' }, true],
    ['public client with symmetric ID token encryption', { ...web, token_endpoint_auth_method: 'none', id_token_encrypted_response_alg: 'A128KW' }, true],
  ] as const)('%s: %s', async (_name, input, expected) => {
    expect(needsClientSecret(await validateClientMetadata(input, policy))).toBe(expected);
  });

  it('private_key_jwt: no secret', async () => {
    const metadata = await validateClientMetadata({ ...web, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [es256] } }, policy);
    expect(needsClientSecret(metadata)).toBe(false);
  });
});
