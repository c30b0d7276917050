import { ConfigError } from '../config/config.js';
import { sealedKeyId, type SecretBox } from './secret-box.js';

/** A ciphertext from the database, with the context it was sealed in and what it is. */
export interface SealedValue {
  kind: 'server signing key' | 'client secret';
  sealed: string;
  context: string;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * Start-up refuses to serve with secrets keys that do not open the stored data: a well-formed
 * but wrong SECRETS_KEY (a new `openssl rand` pasted in a new shell) would otherwise start
 * normally and fail every token request. Throws a ConfigError naming the variables.
 */
export function assertSecretsKeysOpen(secrets: SecretBox, values: readonly SealedValue[]): void {
  const failed = values.filter((value) => {
    try {
      secrets.open(value.sealed, value.context);
      return false;
    } catch {
      return true;
    }
  });
  if (failed.length === 0) return;

  const byKey = new Map<string, Map<SealedValue['kind'], number>>();
  for (const value of failed) {
    const id = sealedKeyId(value.sealed) ?? 'unknown';
    const counts = byKey.get(id) ?? new Map<SealedValue['kind'], number>();
    counts.set(value.kind, (counts.get(value.kind) ?? 0) + 1);
    byKey.set(id, counts);
  }
  const found = [...byKey]
    .map(([id, counts]) => `${[...counts].map(([kind, n]) => plural(n, kind)).join(' and ')} sealed under key id ${id}${secrets.keyIds.includes(id) ? ' (configured, but the ciphertext does not open: corrupted or altered)' : ''}`)
    .join('; ');
  const [current, ...previous] = secrets.keyIds;
  throw new ConfigError(
    'SECRETS_KEY',
    `the configured keys do not open the data in this database: ${found}. ` +
      `SECRETS_KEY has key id ${current}${previous.length > 0 ? ` and SECRETS_KEY_PREVIOUS has ${previous.join(', ')}` : ' and SECRETS_KEY_PREVIOUS is empty'}. ` +
      'Set SECRETS_KEY to the key this data was sealed with (embedded: the one in DATA_DIR/secrets.key), or add that key to SECRETS_KEY_PREVIOUS',
  );
}
