import type { ServerKeyInfo } from '../admin-client/types.js';
import type { ChangeContext } from '../audit/audit.js';
import type { InTransaction } from '../storage/transaction.js';
import type { StoredServerKey } from '../storage/server-key-repository.js';
import type { ServerKeys } from '../tokens/server-keys.js';

/** The states a server key is described in, in the order of its life (the OpenAPI document lists them). */
export const SERVER_KEY_STATES = Object.keys({ pending: true, active: true, retired: true } satisfies Record<ServerKeyInfo['state'], true>) as ServerKeyInfo['state'][];

/** Keys newest first: the first whose activation has passed signs; older ones are retired. */
export function describeKeys(keys: readonly StoredServerKey[], now: number): ServerKeyInfo[] {
  const signing = keys.find((key) => key.activatesAt <= now);
  return keys.map((key) => ({
    kid: key.kid,
    alg: key.alg,
    created_at: key.createdAt,
    activates_at: key.activatesAt,
    state: key.activatesAt > now ? 'pending' : key === signing ? 'active' : 'retired',
  }));
}

export async function listKeys(all: () => Promise<StoredServerKey[]>, now: number): Promise<{ keys: ServerKeyInfo[] }> {
  return { keys: describeKeys(await all(), now) };
}

/** A new key, published now and signing after SIGNING_KEY_ACTIVATION_DELAY; its audit entry in the same transaction. */
export async function rotateKey(keys: ServerKeys, transaction: InTransaction, context: ChangeContext, now: number): Promise<ServerKeyInfo> {
  const key = await keys.rotate((created) =>
    transaction(async (repos) => {
      await repos.serverKeys.insert(created);
      await repos.audit.record({ action: 'key.rotate', context, details: { kid: created.kid, alg: created.alg } });
    }),
  );
  return describeKeys([key], now)[0]!;
}
