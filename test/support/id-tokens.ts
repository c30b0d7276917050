import { importJWK, SignJWT, type JWK } from 'jose';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { ServerKeyRepository } from '../../src/storage/server-key-repository.js';
import { serverKeySealContext } from '../../src/tokens/server-keys.js';
import { TEST_SECRETS_KEY, type TestServer } from './test-server.js';

export interface IdTokenClaims {
  aud: string | string[];
  sub: string;
  sid?: string;
  iss?: string;
  iat?: number;
  exp?: number;
  [claim: string]: unknown;
}

/**
 * An ID token as the authorization flow will issue it: a JWT signed with the server's own active
 * key of `alg` (opened from the database with the test secrets key), iss = issuer, aud = client_id,
 * sub = user id, sid = the session's public id. Claims given override the defaults.
 */
export async function mintIdToken(server: Pick<TestServer, 'db' | 'config'>, claims: IdTokenClaims, alg = 'RS256', header: { typ?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const keys = (await new ServerKeyRepository(server.db).all()).filter((key) => key.alg === alg && key.activatesAt <= now);
  const key = keys.sort((a, b) => b.activatesAt - a.activatesAt)[0];
  if (!key) throw new Error(`no active ${alg} server key`);
  const secrets = createSecretBox([Buffer.from(TEST_SECRETS_KEY, 'base64')]);
  const privateJwk = JSON.parse(secrets.open(key.privateCiphertext, serverKeySealContext(key.kid))) as JWK;
  return new SignJWT({ iss: server.config.issuer, iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(await importJWK(privateJwk, alg));
}
