import { randomBytes, type KeyObject } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { ServerSigningAlg } from '../config/config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { ServerKeyRepository, StoredServerKey } from '../storage/server-key-repository.js';
import { privateKeyFromJwk } from './compact-jws.js';

export interface ServerKeyPolicy {
  alg: ServerSigningAlg;
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

/** Makes a key pair for `alg`: the public JWK to publish and the private one to seal. */
export async function newServerKey(alg: ServerSigningAlg, secrets: SecretBox, now: number, activatesAt: number): Promise<StoredServerKey> {
  const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const kid = randomBytes(12).toString('base64url');
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
  const privateJwk = { ...(await exportJWK(pair.privateKey)), kid, alg };
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
 * The server's signing keys, shared through the database by every instance. The key that signs is
 * the newest one whose activation time has passed; keys are published from creation until every
 * token they signed has expired, so verifiers always know a key before they meet it.
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
   * First start: one key, active at once. Then loads whatever the database holds; when the
   * operator changed SIGNING_KEY_ALG, a key of the new algorithm is introduced as a rotation.
   */
  async start(): Promise<void> {
    await this.repository.insertUnlessCreatedAfter(Number.MIN_SAFE_INTEGER, () => newServerKey(this.policy.alg, this.secrets, this.now(), this.now()));
    await this.refresh();
    if (this.keys[0]?.stored.alg !== this.policy.alg) await this.rotate();
  }

  /** Re-reads keys (another instance may have rotated), rotates when due, prunes expired ones. */
  async refresh(): Promise<void> {
    let stored = await this.repository.all();
    const interval = this.policy.rotationIntervalSeconds;
    if (interval > 0 && this.now() - (stored[0]?.createdAt ?? 0) >= interval) {
      const now = this.now();
      // re-checked under a lock: of instances that find rotation due together, one rotates
      await this.repository.insertUnlessCreatedAfter(now - interval, () => newServerKey(this.policy.alg, this.secrets, now, this.activationTime(now)));
      stored = await this.repository.all();
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
   * When a key made now starts signing: after the activation delay, and strictly after the newest
   * key's activation, so that which key signs never depends on a tie.
   */
  private activationTime(now: number): number {
    const newest = Math.max(0, ...this.keys.map((k) => k.stored.activatesAt));
    return Math.max(now + this.policy.activationDelaySeconds, newest + 1);
  }

  /**
   * Introduces a new key, published now (this instance's /jwks at once, others' within their
   * refresh interval), signing after the activation delay.
   */
  async rotate(insert: (key: StoredServerKey) => Promise<void> = (key) => this.repository.insert(key)): Promise<StoredServerKey> {
    const now = this.now();
    const key = await newServerKey(this.policy.alg, this.secrets, now, this.activationTime(now));
    // an operator's rotation inserts through its own transaction, beside its audit entry
    await insert(key);
    await this.refresh();
    return key;
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

  /** The key that signs now: the newest active one. */
  signingKey(): { kid: string; alg: ServerSigningAlg; key: KeyObject } {
    const now = this.now();
    const active = this.keys.find((k) => k.stored.activatesAt <= now);
    if (!active) throw new Error('no active server signing key');
    if (!active.privateKey) throw new Error(`server signing key ${active.stored.kid} cannot be opened with SECRETS_KEY or SECRETS_KEY_PREVIOUS`);
    return { kid: active.stored.kid, alg: active.stored.alg as ServerSigningAlg, key: active.privateKey };
  }

  /** Whether tokens can be signed now (readiness). */
  canSign(): boolean {
    const active = this.keys.find((k) => k.stored.activatesAt <= this.now());
    return active?.privateKey !== undefined;
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

  /** A key stops signing when a newer key activates, and leaves the JWKS a token lifetime later. */
  private unpublishedAt(key: StoredServerKey, all: readonly StoredServerKey[]): number {
    const successor = all
      .filter((k) => k.activatesAt > key.activatesAt || (k.activatesAt === key.activatesAt && k.createdAt > key.createdAt))
      .filter((k) => k.activatesAt <= this.now())
      .reduce<number | undefined>((earliest, k) => (earliest === undefined || k.activatesAt < earliest ? k.activatesAt : earliest), undefined);
    return successor === undefined ? Number.POSITIVE_INFINITY : successor + this.policy.retentionSeconds;
  }
}
