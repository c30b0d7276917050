import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import { bootstrapAdminClient } from '../../src/admin/bootstrap.js';
import { cliChangeContext } from '../../src/cli/local-database.js';
import type { AdminCredentials } from '../../src/admin-client/types.js';
import type { TestServer } from './test-server.js';
import { ASSERTION_TYPE, postForm } from './client-auth.js';

/** The first admin of a test server, made as `oidc-registrar admin bootstrap` makes it. */
export function bootstrapAdmin(server: TestServer): Promise<AdminCredentials> {
  return bootstrapAdminClient(server.db, server.config, cliChangeContext());
}

/** An access token for `credentials` with `scope`, by private_key_jwt, as the CLI gets one. */
export async function adminToken(server: TestServer, credentials: AdminCredentials, scope = 'admin:read admin:write'): Promise<string> {
  const key = await importJWK(credentials.private_jwk, 'ES256');
  const assertion = await new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: credentials.private_jwk.kid })
    .setIssuer(credentials.client_id)
    .setSubject(credentials.client_id)
    .setAudience(server.config.issuer)
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(key);
  const res = await postForm(server, '/token', { grant_type: 'client_credentials', scope, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
  if (res.status !== 200) throw new Error(`admin token refused: ${res.text}`);
  return res.body.access_token as string;
}
