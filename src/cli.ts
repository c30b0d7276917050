import { keysCommand } from './cli/keys.js';
import { secretsCommand } from './cli/secrets.js';
import { ConfigError, loadConfig } from './config/config.js';
import { createLogger } from './logging.js';
import { openDatabase } from './storage/open-database.js';

const USAGE = `usage: oidc-registrar-cli <command>

  keys list                 the server's signing keys: kid, alg, created, activates
  keys rotate               add a new signing key: published now, signing after SIGNING_KEY_ACTIVATION_DELAY
  secrets status            how many stored rows depend on each secrets key
  secrets reseal [--batch-size N]
                            re-encrypt every client secret and signing key under SECRETS_KEY, so that
                            SECRETS_KEY_PREVIOUS can be dropped; safe beside running servers on
                            PostgreSQL, and run again to finish an interrupted run (default 500 rows a batch)

The same environment variables as the server select the database (DATABASE_URL or DATA_DIR) and
the keys (SECRETS_KEY, SECRETS_KEY_PREVIOUS). The embedded database allows one process at a time:
stop the server first.`;

const EX_USAGE = 64;

type Parsed = { group: 'keys'; command: 'list' | 'rotate' } | { group: 'secrets'; command: 'status' | 'reseal'; batchSize: number };

function parse(args: readonly string[]): Parsed | undefined {
  const [group, command, ...rest] = args;
  if (group === 'keys' && (command === 'list' || command === 'rotate') && rest.length === 0) return { group, command };
  if (group === 'secrets' && (command === 'status' || command === 'reseal')) {
    let batchSize = 500;
    if (command === 'reseal' && rest[0] === '--batch-size' && rest.length === 2) {
      batchSize = Number(rest[1]);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) return undefined;
    } else if (rest.length > 0) {
      return undefined;
    }
    return { group, command, batchSize };
  }
  return undefined;
}

/** Operator commands against the same database and keys the server uses. */
async function main(args: readonly string[]): Promise<number> {
  const parsed = parse(args);
  if (!parsed) {
    process.stderr.write(`${USAGE}\n`);
    return EX_USAGE;
  }
  const config = loadConfig();
  const db = await openDatabase(config, createLogger('warn'));
  const out = (line: string) => void process.stdout.write(`${line}\n`);
  try {
    return parsed.group === 'keys'
      ? await keysCommand(parsed.command, config, db, out)
      : await secretsCommand(parsed.command, config, db, out, parsed.batchSize);
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof ConfigError ? `configuration error: ${error.message}` : error instanceof Error ? error.message : String(error);
    process.stderr.write(`oidc-registrar-cli: ${message}\n`);
    process.exit(error instanceof ConfigError ? 78 : 1);
  },
);
