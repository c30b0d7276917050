import { bootstrapEmbeddedAdmin } from './admin/bootstrap.js';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { checkPortIsFree, isAddressInUse, PortInUseError } from './http/listen-port.js';
import { createLogger } from './logging.js';
import { openDatabase } from './storage/open-database.js';

const SHUTDOWN_GRACE_MS = 10_000;

/** Loads config, builds the app, listens, and shuts down gracefully. Nothing else. */
async function start(): Promise<void> {
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
  if (config.generatedSecretsKeyFile !== undefined) {
    logger.warn({ file: config.generatedSecretsKeyFile }, `generated the key that encrypts client secrets at rest in ${config.generatedSecretsKeyFile}: back it up with the data, without it stored client secrets cannot be read`);
  }
  // before the database: a first start would create and migrate it, only to fail at listen
  await checkPortIsFree(config.port, config.host);
  if (config.metrics.enabled && config.metrics.listener !== undefined) await checkPortIsFree(config.metrics.listener.port, config.metrics.listener.host, 'METRICS_PORT');
  const db = await openDatabase(config, logger).catch((error: unknown) => {
    const cause = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new Error(config.database.kind === 'postgres' ? `DATABASE_URL: cannot open the database (${cause})` : `DATA_DIR: cannot open the embedded database (${cause})`);
  });
  const app = await buildApp(config, { db, logger }).catch(async (error: unknown) => {
    await db.close().catch(() => undefined); // releases the embedded database's lock too
    throw error;
  });
  await bootstrapEmbeddedAdmin(db, config, logger).catch(async (error: unknown) => {
    await app.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw error;
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    // In-flight requests get this long; then their connections are cut so the process can exit.
    setTimeout(() => {
      logger.warn('requests still open after the shutdown grace period; closing their connections');
      app.server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS).unref();
    // close() stops accepting and waits for in-flight requests and handlers; then the database
    app.close().then(() => db.close()).then(
      () => {
        logger.info('shut down');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const address = await app.listen({ port: config.port, host: config.host }).catch(async (error: unknown) => {
    // taken since the check: release the database (and the DATA_DIR lock) before exiting
    await app.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw isAddressInUse(error) ? new PortInUseError(config.port, config.host) : error;
  });
  logger.info(
    {
      issuer: config.issuer,
      address,
      storage: config.database.kind === 'postgres' ? 'postgresql' : `embedded (${config.database.dataDir})`,
      registration: config.registration.initialAccessToken === undefined ? 'open' : 'initial access token required',
      metrics: !config.metrics.enabled ? 'off' : config.metrics.listener === undefined ? 'GET /metrics' : `http://${config.metrics.listener.host}:${config.metrics.listener.port}/metrics`,
    },
    'oidc-registrar listening',
  );
}

/**
 * `node dist/server.js` and `oidc-registrar serve`: resolves once the server listens; it exits the
 * process itself, with 0 after a graceful shutdown, 78 for a bad configuration or a taken PORT,
 * 1 when it cannot start.
 */
export async function runServer(): Promise<void> {
  await start().catch(exitOnStartFailure);
}

function exitOnStartFailure(error: unknown): never {
  // a value that turns out wrong only against the data (SECRETS_KEY) is a configuration error too
  if (error instanceof ConfigError) {
    process.stderr.write(`oidc-registrar: configuration error: ${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  if (error instanceof PortInUseError) {
    process.stderr.write(`oidc-registrar: ${error.message}\n`);
    process.exit(78); // EX_CONFIG, as for a bad variable: the operator chooses another PORT
  }
  process.stderr.write(`oidc-registrar: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
