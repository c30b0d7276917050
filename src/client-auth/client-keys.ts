import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import type { StoredClient } from '../storage/client-repository.js';
import type { JwkSet, RemoteJwksCache } from './remote-jwks.js';

/** A key lookup for jose plus, for remote sets, a way to look again after the client rotated. */
export interface ClientKeySet {
  getKey: JWTVerifyGetKey;
  /** Re-fetches a jwks_uri (within its cool-down); undefined for inline keys or when refused. */
  refresh(): Promise<ClientKeySet | undefined>;
}

/** What is kept per client: the version it was derived from, and the parsed set or the URI. */
interface Entry {
  version: number;
  inline?: ClientKeySet;
  jwksUri?: string;
}

/** An entry is parsed again after this long even when it is in use. */
const ENTRY_MAX_AGE_MS = 3_600_000;

const localSet = (keys: JwkSet): JWTVerifyGetKey => createLocalJWKSet(keys as unknown as JSONWebKeySet);

/**
 * The public keys a client authenticates with, from its registered `jwks` or `jwks_uri`. Parsed
 * sets are cached per client and version, at most `maxClients` of them for at most an hour: an
 * update (on any instance) bumps the version, so a stale set is never used; `forget` drops one
 * at once on update or delete here, and `sweep` drops those changed or deleted elsewhere.
 */
export class ClientKeys {
  private readonly clients: LRUCache<string, Entry>;
  /** jose imports keys lazily and keeps them inside a set: reuse a set while its keys are current. */
  private readonly remoteSets = new WeakMap<JwkSet, ClientKeySet>();

  constructor(
    private readonly remote: RemoteJwksCache,
    maxClients: number,
  ) {
    this.clients = new LRUCache({ max: maxClients, ttl: ENTRY_MAX_AGE_MS });
  }

  async forClient(client: StoredClient): Promise<ClientKeySet | undefined> {
    const entry = this.clients.get(client.clientId);
    const jwks = client.metadata.jwks as JwkSet | undefined;
    if (jwks !== undefined) {
      if (entry?.inline && entry.version === client.version) return entry.inline;
      const set: ClientKeySet = { getKey: localSet(jwks), refresh: async () => undefined };
      this.clients.set(client.clientId, { version: client.version, inline: set });
      return set;
    }
    const uri = client.metadata.jwks_uri as string | undefined;
    if (uri === undefined) return undefined;
    this.noteRemote(client, uri, entry);
    return this.remoteSet(uri, await this.remote.get(uri));
  }

  /**
   * The client's public keys as JWKs, for encrypting to it: its `jwks`, or what its `jwks_uri`
   * serves, through the same cache (and version checks) as the keys it authenticates with.
   * `refetch` looks again, within the cool-down, when the set holds no key that fits.
   */
  async publicJwks(client: StoredClient): Promise<{ keys: JwkSet; refetch: () => Promise<JwkSet | undefined> } | undefined> {
    const jwks = client.metadata.jwks as JwkSet | undefined;
    if (jwks !== undefined) return { keys: jwks, refetch: async () => undefined };
    const uri = client.metadata.jwks_uri as string | undefined;
    if (uri === undefined) return undefined;
    this.noteRemote(client, uri, this.clients.get(client.clientId));
    return { keys: await this.remote.get(uri), refetch: () => this.remote.refetchForUnknownKid(uri) };
  }

  /** An update (here or on another instance) may mean the client rotated or revoked keys: fetch again. */
  private noteRemote(client: StoredClient, uri: string, entry: Entry | undefined): void {
    if (entry !== undefined && entry.version !== client.version) {
      if (entry.jwksUri !== undefined) this.remote.evict(entry.jwksUri);
      this.remote.evict(uri);
    }
    if (entry?.version !== client.version || entry.jwksUri !== uri) this.clients.set(client.clientId, { version: client.version, jwksUri: uri });
  }

  /** Called when a client is updated or deleted on this instance. */
  forget(clientId: string, jwksUri?: string): void {
    const entry = this.clients.get(clientId);
    this.clients.delete(clientId);
    if (entry?.jwksUri !== undefined) this.remote.evict(entry.jwksUri);
    if (jwksUri !== undefined) this.remote.evict(jwksUri);
  }

  /**
   * Drops entries of clients that another instance changed or deleted, given the stored version
   * of each cached client (absent: deleted). Called from a timer, never on a request.
   */
  async sweep(storedVersions: (clientIds: string[]) => Promise<Map<string, number>>): Promise<number> {
    const cached = [...this.clients.keys()];
    if (cached.length === 0) return 0;
    const versions = await storedVersions(cached);
    let dropped = 0;
    for (const clientId of cached) {
      const entry = this.clients.peek(clientId);
      if (entry !== undefined && versions.get(clientId) !== entry.version) {
        this.forget(clientId);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** How many clients' keys are held (bounded by maxClients). */
  get size(): number {
    return this.clients.size;
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
