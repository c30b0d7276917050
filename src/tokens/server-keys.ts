import { randomBytes, type KeyObject } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { ServerSigningAlg } from '../config/config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { ServerKeyRepository, StoredServerKey } from '../storage/server-key-repository.js';
import { privateKeyFromJwk } from './compact-jws.js';

export interface ServerKeyPolicy {
  /** A key is held for each (SIGNING_KEY_ALGS), each with its own rotation. */
  algs: readonly ServerSigningAlg[];
  /** A new key is published this long before it signs. */
  activationDelaySeconds: number;
  /** 0: rotate only on demand (CLI). */
  rotationIntervalSeconds: number;
  /** An old key stays published this long after it stopped signing: the longest token life plus skew. */
  retentionSeconds: number;
}

interface LoadedKey {
  stored: StoredServerKey;
  publicKey: CryptoKey;
  /** Opened when loaded; undefined when the configured secrets keys cannot open it. */
  privateKey: KeyObject | undefined;
}

/** The seal context: binds each private key ciphertext to its kid. */
export const serverKeySealContext = (kid: string): string => `server-key:${kid}`;

/** A new key pair for `alg`, as JWKs. */
export async function generateServerKeyPair(alg: ServerSigningAlg): Promise<{ publicJwk: JWK; privateJwk: JWK }> {
  // RSA: 2048-bit moduli, stated rather than left to jose's default (SERVER_SIGNING_ALGS says why)
  const shape = alg === 'EdDSA' ? { crv: 'Ed25519' } : alg === 'RS256' || alg === 'PS256' ? { modulusLength: 2048 } : {};
  const pair = await generateKeyPair(alg, { extractable: true, ...shape });
  return { publicJwk: await exportJWK(pair.publicKey), privateJwk: await exportJWK(pair.privateKey) };
}

/** Makes a key pair for `alg`: the public JWK to publish and the private one to seal. */
export async function newServerKey(alg: ServerSigningAlg, secrets: SecretBox, now: number, activatesAt: number): Promise<StoredServerKey> {
  return sealServerKey(alg, await generateServerKeyPair(alg), secrets, now, activatesAt);
}

/** A key pair under a new kid, ready to store: the private JWK sealed, bound to the kid. */
export function sealServerKey(alg: ServerSigningAlg, pair: { publicJwk: JWK; privateJwk: JWK }, secrets: SecretBox, now: number, activatesAt: number): StoredServerKey {
  const kid = randomBytes(12).toString('base64url');
  const publicJwk = { ...pair.publicJwk, kid, alg, use: 'sig' };
  const privateJwk = { ...pair.privateJwk, kid, alg };
  return {
    kid,
    alg,
    publicJwk,
    privateCiphertext: secrets.seal(JSON.stringify(privateJwk), serverKeySealContext(kid)),
    createdAt: now,
    activatesAt,
  };
}

/**
 * The server's signing keys, shared through the database by every instance: one line of keys per
 * algorithm of SIGNING_KEY_ALGS. For each algorithm, the key that signs is the newest one of that
 * algorithm whose activation time has passed; keys are published from creation until every token
 * they signed has expired, so verifiers always know a key before they meet it.
 */
export class ServerKeys {
  private keys: LoadedKey[] = [];
  private loadedAt = 0;

  constructor(
    private readonly repository: ServerKeyRepository,
    private readonly secrets: SecretBox,
    private readonly policy: ServerKeyPolicy,
    private readonly now: () => number,
  ) {}

  /**
   * Makes the first key of each configured algorithm the database holds none of (a first start, or
   * an algorithm added to SIGNING_KEY_ALGS), then loads every key.
   *
   * An algorithm's first key signs at once, unlike a rotation: no token was ever signed with that
   * algorithm, so no verifier holds a cached key set it must be published in first, and one meeting
   * the new kid re-reads jwks_uri (jose's createRemoteJWKSet, so openid-client, does). The activation
   * delay protects the switch from one key to the next within an algorithm, which this is not.
   * The one case it does not cover: SIGNING_KEY_ALG moved to an algorithm new to the database signs
   * access tokens at once with a fresh key (README: add the algorithm first, switch later).
   */
  async start(): Promise<void> {
    const present = new Set((await this.repository.all()).map((key) => key.alg));
    for (const alg of this.policy.algs.filter((a) => !present.has(a))) {
      await this.repository.insertUnlessCreatedAfter(alg, Number.MIN_SAFE_INTEGER, () => newServerKey(alg, this.secrets, this.now(), this.now()));
    }
    await this.refresh();
  }

  /** Re-reads keys (another instance may have rotated), rotates when due, prunes expired ones. */
  async refresh(): Promise<void> {
    let stored = await this.repository.all();
    const interval = this.policy.rotationIntervalSeconds;
    if (interval > 0) {
      const now = this.now();
      const due = this.policy.algs.filter((alg) => now - Math.max(0, ...stored.filter((k) => k.alg === alg).map((k) => k.createdAt)) >= interval);
      for (const alg of due) {
        // re-checked under a lock: of instances that find rotation due together, one rotates
        await this.repository.insertUnlessCreatedAfter(alg, now - interval, () => newServerKey(alg, this.secrets, now, this.activationTime(alg, now)));
      }
      if (due.length > 0) stored = await this.repository.all();
    }
    const now = this.now();
    const expired = stored.filter((key) => this.unpublishedAt(key, stored) <= now).map((k) => k.kid);
    await this.repository.deleteMany(expired);
    const current = new Map(this.keys.map((k) => [k.stored.kid, k]));
    this.keys = await Promise.all(
      stored
        .filter((key) => !expired.includes(key.kid))
        .map(async (key) => current.get(key.kid) ?? { stored: key, publicKey: (await importJWK(key.publicJwk as JWK, key.alg)) as CryptoKey, privateKey: this.open(key) }),
    );
    this.loadedAt = now;
  }

