import type { ServerKeyInfo } from '../admin-client/types.js';
import { SERVER_SIGNING_ALGS, type ServerSigningAlg } from '../config/config.js';
import { invalidRequest } from '../http/oauth-error.js';
import type { ChangeContext } from '../audit/audit.js';
import type { InTransaction } from '../storage/transaction.js';
import type { StoredServerKey } from '../storage/server-key-repository.js';
import type { ServerKeys } from '../tokens/server-keys.js';

/** The states a server key is described in, in the order of its life (the OpenAPI document lists them). */
export const SERVER_KEY_STATES = Object.keys({ pending: true, active: true, retired: true } satisfies Record<ServerKeyInfo['state'], true>) as ServerKeyInfo['state'][];

/** Keys newest first: for each algorithm, the first whose activation has passed signs; older ones are retired. */
export function describeKeys(keys: readonly StoredServerKey[], now: number): ServerKeyInfo[] {
  const signing = new Set(SERVER_SIGNING_ALGS.map((alg) => keys.find((key) => key.alg === alg && key.activatesAt <= now)));
  return keys.map((key) => ({
    kid: key.kid,
    alg: key.alg,
    created_at: key.createdAt,
    activates_at: key.activatesAt,
    state: key.activatesAt > now ? 'pending' : signing.has(key) ? 'active' : 'retired',
  }));
}

export async function listKeys(all: () => Promise<StoredServerKey[]>, now: number): Promise<{ keys: ServerKeyInfo[] }> {
  return { keys: describeKeys(await all(), now) };
}

/** The body of POST /admin/keys/rotate: empty (every algorithm of SIGNING_KEY_ALGS) or `{ "alg": ... }` (that one). */
export function algorithmsToRotate(body: Readonly<Record<string, unknown>>, held: readonly ServerSigningAlg[]): ServerSigningAlg[] {
  const unknown = Object.keys(body).filter((member) => member !== 'alg');
  if (unknown.length > 0) throw invalidRequest(`unknown member ${unknown.join(', ')}: the body may hold alg only`);
  if (body.alg === undefined) return [...held];
  const alg = held.find((candidate) => candidate === body.alg);
  if (alg === undefined) throw invalidRequest(`alg must be one of the algorithms the server holds keys for (SIGNING_KEY_ALGS): ${held.join(', ')}`);
  return [alg];
}

/**
 * A new key for each of `algs`, published now and signing after SIGNING_KEY_ACTIVATION_DELAY;
 * the keys and an audit entry for each in one transaction.
 */
export async function rotateKeys(keys: ServerKeys, algs: readonly ServerSigningAlg[], transaction: InTransaction, context: ChangeContext, now: number): Promise<{ keys: ServerKeyInfo[] }> {
  const added = await keys.rotate(algs, (created) =>
    transaction(async (repos) => {
      for (const key of created) {
        await repos.serverKeys.insert(key);
        await repos.audit.record({ action: 'key.rotate', context, details: { kid: key.kid, alg: key.alg } });
      }
    }),
  );
  return { keys: describeKeys(added, now) };
}
