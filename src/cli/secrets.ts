import { InvalidArgumentError, type Command } from 'commander';
import type { ChangeContext } from '../audit/audit.js';
import type { Config } from '../config/config.js';
import { AuditRepository } from '../storage/audit-repository.js';
import { keyUsage, resealAll, SEALED_TABLES, type KeyUsage } from '../crypto/reseal.js';
import { createSecretBox } from '../crypto/secret-box.js';
import type { Database } from '../storage/database.js';
import { SealedValuesRepository, type SealedTable } from '../storage/sealed-values-repository.js';
import { cliChangeContext, withLocalDatabase } from './local-database.js';
import { CliExit } from './options.js';

const LABEL: Record<SealedTable, string> = {
  server_keys: 'server signing keys',
  clients: 'client secrets',
  previous_client_secrets: 'previous client secrets (grace periods)',
};
const total = (rows: Record<SealedTable, number>) => SEALED_TABLES.reduce((sum, table) => sum + rows[table], 0);

function usageLines(usage: readonly KeyUsage[]): string[] {
  return usage.map(({ keyId, configuredAs, rows }) => {
    const counts = SEALED_TABLES.map((table) => `${LABEL[table]} ${rows[table]}`).join(', ');
    const note =
      configuredAs === undefined
        ? '  NOT CONFIGURED: these rows cannot be opened'
        : configuredAs !== 'SECRETS_KEY' && total(rows) === 0
          ? '  nothing depends on it: it may be removed from SECRETS_KEY_PREVIOUS'
          : '';
    return `  ${keyId}  ${(configuredAs ?? 'unknown key').padEnd(24)}${counts}${note}`;
  });
}

/**
 * `secrets status`: how many rows depend on each key. `secrets reseal`: moves every row onto
 * SECRETS_KEY so that SECRETS_KEY_PREVIOUS can be dropped. Exits 1 while rows still depend on a
 * key that is not configured.
 */
export async function secretsCommand(
  command: 'status' | 'reseal',
  config: Config,
  db: Database,
  out: (line: string) => void,
  batchSize: number,
  context: ChangeContext = cliChangeContext(),
): Promise<number> {
  const secrets = createSecretBox(config.secretsKeys);
  const repository = new SealedValuesRepository(db);
  if (command === 'reseal') {
    out(`re-sealing under key id ${secrets.keyIds[0]!} (SECRETS_KEY), ${batchSize} rows per batch`);
    const report = await resealAll(repository, secrets, {
      batchSize,
      onBatch: (table, soFar) => out(`  ${LABEL[table]}: ${soFar} re-sealed so far`),
    });
    for (const table of SEALED_TABLES) {
      const changed = report.changedMeanwhile[table] > 0 ? `, ${report.changedMeanwhile[table]} changed by a running server meanwhile (already current)` : '';
      const unopenable = report.unopenable[table] > 0 ? `, ${report.unopenable[table]} that no configured key opens` : '';
      out(`${LABEL[table]}: ${report.resealed[table]} re-sealed${changed}${unopenable}`);
    }
    // one entry for the run, counts only: it is made of many batches (each its own transaction),
    // and the ciphertexts it moved are nobody's business but the database's
    await new AuditRepository(db).record({
      action: 'secrets.reseal',
      context,
      details: Object.fromEntries(
        SEALED_TABLES.flatMap((table) => [
          [`${table}_resealed`, report.resealed[table]],
          [`${table}_changed_meanwhile`, report.changedMeanwhile[table]],
          [`${table}_unopenable`, report.unopenable[table]],
        ]),
      ),
    });
  }
  const usage = await keyUsage(repository, secrets);
  out('rows sealed under each key:');
  for (const line of usageLines(usage)) out(line);
  const stranded = usage.some((u) => u.configuredAs === undefined && total(u.rows) > 0);
  return stranded ? 1 : 0;
}

function batchSize(value: string): number {
  const size = Number(value);
  if (!/^\d+$/.test(value) || size < 1 || size > 10_000) throw new InvalidArgumentError('expected a whole number from 1 to 10000');
  return size;
}

/** `secrets status|reseal`: on the database itself, with the server's SECRETS_KEY variables. */
export function registerSecretsCommands(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('client secrets and signing keys encrypted at rest: finish a SECRETS_KEY rotation (database, not the API)')
    .addHelpText(
      'after',
      '\nThe same environment variables as the server select the database (DATABASE_URL or DATA_DIR) and the keys\n' +
        '(SECRETS_KEY, SECRETS_KEY_PREVIOUS). The embedded database allows one process at a time: stop the server first.',
    );
  const run = (command: 'status' | 'reseal', size: number) =>
    withLocalDatabase(async (db, config) => {
      const out = (line: string) => void process.stdout.write(`${line}\n`);
      // exits 1 while rows depend on a key that is not configured: the table above says which
      if ((await secretsCommand(command, config, db, out, size)) !== 0) throw new CliExit(1);
    });

  secrets
    .command('status')
    .description('how many stored rows depend on each secrets key')
    .action(() => run('status', 500));
  secrets
    .command('reseal')
    .description(
      're-encrypt every client secret and signing key under SECRETS_KEY, so that SECRETS_KEY_PREVIOUS can be dropped; ' +
        'safe beside running servers on PostgreSQL, and run again to finish an interrupted run',
    )
    .option('--batch-size <n>', 'rows per batch, 1 to 10000', batchSize, 500)
    .action((options: { batchSize: number }) => run('reseal', options.batchSize));
}
