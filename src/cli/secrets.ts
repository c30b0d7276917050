import type { Config } from '../config/config.js';
import { keyUsage, resealAll, SEALED_TABLES, type KeyUsage } from '../crypto/reseal.js';
import { createSecretBox } from '../crypto/secret-box.js';
import type { Database } from '../storage/database.js';
import { SealedValuesRepository, type SealedTable } from '../storage/sealed-values-repository.js';

const LABEL: Record<SealedTable, string> = { server_keys: 'server signing keys', clients: 'client secrets' };

function usageLines(usage: readonly KeyUsage[]): string[] {
  return usage.map(({ keyId, configuredAs, rows }) => {
    const counts = SEALED_TABLES.map((table) => `${LABEL[table]} ${rows[table]}`).join(', ');
    const total = rows.server_keys + rows.clients;
    const note =
      configuredAs === undefined
        ? '  NOT CONFIGURED: these rows cannot be opened'
        : configuredAs !== 'SECRETS_KEY' && total === 0
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
  }
  const usage = await keyUsage(repository, secrets);
  out('rows sealed under each key:');
  for (const line of usageLines(usage)) out(line);
  const stranded = usage.some((u) => u.configuredAs === undefined && u.rows.server_keys + u.rows.clients > 0);
  return stranded ? 1 : 0;
}
