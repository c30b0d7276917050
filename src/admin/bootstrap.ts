import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import type { Logger } from 'pino';
import type { AdminCredentials } from '../admin-client/types.js';
import { SYSTEM_CONTEXT, type ChangeContext } from '../audit/audit.js';
import type { Config } from '../config/config.js';
import { createSecretBox } from '../crypto/secret-box.js';
import { randomToken } from '../crypto/random.js';
import { AuditRepository } from '../storage/audit-repository.js';
import { ClientRepository } from '../storage/client-repository.js';
import type { Database } from '../storage/database.js';
import { inTransaction } from '../storage/transaction.js';
import { createClient } from './clients.js';
import { metadataPolicyOf } from '../registration/validate-metadata.js';

/** Where the server writes the first admin's credentials in embedded mode. */
export const ADMIN_CREDENTIALS_FILE = 'admin-credentials.json';

/**
 * Creates an admin client that authenticates with private_key_jwt (ES256) and returns its
 * credentials: the only copy of the private key. Works on the database directly, for the first
 * admin, before any admin token can exist.
 */
export async function bootstrapAdminClient(db: Database, config: Config, context: ChangeContext): Promise<AdminCredentials> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomToken(96);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const created = await createClient(
    {
      clients: new ClientRepository(db),
      audit: new AuditRepository(db),
      transaction: inTransaction(db),
      secrets: createSecretBox(config.secretsKeys),
      issuer: config.issuer,
      policy: metadataPolicyOf(config),
      clientSecretTtlSeconds: config.registration.clientSecretTtlSeconds,
      tokenDefaults: config.tokens,
      now: () => Math.floor(Date.now() / 1000),
      clientChanged: () => undefined,
    },
    {
      client_name: 'oidc-registrar administrator',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [publicJwk] },
      admin: true,
    },
    context,
    'bootstrap',
  );
  return { issuer: config.issuer, client_id: created.client_id, private_jwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' } };
}

/** Writes credentials readable by the owner only; never over an existing file. */
export function writeCredentialsFile(path: string, credentials: AdminCredentials): void {
  writeFileSync(path, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

/**
 * Embedded mode: the server holds the database, so the CLI cannot bootstrap beside it. On the
 * first start (no credentials file yet, no bootstrap client yet) the server makes the first
 * admin and writes its credentials into DATA_DIR, so `npm start` then the CLI needs no other step.
 */
export async function bootstrapEmbeddedAdmin(db: Database, config: Config, log: Logger): Promise<void> {
  if (config.database.kind !== 'embedded' || !config.adminBootstrap) return;
  const file = join(config.database.dataDir, ADMIN_CREDENTIALS_FILE);
  if (existsSync(file)) return;
  if (await new ClientRepository(db).anyCreatedVia('bootstrap')) {
    log.info({ file }, `an admin client was bootstrapped before but ${file} is gone; stop the server and run: oidc-registrar admin bootstrap --out FILE`);
    return;
  }
  // the server does this by itself: the audit entry's actor is `system`
  const credentials = await bootstrapAdminClient(db, config, SYSTEM_CONTEXT);
  writeCredentialsFile(file, credentials);
  log.warn({ file, client_id: credentials.client_id }, `wrote the first admin client's credentials to ${file}: the oidc-registrar CLI and TUI use it; keep it private (ADMIN_BOOTSTRAP=false turns this off)`);
}
