import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Database } from './database.js';
import { openEmbedded } from './embedded.js';
import { migrate } from './migrate.js';
import { connectPostgres } from './postgres.js';

/** Opens the configured database and brings its schema up to date. */
export async function openDatabase(config: Pick<Config, 'database'>, log: Logger): Promise<Database> {
  const db =
    config.database.kind === 'postgres'
      ? connectPostgres(config.database.url, config.database.poolSize, log)
      : await openEmbedded(config.database.dataDir);
  try {
    const applied = await migrate(db);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
    return db;
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}
