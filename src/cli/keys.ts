import type { Config } from '../config/config.js';
import { createSecretBox } from '../crypto/secret-box.js';
import { assertSecretsKeysOpen } from '../crypto/secrets-key-check.js';
import type { Database } from '../storage/database.js';
import { ServerKeyRepository } from '../storage/server-key-repository.js';
import { ServerKeys, serverKeySealContext } from '../tokens/server-keys.js';

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** `keys list` and `keys rotate`: the server's signing keys. */
export async function keysCommand(command: 'list' | 'rotate', config: Config, db: Database, out: (line: string) => void): Promise<number> {
  const now = () => Math.floor(Date.now() / 1000);
  const repository = new ServerKeyRepository(db);
  const secrets = createSecretBox(config.secretsKeys);
  // a rotation under the wrong SECRETS_KEY would seal a key that no server can open
  assertSecretsKeysOpen(secrets, (await repository.all()).map((key) => ({ kind: 'server signing key', sealed: key.privateCiphertext, context: serverKeySealContext(key.kid) })));
  const keys = new ServerKeys(repository, secrets, {
    alg: config.signingKeys.alg,
    activationDelaySeconds: config.signingKeys.activationDelaySeconds,
    rotationIntervalSeconds: 0,
    retentionSeconds: config.tokens.lifetimeSeconds + config.clientAuth.clockSkewSeconds,
  }, now);
  await keys.start();
  if (command === 'rotate') {
    const key = await keys.rotate();
    out(`added ${key.kid} (${key.alg}): published now, signs from ${iso(key.activatesAt)}`);
  }
  for (const key of await repository.all()) {
    const state = key.activatesAt > now() ? 'pending' : 'published';
    out(`${key.kid}\t${key.alg}\tcreated ${iso(key.createdAt)}\tactivates ${iso(key.activatesAt)}\t${state}`);
  }
  return 0;
}
