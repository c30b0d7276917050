import type { AdminCredentials } from '../admin-client/types.js';
import type { Config } from '../config/config.js';
import type { Database } from '../storage/database.js';

/**
 * PLACEHOLDER in the cli branch, replaced by the real function from main at merge: inserts a
 * private_key_jwt admin client (created_via "bootstrap") and returns its credentials.
 */
export async function bootstrapAdminClient(_db: Database, _config: Config): Promise<AdminCredentials> {
  throw new Error('not implemented yet');
}
