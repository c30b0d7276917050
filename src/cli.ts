import { ConfigError, loadConfig } from './config/config.js';
import { createSecretBox } from './crypto/secret-box.js';
import { createLogger } from './logging.js';
import { openDatabase } from './storage/open-database.js';
import { ServerKeyRepository } from './storage/server-key-repository.js';
import { ServerKeys } from './tokens/server-keys.js';

const USAGE = `usage: oidc-registrar-cli keys list | keys rotate

  keys list     the server's signing keys: kid, alg, created, activates
  keys rotate   add a new signing key: published now, signing after SIGNING_KEY_ACTIVATION_DELAY

The same environment variables as the server select the database (DATABASE_URL or DATA_DIR).`;

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** Operator commands against the same database and keys the server uses. */
async function main(args: readonly string[]): Promise<number> {
  const [group, command] = args;
  if (group !== 'keys' || (command !== 'list' && command !== 'rotate')) {
    process.stderr.write(`${USAGE}\n`);
    return 64; // EX_USAGE
  }
  const config = loadConfig();
  const db = await openDatabase(config, createLogger('warn'));
  try {
    const now = () => Math.floor(Date.now() / 1000);
    const repository = new ServerKeyRepository(db);
    const keys = new ServerKeys(repository, createSecretBox(config.secretsKeys), {
      alg: config.signingKeys.alg,
      activationDelaySeconds: config.signingKeys.activationDelaySeconds,
      rotationIntervalSeconds: 0,
      retentionSeconds: config.tokens.lifetimeSeconds + config.clientAuth.clockSkewSeconds,
    }, now);
    await keys.start();
    if (command === 'rotate') {
      const key = await keys.rotate();
      process.stdout.write(`added ${key.kid} (${key.alg}): published now, signs from ${iso(key.activatesAt)}\n`);
    }
    for (const key of await repository.all()) {
      const state = key.activatesAt > now() ? 'pending' : 'published';
      process.stdout.write(`${key.kid}\t${key.alg}\tcreated ${iso(key.createdAt)}\tactivates ${iso(key.activatesAt)}\t${state}\n`);
    }
    return 0;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`oidc-registrar-cli: ${error instanceof ConfigError ? `configuration error: ${error.message}` : error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