  /**
   * When a key of `alg` made now starts signing: after the activation delay, and strictly after
   * the activation of that algorithm's newest key, so that which key signs never depends on a tie.
   */
  private activationTime(alg: string, now: number): number {
    const newest = Math.max(0, ...this.keys.filter((k) => k.stored.alg === alg).map((k) => k.stored.activatesAt));
    return Math.max(now + this.policy.activationDelaySeconds, newest + 1);
  }

  /** The algorithms keys are held for, in the configured order. */
  get algs(): readonly ServerSigningAlg[] {
    return this.policy.algs;
  }

  /**
   * Introduces a new key for each of `algs` (default: every configured algorithm), published now
   * (this instance's /jwks at once, others' within their refresh interval), signing after the
   * activation delay.
   */
  async rotate(
    algs: readonly ServerSigningAlg[] = this.policy.algs,
    insert: (keys: StoredServerKey[]) => Promise<void> = async (keys) => {
      for (const key of keys) await this.repository.insert(key);
    },
  ): Promise<StoredServerKey[]> {
    const unknown = algs.filter((alg) => !this.policy.algs.includes(alg));
    if (unknown.length > 0) throw new Error(`no server keys are held for ${unknown.join(', ')}`);
    const now = this.now();
    const keys = await Promise.all(algs.map((alg) => newServerKey(alg, this.secrets, now, this.activationTime(alg, now))));
    // an operator's rotation inserts through its own transaction, beside its audit entries
    await insert(keys);
    await this.refresh();
    return keys;
  }

  /** Seconds since keys were last read; the caller refreshes on a timer and on an unknown kid. */
  age(): number {
    return this.now() - this.loadedAt;
  }

  /**
   * A key sealed under a secrets key this instance does not have (another instance configured
   * with a different SECRETS_KEY made it) stays unopened: this instance cannot sign with it, and
   * says so through canSign() and the readiness check.
   */
  private open(key: StoredServerKey): KeyObject | undefined {
    try {
      return privateKeyFromJwk(JSON.parse(this.secrets.open(key.privateCiphertext, serverKeySealContext(key.kid))) as Record<string, unknown>);
    } catch {
      return undefined;
    }
  }

  /** The key of `alg` that signs now: the newest active one of that algorithm (keys are newest first). */
  private active(alg: ServerSigningAlg): LoadedKey | undefined {
    const now = this.now();
    return this.keys.find((k) => k.stored.alg === alg && k.stored.activatesAt <= now);
  }

  /** The key that signs `alg` now. Access tokens ask for SIGNING_KEY_ALG, ID tokens for the client's algorithm. */
  signingKey(alg: ServerSigningAlg): { kid: string; alg: ServerSigningAlg; key: KeyObject } {
    const active = this.active(alg);
    if (!active) throw new Error(`no active ${alg} server signing key${this.policy.algs.includes(alg) ? '' : ` (${alg} is not in SIGNING_KEY_ALGS)`}`);
    if (!active.privateKey) throw new Error(`server signing key ${active.stored.kid} cannot be opened with SECRETS_KEY or SECRETS_KEY_PREVIOUS`);
    return { kid: active.stored.kid, alg, key: active.privateKey };
  }

  /** Whether every configured algorithm can sign now (readiness). */
  canSign(): boolean {
    return this.policy.algs.every((alg) => this.active(alg)?.privateKey !== undefined);
  }

  /** A published key by kid, for verifying our own tokens. */
  verificationKey(kid: string): { alg: string; key: CryptoKey } | undefined {
    const found = this.keys.find((k) => k.stored.kid === kid);
    return found && { alg: found.stored.alg, key: found.publicKey };
  }

  /** The JWK Set served at jwks_uri: public members only. */
  publicJwks(): { keys: Record<string, unknown>[] } {
    return { keys: this.keys.map((k) => k.stored.publicJwk) };
  }

  /** The JWKS document as served: serialised once per key set, not once per request. */
  publicJwksBody(): Buffer {
    if (this.jwksBody?.keys !== this.keys) this.jwksBody = { keys: this.keys, body: Buffer.from(JSON.stringify(this.publicJwks())) };
    return this.jwksBody.body;
  }

  private jwksBody: { keys: readonly LoadedKey[]; body: Buffer } | undefined;

  /**
   * A key stops signing when a newer key of its algorithm activates, and leaves the JWKS a token
   * lifetime later. A key of an algorithm taken out of SIGNING_KEY_ALGS has no successor: it stays
   * published (its tokens may be live) until the algorithm returns or an operator deletes it.
   */
  private unpublishedAt(key: StoredServerKey, all: readonly StoredServerKey[]): number {
    const successor = all
      .filter((k) => k.alg === key.alg)
      .filter((k) => k.activatesAt > key.activatesAt || (k.activatesAt === key.activatesAt && k.createdAt > key.createdAt))
      .filter((k) => k.activatesAt <= this.now())
      .reduce<number | undefined>((earliest, k) => (earliest === undefined || k.activatesAt < earliest ? k.activatesAt : earliest), undefined);
    return successor === undefined ? Number.POSITIVE_INFINITY : successor + this.policy.retentionSeconds;
  }
}
