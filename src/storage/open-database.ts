import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Database } from './database.js';
import { embeddedDatabaseExists, openEmbedded } from './embedded.js';
import { migrate } from './migrate.js';
import { connectPostgres } from './postgres.js';

/** Opens the configured database and brings its schema up to date. */
export async function openDatabase(config: Pick<Config, 'database'>, log: Logger): Promise<Database> {
  return (await openAndMigrate(config, log)).db;
}

/** openDatabase, also telling which migrations this call applied (`oidc-registrar migrate`). */
export async function openAndMigrate(config: Pick<Config, 'database'>, log: Logger): Promise<{ db: Database; applied: string[] }> {
  const started = Date.now();
  const dataDir = config.database.kind === 'embedded' ? config.database.dataDir : undefined;
  const creating = dataDir !== undefined && !embeddedDatabaseExists(dataDir);
  // a first start is silent for many seconds otherwise
  if (creating) log.info({ dataDir }, `creating the embedded database in ${dataDir} (first start only; this can take up to about 20 s)`);
  const db =
    config.database.kind === 'postgres'
      ? connectPostgres(config.database.url, config.database.poolSize, log)
      : await openEmbedded(config.database.dataDir);
  try {
    const applied = await migrate(db);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
    if (creating) log.info({ dataDir, ms: Date.now() - started }, 'embedded database created');
    return { db, applied };
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}
