import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { createLogger } from './logging.js';
import { openDatabase } from './storage/open-database.js';

/** Loads config, builds the app, listens, and shuts down gracefully. Nothing else. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`oidc-registrar: configuration error: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const db = await openDatabase(config, logger);
  const app = await buildApp(config, { db, logger });
  app.addHook('onClose', async () => db.close());

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    // close() stops accepting, waits for in-flight requests, then runs onClose (the database).
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const address = await app.listen({ port: config.port, host: config.host });
  logger.info(
    {
      issuer: config.issuer,
      address,
      storage: config.database.kind === 'postgres' ? 'postgresql' : `embedded (${config.database.dataDir})`,
      registration: config.registration.initialAccessToken === undefined ? 'open' : 'initial access token required',
    },
    'oidc-registrar listening',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`oidc-registrar: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
