import { serverKeySealContext } from '../tokens/server-keys.js';
import { SEALED_COLUMNS, type SealedTable, type SealedValuesRepository } from '../storage/sealed-values-repository.js';
import type { SecretBox } from './secret-box.js';

/** What each ciphertext was sealed with, as authenticated data: see SecretBox. */
const CONTEXT: Record<SealedTable, (id: string) => string> = {
  server_keys: serverKeySealContext,
  clients: (clientId) => clientId,
  previous_client_secrets: (clientId) => clientId,
};

export const SEALED_TABLES = Object.keys(SEALED_COLUMNS) as SealedTable[];

/** A count per kind of sealed value, all zero. */
const zeros = (): Record<SealedTable, number> => Object.fromEntries(SEALED_TABLES.map((table) => [table, 0])) as Record<SealedTable, number>;

export interface ResealReport {
  /** Rows moved onto the current key, per table. */
  resealed: Record<SealedTable, number>;
  /** Rows changed by a running server while they were being re-sealed: left as the server wrote them. */
  changedMeanwhile: Record<SealedTable, number>;
  /** Rows no configured key opens: they cannot be moved, and keep depending on a key that is gone. */
  unopenable: Record<SealedTable, number>;
}

/**
 * Moves every ciphertext sealed under SECRETS_KEY_PREVIOUS onto SECRETS_KEY, in batches of
 * `batchSize`, each batch one conditional UPDATE. Safe beside running servers (a row they change
 * meanwhile is left alone) and resumable: what is already under the current key is never read
 * again, so a run that stopped half-way is finished by running it again.
 */
export async function resealAll(
  repository: SealedValuesRepository,
  secrets: SecretBox,
  options: { batchSize: number; onBatch?: (table: SealedTable, resealedSoFar: number) => void },
): Promise<ResealReport> {
  const current = secrets.keyIds[0]!;
  const report: ResealReport = {
    resealed: zeros(),
    changedMeanwhile: zeros(),
    unopenable: zeros(),
  };
  for (const table of SEALED_TABLES) {
    let after = '';
    for (;;) {
      const rows = await repository.notSealedUnder(table, current, after, options.batchSize);
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const replacements: { id: string; from: string; to: string }[] = [];
      for (const row of rows) {
        const context = CONTEXT[table](row.id);
        let plaintext: string;
        try {
          plaintext = secrets.open(row.sealed, context);
        } catch {
          report.unopenable[table] += 1;
          continue;
        }
        replacements.push({ id: row.id, from: row.sealed, to: secrets.seal(plaintext, context) });
      }
      const replaced = await repository.replace(table, replacements);
      report.resealed[table] += replaced;
      report.changedMeanwhile[table] += replacements.length - replaced;
      options.onBatch?.(table, report.resealed[table]);
    }
  }
  return report;
}

export interface KeyUsage {
  keyId: string;
  /** `SECRETS_KEY`, `SECRETS_KEY_PREVIOUS #n`, or undefined for a key that is not configured. */
  configuredAs: string | undefined;
  rows: Record<SealedTable, number>;
}

/** How many rows depend on each key: configured keys first, in order, then unknown ones. */
export async function keyUsage(repository: SealedValuesRepository, secrets: SecretBox): Promise<KeyUsage[]> {
  const counts = {} as Record<SealedTable, Map<string, number>>;
  for (const table of SEALED_TABLES) counts[table] = await repository.countByKeyId(table);
  const seen = new Set(SEALED_TABLES.flatMap((table) => [...counts[table].keys()]));
  const ids = [...secrets.keyIds, ...[...seen].filter((id) => !secrets.keyIds.includes(id)).sort()];
  return ids.map((keyId) => {
    const index = secrets.keyIds.indexOf(keyId);
    return {
      keyId,
      configuredAs: index === 0 ? 'SECRETS_KEY' : index > 0 ? `SECRETS_KEY_PREVIOUS #${index}` : undefined,
      rows: Object.fromEntries(SEALED_TABLES.map((table) => [table, counts[table].get(keyId) ?? 0])) as Record<SealedTable, number>,
    };
  });
}
