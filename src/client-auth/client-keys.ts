import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { StoredClient } from '../storage/client-repository.js';
import type { JwkSet, RemoteJwksCache } from './remote-jwks.js';

/** A key lookup for jose plus, for remote sets, a way to look again after the client rotated. */
export interface ClientKeySet {
  getKey: JWTVerifyGetKey;
  /** Re-fetches a jwks_uri (within its cool-down); undefined for inline keys or when refused. */
  refresh(): Promise<ClientKeySet | undefined>;
}

const localSet = (keys: JwkSet): JWTVerifyGetKey => createLocalJWKSet(keys as unknown as JSONWebKeySet);

/**
 * The public keys a client authenticates with, from its registered `jwks` or `jwks_uri`. Parsed
 * sets are cached per client and version: an update (on any instance) bumps the version, so a
 * stale set is never used; `forget` drops one at once on update or delete here.
 */
export class ClientKeys {
  private readonly inline = new Map<string, { version: number; set: ClientKeySet }>();
  /** The client version each remote set was last used for: a newer version refetches it. */
  private readonly remoteVersions = new Map<string, number>();
  /** jose imports keys lazily and keeps them inside a set: reuse a set while its keys are current. */
  private readonly remoteSets = new WeakMap<JwkSet, ClientKeySet>();

  constructor(private readonly remote: RemoteJwksCache) {}

  async forClient(client: StoredClient): Promise<ClientKeySet | undefined> {
    const jwks = client.metadata.jwks as JwkSet | undefined;
    if (jwks !== undefined) {
      const cached = this.inline.get(client.clientId);
      if (cached && cached.version === client.version) return cached.set;
      const set: ClientKeySet = { getKey: localSet(jwks), refresh: async () => undefined };
      this.inline.set(client.clientId, { version: client.version, set });
      return set;
    }
    const uri = client.metadata.jwks_uri as string | undefined;
    if (uri === undefined) return undefined;
    // an update (here or on another instance) may mean the client rotated or revoked keys
    const seen = this.remoteVersions.get(client.clientId);
    if (seen !== undefined && seen !== client.version) this.remote.evict(uri);
    this.remoteVersions.set(client.clientId, client.version);
    return this.remoteSet(uri, await this.remote.get(uri));
  }

  /** Called when a client is updated or deleted on this instance. */
  forget(clientId: string, jwksUri?: string): void {
    this.inline.delete(clientId);
    this.remoteVersions.delete(clientId);
    if (jwksUri !== undefined) this.remote.evict(jwksUri);
  }

  private remoteSet(uri: string, keys: JwkSet): ClientKeySet {
    const known = this.remoteSets.get(keys);
    if (known) return known;
    const set: ClientKeySet = {
      getKey: localSet(keys),
      refresh: async () => {
        const newer = await this.remote.refetchForUnknownKid(uri);
        return newer && this.remoteSet(uri, newer);
      },
    };
    this.remoteSets.set(keys, set);
    return set;
  }
}
