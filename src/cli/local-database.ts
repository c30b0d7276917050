import { hostname, userInfo } from 'node:os';
import type { ChangeContext } from '../audit/audit.js';
import type { Config } from '../config/config.js';
import type { Database } from '../storage/database.js';

/**
 * Who works on the database through the CLI, for the audit trail: the OS user and host (there is
 * no admin client yet, and no request). A user without a passwd entry (containers) is its uid.
 */
export function cliChangeContext(): ChangeContext {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? `uid ${process.getuid?.() ?? 'unknown'}`;
  }
  return { actor: { type: 'cli', id: `${user}@${hostname()}` }, sourceAddress: null, requestId: null };
}

/**
 * The few commands that work on the database itself (admin bootstrap, migrate, secrets) take the
 * server's own configuration: DATABASE_URL or DATA_DIR, SECRETS_KEY. Loaded lazily, so that the
 * commands that only call the admin API start without the storage code.
 */
export async function withLocalDatabase<T>(work: (db: Database, config: Config, applied: readonly string[]) => Promise<T>): Promise<T> {
  const [{ loadConfig }, { createLogger }, { openAndMigrate }] = await Promise.all([
    import('../config/config.js'),
    import('../logging.js'),
    import('../storage/open-database.js'),
  ]);
  const config = loadConfig();
  // warnings only: the command prints its own result; first-start progress would be noise here
  const { db, applied } = await openAndMigrate(config, createLogger('warn'));
  try {
    return await work(db, config, applied);
  } finally {
    await db.close();
  }
}
